"""The nightly run: load → score in blocks → keep top-k both ways → merge → plan → write, resumable.

How a run goes (docs/batch.md has the long version):

1. **Prepare.** Load every stored citizen and need and the consultant overrides in one transaction; hash the
   configuration (scoring policy + top_k) and the data (ids and update times of every row, the overrides). Claim
   a run row: an identical completed run is reused (idempotent), an unfinished run with the same hashes is
   resumed, otherwise a new one starts. A live run elsewhere refuses the claim (the DB-level guard).
2. **Blocks.** Citizens, ordered by place (:func:`block_order`), are cut into blocks of ``block_size``; each
   block is scored against every need by :func:`matcher.ranking.blocked_topk` (the API's scorer). Per block, one
   transaction writes the block's per-citizen lists, its checkpoint row (holding the partial per-need lists) and
   the progress. Blocks already checkpointed are skipped, so a run killed at any point continues from its last
   committed block.
3. **Finish.** The partial per-need lists are merged (exact, see :mod:`._blocks`), the placement plan and the
   greedy baseline are computed (:mod:`matcher.ranking._assign`), and one transaction writes the per-need lists,
   the plan and the report and marks the run completed. Old runs are pruned.

The scoring date (``as_of``) and the block size are stored with the run and reused on resume, so a resumed run's
results equal an uninterrupted one's.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

import matcher
from matcher.batch import _store as store
from matcher.batch._blocks import BlockTask, NeedMerger, pack_partial, score_block, unpack_partial
from matcher.config import Settings
from matcher.domain import Citizen, TargetGroup, Vacancy
from matcher.features import CitizenFeatures, NeedFeatures
from matcher.ranking import (
    GeoGroups,
    Plan,
    TopK,
    assign_greedy,
    assign_optimal,
    build_edges,
    choose_scorer,
    citizen_priorities,
    placement_report,
    scorer_label,
)
from matcher.scoring import Scorer
from matcher.storage import CitizenRow, FeedbackRepository, NeedRow, RankingRunRow, transaction
from matcher.taxonomy import Postcodes, Taxonomy

log = logging.getLogger(__name__)

DEFAULT_BLOCK_PAIRS = 300_000_000
"""Default block size: about this many citizen × need pairs per block (bounded below and above by
``MIN_BLOCK``/``MAX_BLOCK`` citizens). A block is the unit of checkpointing; inside it ``blocked_topk`` still
scores in tiles bounded by the memory budget, on all cores. Smaller blocks lose less work to a kill and report
progress more often; larger ones are faster, mostly because every block starts its per-need lists from empty, so
every need reached collects up to k candidates again and the merges (on one thread) grow with the number of
blocks: nationally 375 blocks of 800 citizens left the scoring threads idle behind the merges. 300 M is ~5,000
citizens per block at 60k needs (60 checkpoints, a few seconds of work each) and the whole municipality (10k × 2k)
in one block."""
MIN_BLOCK, MAX_BLOCK = 256, 20_000

Progress = Callable[[int, int], None]
"""Called with (blocks done, blocks total) after each committed block (and once at the start)."""


def config_hash(settings: Settings) -> str:
    """What makes two runs' results comparable: the scoring policy and top_k."""
    payload = json.dumps({"scoring": settings.scoring.model_dump(mode="json"), "top_k": settings.top_k}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def model_version(taxonomy: Taxonomy, scorer: Scorer | None = None) -> str:
    """What scored a run: the taxonomy, the code, and the scorer ('rule' or 'reranker <version>'), so a run
    ranked by another re-ranker model is never reused or resumed as if it were the same."""
    label = "rule" if scorer is None else scorer_label(scorer)
    return f"taxonomy {taxonomy.version}; matcher {matcher.__version__}; scorer {label}"


def block_size_for(n_citizens: int, n_needs: int) -> int:
    per = DEFAULT_BLOCK_PAIRS // max(n_needs, 1)
    return int(min(MAX_BLOCK, max(MIN_BLOCK, per, 1)))


def block_order(citizens: CitizenFeatures) -> np.ndarray:
    """Citizen rows in the order blocks are cut from: by grid cell and commute band (then row), citizens without
    coordinates last. Why not by id: geographic blocking inside a block groups its citizens by cell, and a block of
    citizens scattered over the country gives many near-empty groups, each scored as a tiny block — six times
    slower at 30k × 6k national than blocks of neighbours. Deterministic for the same data, so a resumed run cuts
    the same blocks."""
    groups = GeoGroups.build(citizens.lat, citizens.lon, np.arange(citizens.n), reach_km=citizens.max_commute_km)
    return np.concatenate([groups.rows, groups.unlocated]).astype(np.int64)


@dataclass(frozen=True)
class RerankOptions:
    """How to run. ``block_size``: citizens per block (None: from the data size). ``fresh``: neither reuse an
    identical completed run nor resume an unfinished one. ``throttle_s``: pause after each block (leaves CPU to
    others; tests use it to kill a run between blocks). ``dask``: None (in process), ``"local"`` (a LocalCluster
    on this machine) or a scheduler address ``tcp://host:8786``; ``dask_workers`` sizes the local cluster."""

    block_size: int | None = None
    fresh: bool = False
    throttle_s: float = 0.0
    dask: str | None = None
    dask_workers: int = 2

    def __post_init__(self) -> None:
        if self.block_size is not None and self.block_size < 1:
            raise ValueError(f"block_size: must be at least 1, got {self.block_size}")
        if self.throttle_s < 0:
            raise ValueError(f"throttle_s: must be 0 or more, got {self.throttle_s}")
        if self.dask_workers < 1:
            raise ValueError(f"dask_workers: must be at least 1, got {self.dask_workers}")


@dataclass
class RunOutcome:
    """What :meth:`RerankJob.run` reports back."""

    run_id: int
    how: str  # new | resumed | reused
    status: str
    blocks_total: int
    blocks_computed: int
    seconds: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class _Snapshot:
    citizens: list[tuple[int, Citizen]]
    needs: list[tuple[int, Vacancy]]
    pinned: np.ndarray
    hidden: np.ndarray
    data_hash: str


def _pairs(pairs: Iterable[tuple[int, int]]) -> np.ndarray:
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects. Why: loading profiles allocates
    millions of container objects, each allocation burst triggers a full-generation scan of everything alive,
    and that made the load five times slower than the validation itself. Nothing built here forms cycles.

    On the way out the survivors are moved straight to the oldest generation (``freeze`` + ``unfreeze``):
    re-enabling alone would make the next young-generation collection walk every object built inside, which
    cost 0.4 s at 10k x 2k."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _document(model: type[Citizen] | type[Vacancy], raw: str | dict[str, Any]) -> Any:
    # SQLite hands the JSON column back as text (parsed by pydantic-core in one pass, faster than json.loads);
    # psycopg parses json itself and hands back a dict
    return model.model_validate_json(raw) if isinstance(raw, str) else model.model_validate(raw)


def load_snapshot(session: Session) -> _Snapshot:
    """Every stored citizen and need, the overrides, and a hash of it all (ids and update times)."""
    digest = hashlib.sha256()
    citizens: list[tuple[int, Citizen]] = []
    needs: list[tuple[int, Vacancy]] = []
    c_query = select(CitizenRow.id, CitizenRow.updated_at, type_coerce(CitizenRow.profile, Text)).order_by(
        CitizenRow.id
    )
    n_query = select(NeedRow.id, NeedRow.updated_at, type_coerce(NeedRow.document, Text)).order_by(NeedRow.id)
    with gc_paused():
        for cid, updated, raw in session.execute(c_query.execution_options(yield_per=2000)):
            citizens.append((cid, _document(Citizen, raw)))
            digest.update(f"c{cid}:{updated.isoformat()};".encode())
        for nid, updated, raw in session.execute(n_query.execution_options(yield_per=2000)):
            needs.append((nid, _document(Vacancy, raw)))
            digest.update(f"n{nid}:{updated.isoformat()};".encode())
    pinned, hidden = FeedbackRepository(session).overrides()
    hidden_a, pinned_a = _pairs(hidden), _pairs(pinned - hidden)  # hidden wins over pinned, as in the engine
    digest.update(b"pinned" + pinned_a.tobytes() + b"hidden" + hidden_a.tobytes())
    return _Snapshot(citizens, needs, pinned_a, hidden_a, digest.hexdigest())


class RerankJob:
    """One nightly run against one database.

    Parameters
    ----------
    settings : top_k, memory budget, scoring policy, retention.
    sessions : a session factory on the service database.
    taxonomy, postcodes : as for the live engine.
    options : see :class:`RerankOptions`.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        taxonomy: Taxonomy,
        postcodes: Postcodes,
        options: RerankOptions | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.taxonomy = taxonomy
        self.postcodes = postcodes
        self.options = options or RerankOptions()
        self._prepared: tuple[RankingRunRow, str, _Snapshot] | None = None
        self._scorer: Scorer | None = None

    @property
    def scorer(self) -> Scorer:
        """The scorer this run ranks with, chosen once per job by ``settings.reranker`` (a learned re-ranker
        trained on enough outcomes, else the rule weights)."""
        if self._scorer is None:
            self._scorer = choose_scorer(self.settings, self.taxonomy)
        return self._scorer

    # ------------------------------------------------------------------------------------------------ prepare

    def prepare(self, today: dt.date | None = None) -> tuple[int, str]:
        """Load the data and claim a run; returns (run id, 'new' | 'resumed' | 'reused'). Fast enough for an
        HTTP request, so the API can answer with the run id before the blocks run in the background."""
        today = today or dt.date.today()
        with transaction(self.sessions) as session:
            snap = load_snapshot(session)
            n_c, n_n = len(snap.citizens), len(snap.needs)
            size = self.options.block_size or block_size_for(n_c, n_n)
            spec = store.RunSpec(
                config_hash=config_hash(self.settings),
                data_hash=snap.data_hash,
                model_version=model_version(self.taxonomy, self.scorer),
                top_k=self.settings.top_k,
                as_of=today,
                block_size=size,
                blocks_total=max(1, -(-n_c // size)) if n_c and n_n else 0,
                n_citizens=n_c,
                n_needs=n_n,
            )
            fresh = self.options.fresh
            run, how = store.claim(session, spec, resume=not fresh, reuse=not fresh)
            session.expunge(run)
        self._prepared = (run, how, snap)
        log.info("ranking run %d (%s): %d citizens × %d needs, %d blocks", run.id, how, n_c, n_n, run.blocks_total)
        return run.id, how

    # ------------------------------------------------------------------------------------------------ run

    def run(self, progress: Progress | None = None) -> RunOutcome:
        """Prepare (unless done) and execute. On an error the run is marked failed (when the database answers)
        and the error re-raised; the run stays resumable."""
        if self._prepared is None:
            self.prepare()
        assert self._prepared is not None
        run, how, snap = self._prepared
        if how == "reused":
            return RunOutcome(run.id, how, run.status, run.blocks_total, 0, report=dict(run.report or {}))
        try:
            return self._execute(run, how, snap, progress)
        except BaseException as exc:
            self._fail(run.id, exc)
            raise

    def _fail(self, run_id: int, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        log.error("ranking run %d failed: %s", run_id, message)
        try:
            with transaction(self.sessions) as session:
                store.mark_failed(session, run_id, message)
        except Exception:  # the database is still away: the stale-owner rule frees the run later
            log.exception("ranking run %d: could not mark it failed", run_id)

    def _features(self, snap: _Snapshot, as_of: dt.date) -> tuple[CitizenFeatures, NeedFeatures]:
        policy = self.settings.scoring
        citizens = CitizenFeatures.build(snap.citizens, self.taxonomy, self.postcodes, policy, as_of)
        needs = NeedFeatures.build(snap.needs, self.taxonomy, self.postcodes, policy, as_of)
        return citizens, needs

    def _tasks(
        self,
        run: RankingRunRow,
        citizens: CitizenFeatures,
        skip: set[int],
        snap: _Snapshot,
        found: NeedMerger | None = None,
    ) -> Iterator[BlockTask]:
        """The blocks still to do, built as they are pulled, each with the need floors of what ``found`` holds by
        then (the blocks done in this process)."""
        order = block_order(citizens)
        size = run.block_size
        for b in range(run.blocks_total):
            if b in skip:
                continue
            rows = order[b * size : (b + 1) * size]
            block = citizens.take(rows)
            in_block = np.isin(snap.pinned[:, 0], block.ids) if len(snap.pinned) else np.zeros(0, dtype=bool)
            hid = np.isin(snap.hidden[:, 0], block.ids) if len(snap.hidden) else np.zeros(0, dtype=bool)
            yield BlockTask(
                index=b,
                citizens=block,
                k=self.settings.top_k,
                memory_budget_mb=self.settings.memory_budget_mb,
                geo_blocking=self.settings.scoring.gates.commute,
                pinned=snap.pinned[in_block],
                hidden=snap.hidden[hid],
                # Dask runs one single-threaded process per core: threads inside would only compete
                threads=1 if self.options.dask else None,
                need_floor=found.floor() if found is not None else None,
            )

    def _execute(self, run: RankingRunRow, how: str, snap: _Snapshot, progress: Progress | None) -> RunOutcome:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        as_of = run.as_of or dt.date.today()
        with gc_paused():
            citizens, needs = self._features(snap, as_of)
        # the domain objects are no longer needed: at national scale they are most of the memory
        snap.citizens.clear()
        snap.needs.clear()
        timings["features_s"] = time.perf_counter() - started
        scorer = self.scorer
        with transaction(self.sessions) as session:
            skip = store.done_blocks(session, run.id)
        done = len(skip)
        if progress:
            progress(done, run.blocks_total)
        t0 = time.perf_counter()
        computed = 0
        # the per-need lists found so far, only to give later blocks a floor: each block starts its need lists
        # from empty and would otherwise keep up to k candidates per need it reaches (the exact merge is _finish's)
        found = NeedMerger(needs.ids, citizens.ids, self.settings.top_k, snap.pinned)
        tasks = self._tasks(run, citizens, skip, snap, found)
        for index, top in self._scored(tasks, needs, scorer):
            lists = store.list_rows(
                run.id,
                "citizen",
                top.citizen_ids,
                top.citizen_need_ids,
                top.citizen_scores,
                top.citizen_overqualification,
            )
            with transaction(self.sessions) as session:
                store.commit_block(session, run.id, index, lists, pack_partial(top))
            found.add(top)
            computed += 1
            done += 1
            if progress:
                progress(done, run.blocks_total)
            if self.options.throttle_s:
                time.sleep(self.options.throttle_s)
        timings["blocks_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = self._finish(run, citizens, needs, snap, timings)
        timings["finish_s"] = time.perf_counter() - t0
        with transaction(self.sessions) as session:
            store.prune(session, self.settings.run_retention_days)
        timings["total_s"] = time.perf_counter() - started
        report["timings"] = {key: round(value, 3) for key, value in timings.items()}
        log.info("ranking run %d completed: %s", run.id, report["timings"])
        return RunOutcome(run.id, how, store.COMPLETED, run.blocks_total, computed, timings, report)

    def _scored(
        self, tasks: Iterator[BlockTask], needs: NeedFeatures, scorer: Scorer
    ) -> Iterator[tuple[int, TopK]]:
        if self.options.dask is None:
            for task in tasks:
                yield score_block(task, needs, scorer)
            return
        from matcher.batch._dask import dask_scored

        yield from dask_scored(self.options.dask, self.options.dask_workers, tasks, needs, scorer)

    def _finish(
        self,
        run: RankingRunRow,
        citizens: CitizenFeatures,
        needs: NeedFeatures,
        snap: _Snapshot,
        timings: dict[str, float],
    ) -> dict[str, Any]:
        t0 = time.perf_counter()
        k = self.settings.top_k
        merger = NeedMerger(needs.ids, citizens.ids, k, snap.pinned)
        c_parts: list[TopK] = []
        with transaction(self.sessions) as session:
            for _, blob in store.partials(session, run.id):
                part = unpack_partial(blob)
                merger.add(part)
                c_parts.append(_citizen_side(part))
        need_cids, need_scores, need_ov = merger.result()
        timings["merge_s"] = time.perf_counter() - t0
        top = _assemble(k, needs.ids.astype(np.int64), need_cids, need_scores, need_ov, c_parts, citizens.ids)
        # placement plan over the union of both directions
        t0 = time.perf_counter()
        c_sorter = np.argsort(citizens.ids)
        c_rows = c_sorter[np.searchsorted(citizens.ids, top.citizen_ids, sorter=c_sorter)]
        policy = self.settings.scoring
        priority = citizen_priorities(
            citizens.target_group[c_rows], [g.value for g in TargetGroup], policy.target_group_priority
        )
        edges = build_edges(top, priority, policy.overqualification_cost, policy.overqualification_levels)
        n_sorter = np.argsort(needs.ids)
        capacity = needs.positions[n_sorter[np.searchsorted(needs.ids, top.need_ids, sorter=n_sorter)]]
        capacity = np.asarray(capacity, dtype=np.int64)
        optimal = assign_optimal(top, edges, capacity)
        greedy = assign_greedy(top, edges, capacity)
        timings["assign_s"] = time.perf_counter() - t0
        report = placement_report(optimal, greedy, capacity, policy.overqualification_levels)
        report["edges"] = edges.n
        report.update(_data_report(citizens, needs, top, capacity))
        # one transaction: per-need lists, the plan, completed
        t0 = time.perf_counter()
        needs_lists = store.list_rows(run.id, "need", top.need_ids, need_cids, need_scores, need_ov)
        plan = _plan_rows(run.id, optimal)
        with transaction(self.sessions) as session:
            store.finish(session, run.id, needs_lists, plan, report)
        timings["write_needs_plan_s"] = time.perf_counter() - t0
        return report


def _citizen_side(part: TopK) -> TopK:
    """Only the per-citizen arrays of a partial (the per-need ones are merged and then dropped)."""
    empty_i = np.zeros((0, part.k), dtype=np.int64)
    empty_f = np.zeros((0, part.k), dtype=np.float32)
    return TopK(
        k=part.k,
        need_ids=np.zeros(0, dtype=np.int64),
        need_citizen_ids=empty_i,
        need_scores=empty_f,
        need_overqualification=empty_f,
        citizen_ids=part.citizen_ids,
        citizen_need_ids=part.citizen_need_ids,
        citizen_scores=part.citizen_scores,
        citizen_overqualification=part.citizen_overqualification,
    )


def _assemble(
    k: int,
    need_ids: np.ndarray,
    need_cids: np.ndarray,
    need_scores: np.ndarray,
    need_ov: np.ndarray,
    c_parts: list[TopK],
    citizen_ids: np.ndarray,
) -> TopK:
    """The run's full top-k both ways from the merged need side and the blocks' citizen sides (with no blocks —
    no needs — every citizen gets an empty list, so the report counts them as without a match)."""
    if c_parts:
        c_ids = np.concatenate([p.citizen_ids for p in c_parts])
        c_nids = np.concatenate([p.citizen_need_ids for p in c_parts])
        c_sc = np.concatenate([p.citizen_scores for p in c_parts])
        c_ov = np.concatenate([p.citizen_overqualification for p in c_parts])
    else:
        c_ids = np.sort(np.asarray(citizen_ids, dtype=np.int64))
        c_nids = np.full((len(c_ids), k), -1, dtype=np.int64)
        c_sc = c_ov = np.zeros((len(c_ids), k), dtype=np.float32)
    return TopK(
        k=k,
        need_ids=need_ids,
        need_citizen_ids=need_cids,
        need_scores=need_scores,
        need_overqualification=need_ov,
        citizen_ids=c_ids.astype(np.int64),
        citizen_need_ids=c_nids,
        citizen_scores=c_sc,
        citizen_overqualification=c_ov,
    )


def _plan_rows(run_id: int, plan: Plan) -> list[dict[str, object]]:
    """The plan as ``ranking_results`` rows (direction 'plan', assigned), ranked by plan value (ties: citizen
    id)."""
    order = np.lexsort((plan.citizen_ids, -plan.values))
    return [
        {
            "run_id": run_id,
            "direction": "plan",
            "citizen_id": int(plan.citizen_ids[i]),
            "need_id": int(plan.need_ids[i]),
            "rank": rank,
            "score": round(float(plan.scores[i]), 6),
            "components": {
                "overqualification": round(float(plan.overqualification[i]), 4),
                "plan_value": round(float(plan.values[i]), 6),
            },
            "gates": [],
            "assigned": True,
        }
        for rank, i in enumerate(order.tolist(), start=1)
    ]


def _data_report(citizens: CitizenFeatures, needs: NeedFeatures, top: TopK, capacity: np.ndarray) -> dict[str, Any]:
    """Bad input, reported rather than crashed on: citizens with nothing to match on, paused needs, and those
    left with an empty list."""
    no_profile = (
        (np.diff(citizens.skills.indptr) == 0) & (np.diff(citizens.occ_exp.indptr) == 0) & (citizens.best_eqf == 0)
    )
    no_match_c = top.citizen_ids[top.citizen_need_ids[:, 0] < 0] if len(top.citizen_ids) else np.zeros(0, np.int64)
    no_match_n = top.need_ids[top.need_citizen_ids[:, 0] < 0] if len(top.need_ids) else np.zeros(0, np.int64)
    sample = 20
    return {
        "n_citizens": citizens.n,
        "n_needs": needs.n,
        "citizens_without_usable_profile": int(no_profile.sum()),
        "citizens_without_usable_profile_ids": citizens.ids[no_profile][:sample].astype(int).tolist(),
        "needs_with_capacity_0": int((capacity == 0).sum()),
        "needs_with_capacity_0_ids": top.need_ids[capacity == 0][:sample].astype(int).tolist(),
        "citizens_without_match": len(no_match_c),
        "needs_without_candidates": len(no_match_n),
    }
