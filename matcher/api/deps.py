"""Dependencies of the routes, as ``Annotated`` aliases: the app state, a DB session, the caller's key and role,
the live index, the normaliser, and the auditor."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from matcher.api._follow import IndexFollower
from matcher.api._index import LiveIndex
from matcher.api._services import NormalizerLike
from matcher.config import Settings
from matcher.storage import AuditEntry, AuditRepository, AuditWriter, KeyRepository, WalCheckpointer, hash_key

T = TypeVar("T")

KEY_CACHE_SECONDS = 5.0
"""How long a verified key is trusted without asking the database again. A key revoked with ``matcher keys
revoke`` (another process) stops working within this time; it saves a database round trip per request."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    role: str
    employer_id: int | None


@dataclass
class AppState:
    settings: Settings
    db: Engine
    sessions: sessionmaker[Session]
    index: LiveIndex
    normalizer: NormalizerLike
    salt: bytes
    audit_writer: AuditWriter
    checkpointer: WalCheckpointer
    follower: IndexFollower
    _key_cache: dict[str, tuple[KeyInfo, float]] = field(default_factory=dict)
    _key_lock: threading.Lock = field(default_factory=threading.Lock)

    def cached_key(self, key: str) -> KeyInfo | None:
        """The key's info if it was verified less than :data:`KEY_CACHE_SECONDS` ago (no database access)."""
        digest = hash_key(key)
        with self._key_lock:
            hit = self._key_cache.get(digest)
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def lookup_key(self, key: str) -> KeyInfo | None:
        """The key's info from the cache, else from the database (and cached); None for an unknown or revoked key."""
        hit = self.cached_key(key)
        if hit is not None:
            return hit
        digest = hash_key(key)
        now = time.monotonic()
        with self.sessions() as session:
            row = KeyRepository(session).authenticate(key)
            info = None if row is None else KeyInfo(row.id, row.role, row.employer_id)
        with self._key_lock:
            if info is None:
                self._key_cache.pop(digest, None)
            else:
                self._key_cache[digest] = (info, now + KEY_CACHE_SECONDS)
        return info


# The dependencies below that only look at memory are ``async def``: FastAPI runs a plain ``def`` dependency in
# its thread pool, and those hand-offs cost more than the work itself on every request.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.matcher
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session per request; routes commit explicitly, anything uncommitted is rolled back at the end."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def fresh_index(state: AppState) -> LiveIndex:
    """The live index, once it reflects every write committed before this call, by this process or any other
    (see matcher/api/_follow.py): one cheap query, and a wait in the thread pool only when it is behind."""
    if state.follower.behind():
        await run_in_threadpool(state.follower.catch_up)
    return state.index


INLINE_RANKING_CITIZENS = 50_000
"""Up to this many citizens in the index, a ranking runs on the event loop itself rather than in the thread pool.

Why: at 10k citizens a ranking with explanations takes 2-4 ms of CPU, and handing it to a pool thread and back
(queues, wake-ups, the two threads trading the GIL) cost a tenth of an ad hoc search on top; measured with wrk,
two workers on 2 cores, ad hoc searches 193-235/s in the pool against 284-345/s inline. Nothing else could run
meanwhile anyway (the GIL). A larger index makes each ranking long enough to stall the loop's other requests
(health checks, cached lists) noticeably, so there the pool is used and the interpreter's switch interval
interleaves them."""


async def run_ranking(index: LiveIndex, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, a ranking on ``index``: inline while the index is small, else in the thread pool."""
    if index.sizes[0] <= INLINE_RANKING_CITIZENS:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


async def get_index(state: StateDep) -> LiveIndex:
    return await fresh_index(state)


IndexDep = Annotated[LiveIndex, Depends(get_index)]


async def get_normalizer(state: StateDep) -> NormalizerLike:
    return state.normalizer


NormalizerDep = Annotated[NormalizerLike, Depends(get_normalizer)]

_bearer = HTTPBearer(auto_error=False, description="an API key from `matcher keys create`")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

# Each dependency below authenticates from the bearer credentials itself instead of naming ``current_key`` as a
# sub-dependency, and takes the app state from the request instead of StateDep: FastAPI solves a shared
# sub-dependency again for every dependency that names it, and at a few hundred requests per second that
# bookkeeping cost more than the work. The key is looked up once per request (kept in the ASGI scope).


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> KeyInfo:
    """The caller's key, or 401. Verified keys are cached for :data:`KEY_CACHE_SECONDS`; a cache miss goes to
    the database off the event loop."""
    known: KeyInfo | None = request.scope.get("matcher.key")
    if known is not None:
        return known
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "Authorization: send 'Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})
    state: AppState = request.app.state.matcher
    info = state.cached_key(credentials.credentials)
    if info is None:
        info = await run_in_threadpool(state.lookup_key, credentials.credentials)
    if info is None:
        raise HTTPException(401, "Authorization: unknown or revoked key", headers={"WWW-Authenticate": "Bearer"})
    request.scope["matcher.key"] = info
    return info


async def current_key(request: Request, credentials: Credentials) -> KeyInfo:
    return await authenticate(request, credentials)


CurrentKey = Annotated[KeyInfo, Depends(current_key)]


def require(*roles: str) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[KeyInfo]]:
    """A dependency that lets only keys of ``roles`` through (403 otherwise)."""

    async def check(request: Request, credentials: Credentials) -> KeyInfo:
        return _with_role(await authenticate(request, credentials), roles)

    return check


def _with_role(key: KeyInfo, roles: Sequence[str]) -> KeyInfo:
    if key.role not in roles:
        raise HTTPException(403, f"role: this route is for {' or '.join(roles)} keys, not {key.role}")
    return key


ConsultantKey = Annotated[KeyInfo, Depends(require("consultant"))]
StaffOrEmployerKey = Annotated[KeyInfo, Depends(require("consultant", "employer"))]


def ensure_employer_access(key: KeyInfo, employer_id: int) -> None:
    """Employer keys reach only their own company's resources; consultants reach all."""
    if key.role == "employer" and key.employer_id != employer_id:
        raise HTTPException(403, "employer_id: this key belongs to another employer")


@dataclass(frozen=True)
class Auditor:
    """Writes audit entries for the calling key. The purpose comes from the ``X-Purpose`` header or the route's
    default."""

    key: KeyInfo
    header_purpose: str | None
    writer: AuditWriter

    def record(self, session: Session, default_purpose: str, entries: Sequence[AuditEntry]) -> None:
        """Add entries to ``session``'s transaction (the caller commits them with its write, or alone)."""
        AuditRepository(session).record(self.key.id, self.header_purpose or default_purpose, entries)

    def record_reads(self, default_purpose: str, entries: Sequence[AuditEntry]) -> None:
        """Commit entries of a route that writes nothing else, grouped with other requests' (see
        :class:`~matcher.storage.AuditWriter`); returns once they are durable. The caller must not hold an open
        transaction (on SQLite it would keep the writer from the lock)."""
        self.writer.write(self.key.id, self.header_purpose or default_purpose, entries)

    async def record_reads_async(self, default_purpose: str, entries: Sequence[AuditEntry]) -> None:
        """:meth:`record_reads` for ``async`` routes: awaits the commit without holding a thread."""
        await self.writer.write_async(self.key.id, self.header_purpose or default_purpose, entries)


PURPOSE_MAX_LENGTH = 200
PURPOSE_PATTERN = r"^[^\x00-\x1f]*$"
"""What an ``X-Purpose`` header may hold (at most this many characters, no control characters)."""

_PURPOSE = TypeAdapter(Annotated[str, StringConstraints(max_length=PURPOSE_MAX_LENGTH, pattern=PURPOSE_PATTERN)])

PurposeHeader = Annotated[
    str | None,
    Header(
        max_length=PURPOSE_MAX_LENGTH,
        pattern=PURPOSE_PATTERN,
        description="why this data is being read or written (recorded in the audit log); each route has a "
        "default",
    ),
]


async def get_auditor(request: Request, credentials: Credentials, x_purpose: PurposeHeader = None) -> Auditor:
    return _auditor(request, await authenticate(request, credentials), x_purpose)


def audited(*roles: str) -> Callable[..., Awaitable[Auditor]]:
    """One dependency for the role check and the auditor (its ``key`` is the caller's). The hot read routes use
    it: each dependency FastAPI solves costs a measurable share of a cached search."""

    async def caller(request: Request, credentials: Credentials, x_purpose: PurposeHeader = None) -> Auditor:
        return _auditor(request, _with_role(await authenticate(request, credentials), roles), x_purpose)

    return caller


async def direct_auditor(request: Request, roles: Sequence[str]) -> Auditor | None:
    """For the direct answers of matcher/api/_direct.py: the auditor ``audited(*roles)`` would give, or None
    when the bearer credentials or the ``X-Purpose`` header are malformed (FastAPI's handler then answers).
    Raises as the dependency does for an unknown key (401) or a key of another role (403), which FastAPI also
    does before it looks at the body or the query."""
    credentials = await _bearer(request)  # None where the header is missing or not a bearer token
    if credentials is None:
        return None
    purpose = request.headers.get("x-purpose")
    if purpose is not None:
        try:
            _PURPOSE.validate_python(purpose)
        except ValidationError:
            return None
    return _auditor(request, _with_role(await authenticate(request, credentials), roles), purpose)


def _auditor(request: Request, key: KeyInfo, x_purpose: str | None) -> Auditor:
    return Auditor(key=key, header_purpose=x_purpose or None, writer=request.app.state.matcher.audit_writer)


AuditDep = Annotated[Auditor, Depends(get_auditor)]
StaffOrEmployerAudit = Annotated[Auditor, Depends(audited("consultant", "employer"))]
ConsultantAudit = Annotated[Auditor, Depends(audited("consultant"))]
