"""Load test of the HTTP service on loopback: bulk upload of 10k citizens, then searches/s and latency.

Starts a real ``matcher serve --workers N`` (default 2, one per core of the 2-core target machine; each worker
keeps its own index in step through the database's change feed) on 127.0.0.1 with a fresh SQLite file, uploads
synthetic citizens and needs through the bulk endpoints (timed), then hammers
``GET /v1/vacancies/{id}/candidates`` from a thread pool for a fixed time and prints searches/s, p50/p95/p99 and
errors — first with every list already computed once (the service caches ranked lists between writes), then
with a cache-defeating parameter so the engine ranks every request — and a shorter run of ad-hoc
``POST /v1/search/candidates``. The clients are httpx in threads on the same machine, so they share its cores
with the server. Everything is bounded in time.

    .venv/bin/python benchmarks/api_load.py [--citizens 10000] [--needs 300] [--seconds 20] [--threads 8] [--rounds 3]
        [--workers 2]
    .venv/bin/python benchmarks/api_load.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

When ``wrk`` is installed (Debian package ``wrk``) all three phases are also measured with it, ``--rounds``
times each (median reported): a C client that takes far less CPU than Python threads, so on a 2-core machine it
shows the server's own rate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matcher.storage import EmployerRepository, KeyRepository, open_database, transaction  # noqa: E402
from matcher.synthetic import generate  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def hammer(base: str, key: str, make_request: object, seconds: float, threads: int) -> dict[str, float]:
    """Requests from ``threads`` keep-alive clients for ``seconds``; returns throughput and latency in ms."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                response = make_request(client, rng)  # type: ignore[operator]
                mine.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    bad += 1
        with lock:
            latencies.extend(mine)
            errors += bad

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "median": statistics.median(latencies) if latencies else float("nan"),
        "errors": errors,
    }


WRK_CACHED = """
math.randomseed(7)
local ids = {%(ids)s}
request = function()
  return wrk.format("GET", "/v1/vacancies/" .. ids[math.random(#ids)] .. "/candidates?limit=20")
end
"""

WRK_UNCACHED = """
local ids = {%(ids)s}
init = function(args)
  -- seeded per thread and per run (a table's address differs per thread): a replayed sequence would hit the cache
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%%x+)"), 16))
end
request = function()
  -- a distinct, negligible min_score per request defeats the list cache: the engine ranks every time
  local q = string.format("/candidates?limit=20&min_score=%%.18f", math.random(1, 1000000000) * 1e-18)
  return wrk.format("GET", "/v1/vacancies/" .. ids[math.random(#ids)] .. q)
end
"""

WRK_AD_HOC = """
math.randomseed(7)
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
wrk.headers["Content-Type"] = "application/json"  -- kept with the -H Authorization header
request = function()
  return wrk.format("POST", "/v1/search/candidates", nil, bodies[math.random(#bodies)])
end
"""


def run_wrk(
    base: str, key: str, script_text: str, seconds: float, workdir: Path, rounds: int, warmup: float = 0
) -> str | None:
    """wrk (2 threads, 8 connections) with the given Lua request script, ``rounds`` runs one after another, or
    None without wrk. Each round adds audit rows, and a SQLite service slows as its audit log grows, so every
    round is printed and the median taken. ``warmup``: seconds of the same load first, not measured."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = workdir / "requests.lua"
    script.write_text(script_text, encoding="utf-8")
    lines, rates = [], []
    for i in range(-1 if warmup else 0, rounds):
        out = subprocess.run(
            [wrk, "-t2", "-c8", f"-d{int(warmup if i < 0 else seconds)}s", "--latency", "-s", str(script),
             "-H", f"Authorization: Bearer {key}", base],
            capture_output=True, text=True, timeout=seconds + warmup + 60, check=False,
        )  # fmt: skip
        if i < 0:
            continue
        found = {}
        for line in out.stdout.splitlines():
            parts = line.split()
            if line.strip().startswith(("50%", "90%", "99%")):
                found[parts[0]] = parts[1]
            elif line.startswith("Requests/sec:"):
                rates.append(float(parts[1]))
                found["req/s"] = parts[1]
            elif line.strip().startswith(("Non-2xx", "Socket errors")):
                found["errors"] = line.strip()
        lines.append(f"  round {i + 1}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    if rates:
        lines.append(f"  median {statistics.median(rates):.0f} req/s over {len(rates)} rounds of {int(seconds)} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=10_000)
    parser.add_argument("--needs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds per phase (median reported)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (matcher serve --workers)")
    parser.add_argument(
        "--postgres", metavar="URL",
        help="run against PostgreSQL at URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) in a fresh "
        "schema, dropped at the end; default: a fresh SQLite file",
    )  # fmt: skip
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="matcher-load-"))
    schema = None
    if args.postgres:
        schema = f"matcher_load_{os.getpid()}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in args.postgres else "?"
        url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{workdir / 'load.sqlite'}"
    world = generate(args.citizens, args.needs, seed=11)
    db, sessions = open_database(url)
    with transaction(sessions) as session:
        employer_ids = [EmployerRepository(session).add(e).id for e in world.employers]
        _, key = KeyRepository(session).create("consultant", label="load test")
    db.dispose()
    citizens = [c.model_dump(mode="json", exclude_none=True) for c in world.citizens]
    needs = [
        {**v.model_dump(mode="json", exclude_none=True), "employer_id": employer_ids[v.employer_id - 1]}
        for v in world.vacancies
    ]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "matcher.cli", "serve", "--port", str(port), "--log-level", "warning",
         "--workers", str(args.workers)],
        env={**os.environ, "MATCHER_DATABASE_URL": url}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    try:
        t0 = time.monotonic()
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() - t0 > 240:
                raise SystemExit(f"server did not start; see {workdir / 'server.log'}")
            time.sleep(0.3)
        print(f"server up in {time.monotonic() - t0:.1f} s (pid {server.pid}, {args.workers} worker(s), {base})")
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=auth, timeout=300) as client:
            body = json.dumps(citizens).encode()
            t0 = time.perf_counter()
            r = client.post("/v1/citizens:bulk", content=body, headers={"Content-Type": "application/json"})
            bulk_s = time.perf_counter() - t0
            assert r.status_code == 201, r.text[:500]
            print(f"bulk upload: {len(citizens)} citizens ({len(body) / 1e6:.1f} MB) in {bulk_s:.2f} s "
                  f"(target ≤ 20 s) — normalisation, one transaction, index update")  # fmt: skip
            t0 = time.perf_counter()
            r = client.post("/v1/vacancies:bulk", json=needs)
            assert r.status_code == 201, r.text[:500]
            need_ids = r.json()["ids"]
            print(f"bulk upload: {len(needs)} needs in {time.perf_counter() - t0:.2f} s")

        def candidates(client: httpx.Client, rng: random.Random) -> httpx.Response:
            return client.get(f"/v1/vacancies/{rng.choice(need_ids)}/candidates", params={"limit": 20})

        def uncached(client: httpx.Client, rng: random.Random) -> httpx.Response:
            # a distinct, negligible min_score per request defeats the list cache: the engine ranks every time
            params = {"limit": 20, "min_score": f"{rng.randint(1, 10**9) * 1e-18:.18f}"}
            return client.get(f"/v1/vacancies/{rng.choice(need_ids)}/candidates", params=params)

        def ad_hoc(client: httpx.Client, rng: random.Random) -> httpx.Response:
            return client.post("/v1/search/candidates", json={"need": rng.choice(needs), "limit": 20})

        t0 = time.perf_counter()
        with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
            for nid in need_ids:  # steady state: every list computed once since the last write
                client.get(f"/v1/vacancies/{nid}/candidates", params={"limit": 20})
        print(f"first (uncached) list for each of {len(need_ids)} needs: {time.perf_counter() - t0:.1f} s")
        ids = ", ".join(str(i) for i in need_ids)
        bodies = workdir / "bodies.jsonl"
        bodies.write_text("".join(json.dumps({"need": n, "limit": 20}) + "\n" for n in needs), encoding="utf-8")
        # every worker holds its own list cache, and the loop above reached only some of them: the cached phase
        # starts with a few unmeasured seconds of its own load, which spreads over all workers
        warm = 5.0 if args.workers > 1 else 0.0
        for name, script, warmup in (
            ("GET /v1/vacancies/{id}/candidates, lists cached", WRK_CACHED % {"ids": ids}, warm),
            ("GET /v1/vacancies/{id}/candidates, engine every time", WRK_UNCACHED % {"ids": ids}, 0.0),
            ("POST /v1/search/candidates (ad hoc, engine every time)", WRK_AD_HOC % {"bodies": bodies}, 0.0),
        ):
            summary = run_wrk(base, key, script, args.seconds, workdir, args.rounds, warmup)
            if summary is None:
                break
            print(f"{name}, wrk (2 threads, 8 connections):\n{summary}")
        short = max(5.0, args.seconds / 3)
        for name, fn, seconds in (
            ("GET /v1/vacancies/{id}/candidates, lists cached", candidates, args.seconds),
            ("GET /v1/vacancies/{id}/candidates, engine every time", uncached, short),
            ("POST /v1/search/candidates (ad hoc, engine every time)", ad_hoc, short),
        ):
            res = hammer(base, key, fn, seconds, args.threads)
            print(
                f"{name}: {res['per_s']:.0f} searches/s over {seconds:.0f} s with {args.threads} client threads, "
                f"{args.citizens} citizens; latency ms median {res['median']:.1f} p95 {res['p95']:.1f} "
                f"p99 {res['p99']:.1f}; errors {res['errors']} of {res['requests']:.0f} "
                f"(targets ≥ 300/s, p99 ≤ 250 ms, 0 errors)"
            )
    finally:
        died = server.poll()  # the server must still be up here: if not, keep its log for the next engineer
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if died is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            tail = (workdir / "server.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            print(f"SERVER EXITED DURING THE RUN (exit status {died}); log kept: {workdir / 'server.log'}\n{tail}")
        if schema is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
