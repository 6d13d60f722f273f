"""The HTTP gateway (FastAPI). It validates, stores and enqueues jobs; it never imports torch."""
