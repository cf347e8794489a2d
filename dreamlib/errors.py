"""Errors users can act on.

Every mistake a user can make (an unknown name, an impossible size, a missing dataset)
raises a subclass of :class:`DreamlibError` whose message names the culprit and the fix.
The command line prints that one line and exits non-zero; ``--debug`` shows the traceback.
"""


class DreamlibError(Exception):
    """Base class of every error caused by user input rather than by a bug."""


class ConfigError(DreamlibError, ValueError):
    """A model/run configuration that cannot be built (unknown name, bad size, ...)."""


def choice_error(what: str, value, choices) -> ConfigError:
    """The one message shape for 'value is not one of the allowed names'."""
    allowed = ", ".join(str(c) for c in choices)
    return ConfigError(f"unknown {what} {value!r}; choose one of: {allowed}")
