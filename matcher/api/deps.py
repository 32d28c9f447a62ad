"""Dependencies of the routes, as ``Annotated`` aliases: the app state, a DB session, the caller's key and role,
the live index, the normaliser, and the auditor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from matcher.api._index import LiveIndex
from matcher.api._services import NormalizerLike
from matcher.config import Settings
from matcher.storage import AuditEntry, AuditRepository, KeyRepository, hash_key

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
    _key_cache: dict[str, tuple[KeyInfo, float]] = field(default_factory=dict)
    _key_lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup_key(self, key: str) -> KeyInfo | None:
        digest = hash_key(key)
        now = time.monotonic()
        with self._key_lock:
            hit = self._key_cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        with self.sessions() as session:
            row = KeyRepository(session).authenticate(key)
            info = None if row is None else KeyInfo(row.id, row.role, row.employer_id)
        with self._key_lock:
            if info is None:
                self._key_cache.pop(digest, None)
            else:
                self._key_cache[digest] = (info, now + KEY_CACHE_SECONDS)
        return info


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.matcher
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session per request; routes commit explicitly, anything uncommitted is rolled back at the end."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_index(state: StateDep) -> LiveIndex:
    return state.index


IndexDep = Annotated[LiveIndex, Depends(get_index)]


def get_normalizer(state: StateDep) -> NormalizerLike:
    return state.normalizer


NormalizerDep = Annotated[NormalizerLike, Depends(get_normalizer)]

_bearer = HTTPBearer(auto_error=False, description="an API key from `matcher keys create`")


def current_key(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> KeyInfo:
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "Authorization: send 'Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})
    info = state.lookup_key(credentials.credentials)
    if info is None:
        raise HTTPException(401, "Authorization: unknown or revoked key", headers={"WWW-Authenticate": "Bearer"})
    return info


CurrentKey = Annotated[KeyInfo, Depends(current_key)]


def require(*roles: str) -> Callable[[KeyInfo], KeyInfo]:
    """A dependency that lets only keys of ``roles`` through (403 otherwise)."""

    def check(key: CurrentKey) -> KeyInfo:
        if key.role not in roles:
            raise HTTPException(403, f"role: this route is for {' or '.join(roles)} keys, not {key.role}")
        return key

    return check


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

    def record(self, session: Session, default_purpose: str, entries: Sequence[AuditEntry]) -> None:
        """Add entries to ``session``'s transaction (the caller commits them with its write, or alone)."""
        AuditRepository(session).record(self.key.id, self.header_purpose or default_purpose, entries)


def get_auditor(
    key: CurrentKey,
    x_purpose: Annotated[
        str | None,
        Header(
            max_length=200,
            pattern=r"^[^\x00-\x1f]*$",
            description="why this data is being read or written (recorded in the audit log); each route has a "
            "default",
        ),
    ] = None,
) -> Auditor:
    return Auditor(key=key, header_purpose=x_purpose or None)


AuditDep = Annotated[Auditor, Depends(get_auditor)]
