"""Kinora's shared core: settings, the job contract, job and key stores, object storage, the CLI.

Both the gateway (``app``) and the workers (``worker``) build on this package; it never imports torch.
"""

__version__ = "0.1.0"
