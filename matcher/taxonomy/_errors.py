"""Errors of the taxonomy layer."""

from __future__ import annotations


class TaxonomyInputError(ValueError):
    """A profile or need refers to something the taxonomy does not know, or a label we cannot resolve.

    ``field`` is the JSON path of the offending value (e.g. ``skills[3].uri``) so the API can point the client at
    it; ``reason`` says what is wrong and, where we can, what to send instead.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
