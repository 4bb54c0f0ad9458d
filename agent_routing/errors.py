"""Exceptions raised by the core.

Every error that comes from user input names the field and the offending value, so that a
CLI user, an API client or the agent itself can correct it without reading source code.
"""

from __future__ import annotations


class AgentRoutingError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(AgentRoutingError, ValueError):
    """Configuration (file, environment, CLI or API input) failed validation.

    `problems` holds one `(field, message)` pair per problem, in input order.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = [f"{field}: {message}" for field, message in problems]
        super().__init__("invalid configuration:\n  " + "\n  ".join(lines))

    @classmethod
    def single(cls, field: str, message: str) -> ConfigError:
        """An error about one field."""
        return cls([(field, message)])


class UnknownModelError(AgentRoutingError, ValueError):
    """A model name that litellm's local price map does not know and no override prices."""

    def __init__(self, model: str, field: str = "model") -> None:
        self.model = model
        self.field = field
        super().__init__(
            f"{field}: unknown model {model!r}: not in litellm's local price map; "
            "add it under 'prices:' in the configuration to use a custom or local model"
        )


class BudgetBlockedError(AgentRoutingError):
    """A budget with enforcement `block` refused a call (fail closed for money)."""

    def __init__(
        self,
        message: str,
        *,
        budget: str = "",
        remaining_usd: float = 0.0,
        unpriced_model: str | None = None,
    ) -> None:
        self.budget = budget
        self.remaining_usd = remaining_usd
        # Set when the refusal is for a model with no known price, not for spent money:
        # the fix is a price, not a higher limit.
        self.unpriced_model = unpriced_model
        super().__init__(message)
