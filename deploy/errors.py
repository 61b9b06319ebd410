"""The one error type of the deploy command: its message is the whole line the user sees."""


class DeployError(Exception):
    """Something stopped the deployment; the message says what, and what to do about it."""


class InputError(DeployError):
    """An option or a missing API key: nothing was sent to Vast."""
