"""One exception root for every domain error.

Commands catch :class:`SchedulerError` only at the CLI edge and print ``Error: <message>``;
each message is built from the offending value so the line alone says what to fix.
"""

from __future__ import annotations


class SchedulerError(Exception):
    """Root of every error this package raises on purpose."""

    #: process exit code when this error reaches the command edge
    exit_code = 1


class ConfigError(SchedulerError):
    """config.toml (or a value given on the command line) is not valid. Exit 2."""

    exit_code = 2


class UsageError(SchedulerError):
    """A command was called with arguments that cannot work. Exit 2."""

    exit_code = 2


class TemplateProblem(SchedulerError):
    """A template is missing, does not parse or does not render."""


class UnknownCampaign(ConfigError):
    def __init__(self, campaign_id: str, known: list[str]) -> None:
        super().__init__(f"No campaign by the id of {campaign_id!r}; configured: {', '.join(known) or 'none'}")


class UnknownStage(ConfigError):
    def __init__(self, campaign_id: str, stage_id: str, known: list[str]) -> None:
        super().__init__(f"Campaign {campaign_id!r} has no stage {stage_id!r}; its stages: {', '.join(known)}")


class MissingSecret(ConfigError):
    def __init__(self, env_name: str, config_key: str) -> None:
        super().__init__(f"environment variable {env_name} is not set (named by {config_key} in config.toml)")


class TransportError(SchedulerError):
    """A transport could not deliver; ``fatal`` stops the whole run (a refused key, an
    unreachable server, a full disk) and exits 3 (README: Troubleshooting, exit codes)."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.exit_code = 3 if fatal else 1


class UnsupportedFeature(TransportError):
    """A transport was asked for something it cannot carry; never dropped silently."""
