"""The server-rendered pages under ``/ui``: sign-in, the consultant's needs, candidates, citizen and plan pages,
and the employer's needs, need form and anonymised candidates.

Pages render the shell and the data that holds no personal information; personal data (candidates, citizens) is
fetched by the page's script through ``/ui/api`` (see :mod:`matcher.web._proxy`) so that it passes the API's own
authorisation, anonymisation and audit.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from matcher.domain import NeedKind
from matcher.storage import NeedRepository, NotFoundError
from matcher.web._i18n import KIND, LANG_COOKIE, STRINGS, TARGET_GROUP, bundle, pick_lang
from matcher.web._queries import find_needs, latest_plan
from matcher.web._session import WebUser, csrf_ok, csrf_token, current_user, sign_in, sign_out, state_of

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

HOME = {"consultant": "/ui/consultant/needs", "employer": "/ui/employer/needs"}
LANG_COOKIE_AGE = 365 * 24 * 3600
LOGIN_MESSAGES = ("login_expired", "logged_out")


def _json_script(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (``<``, ``>`` and ``&`` escaped)."""
    text = json.dumps(value, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _render(request: Request, template: str, user: WebUser | None, status_code: int = 200, **context: Any) -> Response:
    lang = pick_lang(request)
    other = "en" if lang == "da" else "da"
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "other_lang": other,
            "lang_url": request.url.path + "?" + urlencode({**request.query_params, "lang": other}),
            "t": STRINGS[lang],
            "kinds": KIND[lang],
            "target_groups": TARGET_GROUP[lang],
            "i18n_json": _json_script(bundle(lang)),
            "csrf": csrf_token(request),
            "user": user,
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_AGE, samesite="strict", httponly=True)
    return response


def _login_redirect(message: str = "") -> Response:
    url = "/ui/login" + (f"?msg={message}" if message else "")
    return RedirectResponse(url, status_code=303)


class PageExitError(Exception):
    """Ends a page early with ``response`` instead of the page: the sign-in redirect, a 403 or 404 message page.
    Raised from dependencies and helpers; answered by the handler :func:`matcher.web.install` registers."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _signed_in_as(role: str) -> Any:
    """A dependency: the signed-in user of ``role``; otherwise the sign-in redirect or a 403 page."""

    def dependency(request: Request) -> WebUser:
        user = current_user(request)
        if user is None:
            raise PageExitError(_login_redirect("login_expired"))
        if user.role != role:
            forbidden = STRINGS[pick_lang(request)]["forbidden"]
            raise PageExitError(_render(request, "message.html", user, 403, message=forbidden))
        return user

    return Depends(dependency)


Consultant = Annotated[WebUser, _signed_in_as("consultant")]
Employer = Annotated[WebUser, _signed_in_as("employer")]


@router.get("")
def home(request: Request) -> Response:
    user = current_user(request)
    return RedirectResponse(HOME[user.role] if user else "/ui/login", status_code=303)


@router.get("/login")
def login_form(request: Request, msg: str = "") -> Response:
    t = STRINGS[pick_lang(request)]
    return _render(request, "login.html", current_user(request), message=t[msg] if msg in LOGIN_MESSAGES else "")


@router.post("/login")
def login(request: Request, key: Annotated[str, Form(max_length=200)], csrf: Annotated[str, Form()] = "") -> Response:
    """Verify the key exactly as the API does (hash lookup, revocation) and start a session for it."""
    t = STRINGS[pick_lang(request)]
    if not csrf_ok(request, csrf):
        return _render(request, "login.html", None, 403, error=t["csrf_failed"])
    info = state_of(request).lookup_key(key.strip())
    if info is None:
        return _render(request, "login.html", None, 401, error=t["login_bad_key"])
    if info.role not in HOME:
        return _render(request, "login.html", None, 403, error=t["login_no_role"])
    sign_in(request, key.strip())
    log.info("web sign-in: key %d (%s)", info.id, info.role)
    return RedirectResponse(HOME[info.role], status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    if not csrf_ok(request, csrf):
        t = STRINGS[pick_lang(request)]
        return _render(request, "message.html", current_user(request), 403, message=t["csrf_failed"])
    sign_out(request)
    return _login_redirect("logged_out")


# --------------------------------------------------------------------------------------------- consultant


@router.get("/consultant/needs")
def consultant_needs(
    request: Request,
    user: Consultant,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(max_length=40, description="a need kind; empty or unknown: all kinds")] = "",
) -> Response:
    kind = kind if kind in NeedKind.__members__ else ""
    with state_of(request).sessions() as session:
        needs = find_needs(session, q, kind)
    return _render(request, "consultant_needs.html", user, needs=needs, q=q, kind=kind)


@router.get("/consultant/needs/{need_id}")
def consultant_candidates(request: Request, user: Consultant, need_id: int) -> Response:
    return _need_page(request, user, need_id, "consultant_candidates.html")


@router.get("/consultant/citizens/{citizen_id}")
def consultant_citizen(request: Request, user: Consultant, citizen_id: int) -> Response:
    return _render(request, "consultant_citizen.html", user, citizen_id=citizen_id)


@router.get("/consultant/plan")
def consultant_plan(request: Request, user: Consultant) -> Response:
    with state_of(request).sessions() as session:
        plan = latest_plan(session)
    raw = plan.report if plan else {}
    report = {k: v for k, v in raw.items() if isinstance(v, int | float | str)}
    optimal = raw.get("optimal")
    filled = optimal if isinstance(optimal, dict) and {"positions_filled", "positions_total"} <= set(optimal) else None
    return _render(request, "consultant_plan.html", user, plan=plan, report=report, filled=filled)


# --------------------------------------------------------------------------------------------- employer


@router.get("/employer/needs")
def employer_needs(request: Request, user: Employer) -> Response:
    with state_of(request).sessions() as session:
        needs = find_needs(session, employer_id=user.info.employer_id)
    return _render(request, "employer_needs.html", user, needs=needs)


@router.get("/employer/needs/new")
def employer_new_need(request: Request, user: Employer) -> Response:
    return _render(request, "employer_need_form.html", user, need_id=None, need_json=_json_script(None))


@router.get("/employer/needs/{need_id}/edit")
def employer_edit_need(request: Request, user: Employer, need_id: int) -> Response:
    document = _own_document(request, user, need_id)
    return _render(request, "employer_need_form.html", user, need_id=need_id, need_json=_json_script(document))


@router.get("/employer/needs/{need_id}")
def employer_candidates(request: Request, user: Employer, need_id: int) -> Response:
    return _need_page(request, user, need_id, "employer_candidates.html")


# --------------------------------------------------------------------------------------------- helpers


def _own_document(request: Request, user: WebUser, need_id: int) -> dict[str, Any]:
    """The stored need, if this user may see it (consultants: any; employers: their own); else a 404/403 page."""
    t = STRINGS[pick_lang(request)]
    with state_of(request).sessions() as session:
        try:
            row = NeedRepository(session).get(need_id)
        except NotFoundError:
            raise PageExitError(_render(request, "message.html", user, 404, message=t["not_found"])) from None
        if user.role == "employer" and row.employer_id != user.info.employer_id:
            raise PageExitError(_render(request, "message.html", user, 403, message=t["forbidden"]))
        return {**row.document, "id": row.id}


def _need_page(request: Request, user: WebUser, need_id: int, template: str) -> Response:
    return _render(request, template, user, need=_own_document(request, user, need_id))
