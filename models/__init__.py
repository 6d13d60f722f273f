"""Video diffusion pipelines and the model registry.

``models.registry`` is torch-free (the gateway validates requests with it); everything else here loads
torch and diffusers and is imported by workers only.
"""
