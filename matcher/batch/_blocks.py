"""The unit of work of a run: one block of citizens against every need, and the merge of the blocks' partial
per-need lists.

Why blocks of citizens: a citizen's top-k over *all* needs is final as soon as its block is scored, so it can be
written and checkpointed at once; a need's top-k over all citizens is only known when every block is done, so each
block keeps its partial per-need list and :class:`NeedMerger` folds the partials in block order at the end. Top-k
of a union equals top-k of the union of top-ks, and the ordering key is global (score, then citizen id), so the
merged lists equal those of one sweep over everything — however the blocks were computed, resumed or distributed.

The scoring itself is :func:`matcher.ranking.blocked_topk` with the same scorer the API uses (the rule weights,
or a learned re-ranker chosen by :func:`matcher.ranking.choose_scorer`): there is one scoring path.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking import TopK, blocked_topk
from matcher.ranking._topk import _LOW, PIN_BIT, decode, key_floor
from matcher.scoring import Scorer


@dataclass(frozen=True)
class BlockTask:
    """What one block needs besides the (shared) need features and scorer: its citizens' feature rows."""

    index: int
    citizens: CitizenFeatures
    k: int
    memory_budget_mb: float
    geo_blocking: bool
    pinned: np.ndarray  # (m, 2) citizen id, need id
    hidden: np.ndarray
    threads: int | None = None  # scoring threads in the block (None: all cores; 1 on Dask, one process per core)
    need_floor: np.ndarray | None = None  # per need row: the k-th best score found by earlier blocks (see NeedMerger)


def _pair_rows(pairs: np.ndarray, citizens: CitizenFeatures, needs: NeedFeatures) -> tuple[np.ndarray, np.ndarray]:
    """(citizen rows, need rows) of the id pairs that exist in these tables."""
    c_sorter = np.argsort(citizens.ids)
    n_sorter = np.argsort(needs.ids)
    if len(pairs) == 0 or citizens.n == 0 or needs.n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ci = np.minimum(np.searchsorted(citizens.ids, pairs[:, 0], sorter=c_sorter), citizens.n - 1)
    ni = np.minimum(np.searchsorted(needs.ids, pairs[:, 1], sorter=n_sorter), needs.n - 1)
    c_rows, n_rows = c_sorter[ci], n_sorter[ni]
    ok = (citizens.ids[c_rows] == pairs[:, 0]) & (needs.ids[n_rows] == pairs[:, 1])
    return c_rows[ok].astype(np.int64), n_rows[ok].astype(np.int64)


def score_block(task: BlockTask, needs: NeedFeatures, scorer: Scorer) -> tuple[int, TopK]:
    """Top-k both ways of one block of citizens against all needs (a top-level function, so Dask can ship it)."""
    top = blocked_topk(
        scorer,
        task.citizens,
        np.arange(task.citizens.n),
        needs,
        np.arange(needs.n),
        task.k,
        task.memory_budget_mb,
        geo_blocking=task.geo_blocking,
        pinned=_pair_rows(task.pinned, task.citizens, needs),
        hidden=_pair_rows(task.hidden, task.citizens, needs),
        threads=task.threads,
        need_floor=task.need_floor,
    )
    return task.index, top


def pack_partial(top: TopK) -> bytes:
    """The block's top-k arrays as npz bytes (no pickle). Need rows without any entry are left out: with
    geographic blocking most needs are out of reach of one block's citizens."""
    touched = np.flatnonzero(top.need_citizen_ids[:, 0] >= 0)
    buf = io.BytesIO()
    np.savez(
        buf,
        k=np.int64(top.k),
        citizen_ids=top.citizen_ids,
        citizen_need_ids=top.citizen_need_ids,
        citizen_scores=top.citizen_scores,
        citizen_overqualification=top.citizen_overqualification,
        need_ids=top.need_ids[touched],
        need_citizen_ids=top.need_citizen_ids[touched],
        need_scores=top.need_scores[touched],
        need_overqualification=top.need_overqualification[touched],
    )
    return buf.getvalue()


def unpack_partial(blob: bytes) -> TopK:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return TopK(k=int(data["k"]), **{name: data[name] for name in TopK._FIELDS})


class NeedMerger:
    """Folds blocks' partial per-need lists into the final top-k per need.

    The key per entry sorts exactly as :func:`blocked_topk` does: pinned first, then score descending, then
    citizen id ascending (the low bits hold the citizen's rank among *all* citizens of the run).
    """

    def __init__(self, need_ids: np.ndarray, citizen_ids: np.ndarray, k: int, pinned: np.ndarray) -> None:
        self.need_ids = np.asarray(need_ids, dtype=np.int64)
        self.k = k
        self._sorted_cids = np.sort(np.asarray(citizen_ids, dtype=np.int64))
        self._n_sorter = np.argsort(self.need_ids)
        # pinned pairs as one int64 code each (ids are below 2**31, see matcher.storage.MAX_ID)
        pinned = np.asarray(pinned, dtype=np.int64).reshape(-1, 2)
        self._pinned = (pinned[:, 0] << 31) | pinned[:, 1]
        self.keys = np.full((len(self.need_ids), k), -1, dtype=np.int64)
        self.overq = np.zeros((len(self.need_ids), k), dtype=np.float32)

    def add(self, part: TopK) -> None:
        # only needs the block's citizens reached: with geographic blocking a small share of all needs
        if part.need_citizen_ids.shape[1] == 0:
            return
        touched = np.flatnonzero(part.need_citizen_ids[:, 0] >= 0)
        if len(touched) == 0:
            return
        need_ids = part.need_ids[touched]
        rows = self._n_sorter[np.searchsorted(self.need_ids, need_ids, sorter=self._n_sorter)]
        cids = part.need_citizen_ids[touched]
        valid = cids >= 0
        rank = np.searchsorted(self._sorted_cids, np.where(valid, cids, 0))
        keys = (part.need_scores[touched].astype(np.float32) + np.float32(0)).view(np.uint32).astype(np.int64) << 32
        keys |= _LOW - rank
        if len(self._pinned):
            codes = (np.where(valid, cids, 0) << 31) | need_ids[:, None]
            keys[np.isin(codes, self._pinned)] |= PIN_BIT
        keys[~valid] = -1
        both = np.concatenate([self.keys[rows], keys], axis=1)
        both_ov = np.concatenate([self.overq[rows], part.need_overqualification[touched]], axis=1)
        keep = np.argpartition(both, both.shape[1] - self.k, axis=1)[:, -self.k :]
        self.keys[rows] = np.take_along_axis(both, keep, axis=1)
        self.overq[rows] = np.take_along_axis(both_ov, keep, axis=1)

    def floor(self) -> np.ndarray:
        """Per need (rows in ``need_ids`` order): :func:`~matcher.ranking._topk.key_floor` of what was merged so
        far. Later blocks pass it as ``need_floor`` and keep fewer candidates; it only rises, so any floor taken
        earlier is still safe."""
        return key_floor(self.keys)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(citizen ids, scores, overqualification), each n_needs × k, best first, padded with -1 / 0."""
        order = np.argsort(-self.keys, axis=1, kind="stable")
        keys = np.take_along_axis(self.keys, order, axis=1)
        overq = np.take_along_axis(self.overq, order, axis=1)
        ids, scores = decode(keys, self._sorted_cids)
        return ids, scores, np.where(keys >= 0, overq, np.float32(0)).astype(np.float32)
