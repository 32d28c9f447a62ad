"""Acknowledged writes survive ``kill -9`` of a real ``matcher serve`` and a restart (SQLite file, WAL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from matcher.storage import open_database
from tests.api.conftest import seed_keys

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(url: str, log: Path, *options: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {**os.environ, "MATCHER_DATABASE_URL": url}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "matcher.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *options],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()  # a clean stop: with --workers, killing the supervisor would orphan its workers
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'durable.sqlite'}"
    open_database(url)[0].dispose()
    keys, employer_id, _ = seed_keys(url)
    auth = {"Authorization": f"Bearer {keys['consultant']}"}
    log = tmp_path / "server.log"
    acknowledged: dict[int, str] = {}
    with _server(url, log) as (proc, base):
        with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
            for i in range(20):
                body = {"external_ref": f"k9-{i}", "target_group": "jobparat", "postcode": "4200"}
                r = client.post("/v1/citizens", json=body)
                assert r.status_code == 201, r.text
                acknowledged[r.json()["id"]] = f"k9-{i}"
            bulk = [{"external_ref": f"k9-bulk-{i}", "target_group": "dagpenge", "postcode": "4100"} for i in range(50)]
            r = client.post("/v1/citizens:bulk", json=bulk)
            assert r.status_code == 201, r.text
            acknowledged.update(zip(r.json()["ids"], [b["external_ref"] for b in bulk], strict=True))
            need = {"title": "Lagermedarbejder", "postcode": "4200"}  # occupation normalised from the title
            r = client.post(f"/v1/employers/{employer_id}/vacancies", json=need)
            assert r.status_code == 201, r.text
            need_id = r.json()["id"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    with _server(url, log) as (_, base), httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        for cid, ref in acknowledged.items():
            r = client.get(f"/v1/citizens/{cid}")
            assert r.status_code == 200 and r.json()["external_ref"] == ref
        assert client.get("/v1/citizens", params={"limit": 1}).json()["total"] == len(acknowledged)
        r = client.get(f"/v1/vacancies/{need_id}/candidates", params={"limit": 100})
        assert r.status_code == 200, r.text  # the restarted index knows the need again
