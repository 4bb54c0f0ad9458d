"""Host exception types (G2: helpers.errors)."""

from __future__ import annotations


class RepairableException(Exception):
    """Shown to the LLM as a warning; the loop continues."""


class InterventionException(Exception):
    """The user interrupted; the loop continues."""


class HandledException(Exception):
    """Already reported to the user; ends the monologue."""


def format_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
