"""Domain errors. Library code raises these; only the CLI turns them into one-line messages.

Exit codes: ``UsageError`` (bad input the user can fix) -> 2; ``WorkFailed`` (the work itself
did not succeed, e.g. a rejected reward or no candidate trained) -> 1.
"""

from __future__ import annotations


class Text2RewardError(Exception):
    """Base class of every error text2reward raises on purpose."""

    exit_code = 1


class UsageError(Text2RewardError):
    """Bad input: unknown env, empty task, broken config or file, missing key. Exit code 2."""

    exit_code = 2


class UnknownEnvError(UsageError):
    """An env id that Gymnasium does not know."""


class ConfigError(UsageError):
    """A malformed or inconsistent run configuration."""


class ProgramError(UsageError):
    """A reward program file that cannot be read or parsed (bad input, not a rejected candidate)."""


class MissingKeyError(UsageError):
    """A remote model was asked for without its API key."""


class RunLockedError(UsageError):
    """Another process holds the run folder."""


class WorkFailed(Text2RewardError):
    """The work ran but failed: every candidate was rejected, or training crashed."""


class LLMError(WorkFailed):
    """The language model could not be reached or refused for a reason retrying cannot fix."""


class SandboxError(WorkFailed):
    """A worker process died, hung or broke the worker protocol."""
