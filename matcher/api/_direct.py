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

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from matcher.api.deps import direct_auditor

__all__ = ["DirectRoute", "direct_auditor", "json_media"]


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


def json_media(request: Request) -> bool:
    """Whether the body is declared plain ``application/json`` (parameters such as charset aside)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower() == "application/json"
