"""Errors meant for people: each says what was wrong and what to do."""


class FinopsError(Exception):
    """An error whose message is shown to the user as it is (no stack trace)."""


class ConfigError(FinopsError):
    """A setting is missing or malformed."""


class ImportRefused(FinopsError):
    """A file was refused as a whole; the cache is unchanged."""


class NotBillingFile(ImportRefused):
    """A file that is no billing data at all (in a folder, it is skipped)."""


class UsageError(FinopsError):
    """A command-line argument is malformed (exit code 2, like argparse's)."""
