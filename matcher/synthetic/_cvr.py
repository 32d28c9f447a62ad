"""Danish CVR numbers with a valid modulus-11 check digit.

A CVR number has 8 digits d1…d8 with sum(d_i · w_i) ≡ 0 (mod 11) for weights 2, 7, 6, 5, 4, 3, 2, 1; d8 is
the check digit. Prefixes whose check digit would be 10 cannot be completed and are skipped. Synthetic
employers get valid numbers so that any CVR validation downstream is exercised, not bypassed.
"""

from __future__ import annotations

import numpy as np

CVR_WEIGHTS = np.array([2, 7, 6, 5, 4, 3, 2, 1], dtype=np.int64)


def is_valid_cvr(cvr: str) -> bool:
    """True for 8 digits (first not 0) whose weighted digit sum is divisible by 11."""
    if len(cvr) != 8 or not cvr.isdigit() or cvr[0] == "0":
        return False
    digits = np.frombuffer(cvr.encode("ascii"), dtype=np.uint8).astype(np.int64) - ord("0")
    return int(digits @ CVR_WEIGHTS) % 11 == 0


def random_cvrs(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct valid CVR numbers, in draw order."""
    out: list[np.ndarray] = []
    seen: set[int] = set()
    have = 0
    while have < n:
        prefix = rng.integers(1_000_000, 10_000_000, size=max(16, int((n - have) * 1.2)), dtype=np.int64)
        digits = (prefix[:, None] // 10 ** np.arange(6, -1, -1, dtype=np.int64)) % 10
        check = (-(digits @ CVR_WEIGHTS[:7])) % 11
        ok = check < 10
        numbers = prefix[ok] * 10 + check[ok]
        _, first = np.unique(numbers, return_index=True)
        numbers = numbers[np.sort(first)]
        fresh = np.array([x for x in numbers.tolist() if x not in seen], dtype=np.int64)[: n - have]
        seen.update(fresh.tolist())
        out.append(fresh)
        have += len(fresh)
    return [str(x) for x in np.concatenate(out).tolist()] if out else []
