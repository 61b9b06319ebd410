"""A small stand-in for Vast's serverless control plane, for tests and local runs."""
