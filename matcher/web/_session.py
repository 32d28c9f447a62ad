"""Who is signed in, and the CSRF token, both kept in the signed session cookie.

The session cookie is Starlette's ``SessionMiddleware`` cookie: signed with ``Settings.session_secret`` (so it
cannot be forged or altered), HttpOnly (page scripts cannot read it), SameSite=Strict (other sites' requests do
not carry it). It holds the API key itself, because every data request is made *as that key* through the same
v1 routes (see :mod:`matcher.web._proxy`); the key is checked again on every page load, so a revoked key ends
the session within ``KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request

from matcher.api.deps import AppState, KeyInfo

KEY = "api_key"
CSRF = "csrf"
CSRF_HEADER = "X-CSRF-Token"
PAGE_ROLES = ("consultant", "employer")
"""Roles that can use the pages; admin work (keys, runs) stays on the CLI and the API."""


@dataclass(frozen=True)
class WebUser:
    key: str
    info: KeyInfo

    @property
    def role(self) -> str:
        return self.info.role


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.matcher
    return state


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (also before sign-in, so the login form has one)."""
    token = request.session.get(CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF] = token
    return token


def csrf_ok(request: Request, sent: str | None) -> bool:
    """Whether ``sent`` (a form field or header) equals the session's token; a session without one never
    matches."""
    expected = request.session.get(CSRF)
    return isinstance(expected, str) and bool(expected) and sent is not None and hmac.compare_digest(expected, sent)


def sign_in(request: Request, key: str) -> None:
    """Start a fresh session for ``key`` (a new CSRF token too, so a token seen before sign-in is worthless)."""
    request.session.clear()
    request.session[KEY] = key
    request.session[CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_user(request: Request) -> WebUser | None:
    """The signed-in key, verified now; a session whose key was revoked is cleared."""
    key = request.session.get(KEY)
    if not isinstance(key, str) or not key:
        return None
    info = state_of(request).lookup_key(key)
    if info is None or info.role not in PAGE_ROLES:
        sign_out(request)
        return None
    return WebUser(key=key, info=info)
