"""CVR numbers: modulus-11 check digit."""

from __future__ import annotations

import numpy as np

from matcher.synthetic import is_valid_cvr, random_cvrs


def test_a_real_cvr_is_valid_and_a_changed_digit_is_not() -> None:
    assert is_valid_cvr("24256790")  # Novo Nordisk A/S
    assert not is_valid_cvr("24256791")
    assert not is_valid_cvr("2425679")
    assert not is_valid_cvr("0425679x")


def test_random_cvrs_are_valid_distinct_and_seeded() -> None:
    first = random_cvrs(np.random.default_rng(1), 5000)
    again = random_cvrs(np.random.default_rng(1), 5000)
    assert first == again
    assert len(set(first)) == 5000
    assert all(is_valid_cvr(c) for c in first)
    assert random_cvrs(np.random.default_rng(1), 0) == []
