"""A reliable Redis Streams consumer for null-worker: one job per reservation."""
