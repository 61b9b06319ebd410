"""null-worker: a Vast.ai serverless worker that holds reservations for a queue consumer."""

__version__ = "0.1.0"
