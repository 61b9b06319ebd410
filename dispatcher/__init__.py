"""Dispatcher: one Vast reservation per queued-or-running job of a Redis stream."""
