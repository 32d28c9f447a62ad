"""Request bodies: the size limit, NUL checks, and the JSON-list / JSONL parser of the bulk endpoints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher.api.errors import BodyFieldError


class BodySizeLimit:
    """Refuse bodies over the limit with 413 — by Content-Length before reading, and while streaming for chunked
    uploads — so an oversize upload never reaches a parser or the database.

    The ``:bulk`` routes have their own, larger limit: 10,000 profiles (the promised batch size) are about 20 MB,
    over the 10 MB that is plenty for any single item.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_bulk_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_bulk_bytes = max_bulk_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bulk_bytes if scope.get("path", "").endswith(":bulk") else self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _send_413(send, limit)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"body: larger than the limit of {limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _send_413(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"body: larger than the limit of {max_bytes} bytes", "field": "body"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def find_nul(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Path of the first string containing a NUL character. PostgreSQL text cannot hold one, so we refuse it
    everywhere (one behaviour on every backend)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_nul(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = find_nul(item, (*path, i))
            if found is not None:
                return found
    return None


def may_hold_nul(raw: bytes) -> bool:
    """Whether a JSON body can contain a NUL character (False: it certainly does not). UTF-8 JSON can only write
    one as the escape \\u0000 (raw control characters are invalid in JSON strings); a body in UTF-16 or UTF-32,
    which ``json.loads`` also reads, has NUL bytes and so always answers True. Lets bulk uploads skip the per-item
    scan and an ad hoc search the scan of its need."""
    return b"\\u0000" in raw or b"\x00" in raw


def reject_nul(value: Any, loc_prefix: Sequence[str | int] = ("body",)) -> None:
    found = find_nul(value)
    if found is not None:
        raise BodyFieldError(".".join(str(p) for p in found), "text must not contain NUL characters", loc_prefix)


def parse_items(raw: bytes, content_type: str) -> list[Any]:
    """A bulk body: a JSON array (application/json) or one JSON value per line (application/x-ndjson)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyFieldError("body", f"not UTF-8 text ({exc.reason} at byte {exc.start})", ()) from None
    if media in ("application/x-ndjson", "application/jsonl", "application/jsonlines"):
        items: list[Any] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BodyFieldError("body", f"line {lineno}: not JSON ({exc.msg})", ()) from None
        return items
    if media in ("application/json", ""):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BodyFieldError("body", f"not JSON ({exc.msg} at line {exc.lineno})", ()) from None
        if not isinstance(data, list):
            raise BodyFieldError("body", "must be a JSON array of items (or send application/x-ndjson)", ())
        return data
    raise HTTPException(415, f"Content-Type: send application/json or application/x-ndjson, not '{media}'")
