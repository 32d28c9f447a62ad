"""`matcher demo`: the main job on the embedded default — synthetic Slagelse data, scored and ranked."""

from __future__ import annotations


def demo() -> None:
    """Generate the synthetic demo population, rank it and show the results."""
    raise NotImplementedError("matcher demo is being built")
