"""Errors the suite reports to the user as one clear line instead of a stack trace."""


class SuiteError(Exception):
    """A problem the user can fix (missing file, bad config value, missing weights).

    The CLI prints the message and exits with status 2; library callers can catch it.
    """


class DataLeakError(SuiteError):
    """Test data would reach training or model selection."""
