"""Workers: the Celery app and its thin task, the job runner, post-processing and MP4 encoding.

``worker.celery_app`` is torch-free (the gateway uses it to enqueue); the rest loads models.
"""
