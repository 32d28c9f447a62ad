"""matcher: a matching engine for Danish municipal job centres."""

__version__ = "0.1.0"
