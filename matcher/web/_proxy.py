"""``/ui/api/...``: the pages' scripts reach the v1 API through this same-origin proxy.

Why a proxy and not page-specific endpoints: the request is replayed in-process against the very same app, with
the session's key as ``Authorization: Bearer``, so authorisation, the employer's anonymised view, audit and error
bodies are exactly the API's — nothing is re-implemented here. Only the routes the pages use are reachable, and
every method that changes data must carry the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import re

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from matcher.web._session import CSRF_HEADER, csrf_ok, current_user

router = APIRouter(prefix="/ui/api", include_in_schema=False)

ALLOWED: dict[str, re.Pattern[str]] = {
    "GET": re.compile(
        r"v1/(vacancies/\d+(/candidates)?|citizens/\d+(/matches)?|employers/\d+/vacancies"
        r"|taxonomy/(skills|occupations))"
    ),
    "POST": re.compile(
        r"v1/(employers/\d+/vacancies|matches/\d+/\d+/feedback|taxonomy/skills/extract|search/candidates)"
    ),
    "PUT": re.compile(r"v1/vacancies/\d+"),
}
FORWARDED_HEADERS = ("content-type", "x-purpose", "accept")


def _error(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


@router.api_route("/{path:path}", methods=list(ALLOWED))
async def proxy(path: str, request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return _error(401, "session: sign in again")
    pattern = ALLOWED.get(request.method)
    if pattern is None or not pattern.fullmatch(path):
        return _error(404, "path: not available to the pages")
    if request.method != "GET" and not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        return _error(403, "X-CSRF-Token: missing or wrong; reload the page")
    headers = {name: value for name in FORWARDED_HEADERS if (value := request.headers.get(name)) is not None}
    headers["Authorization"] = f"Bearer {user.key}"
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://matcher.internal") as client:
        reply = await client.request(
            request.method,
            f"/{path}",
            params=list(request.query_params.multi_items()),
            content=await request.body(),
            headers=headers,
        )
    return Response(reply.content, status_code=reply.status_code, media_type=reply.headers.get("content-type"))
