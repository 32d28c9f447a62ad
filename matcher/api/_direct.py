"""Direct answers for the hottest routes: a well-formed request is served without FastAPI's request machinery.

Why: the ranked-list routes are the service's busiest requests, and FastAPI's per-request work for them
(dependency solving, a JSON body parsed to Python objects and then validated, header and query parameters) was
~0.3 ms of an ad hoc search's ~7 ms of CPU, measured with the search itself stubbed out (1.41 → 1.13 ms a
request), and a larger share of a list served from the cache.

How: a route declared with ``route_class_override=`` a :class:`DirectRoute` subclass first asks the subclass's
:meth:`~DirectRoute.direct`, which reads the request itself: when it is well formed (bearer key, ``X-Purpose``,
parameters and body valid by the same types the declaration uses), it checks key and role exactly as the route's
dependency does and calls the declared endpoint function with the values. Anything else — a missing key, an
invalid parameter, an unusual content type — makes ``direct`` return None, and FastAPI's own handler of the same
declaration takes the request and produces every error response as for any other route. The declaration stays
the one source of the OpenAPI document. tests/api/test_direct_routes.py holds both handlers to the same status,
bytes and audit entries.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import StringConstraints, TypeAdapter, ValidationError

from matcher.api.deps import PURPOSE_MAX_LENGTH, PURPOSE_PATTERN, Auditor, _auditor, _bearer, _with_role, authenticate

_PURPOSE = TypeAdapter(Annotated[str, StringConstraints(max_length=PURPOSE_MAX_LENGTH, pattern=PURPOSE_PATTERN)])


class DirectRoute(APIRoute):
    """An API route that answers well-formed requests through :meth:`direct` (see the module doc)."""

    @staticmethod
    async def direct(request: Request) -> Response | None:
        """The answer, or None to leave the request to FastAPI's handler. Subclasses override it."""
        return None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        route = type(self)

        async def handler(request: Request) -> Response:
            answer = await route.direct(request)
            return answer if answer is not None else await standard(request)

        return handler


async def direct_auditor(request: Request, roles: Sequence[str]) -> Auditor | None:
    """The auditor the route's ``audited(*roles)`` dependency would give, or None when its bearer credentials or
    ``X-Purpose`` header are malformed (FastAPI's handler then answers). Raises as the dependency does for an
    unknown key (401) or a key of another role (403), which FastAPI would also do before looking at the body."""
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


def json_media(request: Request) -> bool:
    """Whether the body is declared plain ``application/json`` (parameters such as charset aside)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower() == "application/json"
