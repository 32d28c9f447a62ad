"""Browser-test fixtures: the real app (real taxonomy and match engine) served by uvicorn on a random local port,
a temporary SQLite database filled with a small synthetic Slagelse population, a key per role, and Debian's
chromium driven by Playwright. No browser is ever downloaded: a missing /usr/bin/chromium skips these tests on a
developer machine and fails them in CI (``CI=true``)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from matcher.api import create_app
from matcher.config import Settings
from matcher.storage import (
    CitizenRepository,
    EmployerRepository,
    KeyRepository,
    NeedRepository,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from matcher.synthetic import generate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TODAY = dt.date(2026, 11, 1)


@dataclass(frozen=True)
class Live:
    """The running app: its base URL, database URL, keys, and the identities the employer must never see."""

    url: str
    db_url: str
    keys: dict[str, str]
    employer_id: int
    names: list[str]
    refs: list[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _seed(db_url: str) -> tuple[dict[str, str], int, list[str], list[str]]:
    data = generate(120, 24, seed=7, today=TODAY)
    engine = make_engine(db_url)
    upgrade(engine)
    with transaction(session_factory(engine)) as session:
        employer_ids = [EmployerRepository(session).add(e).id for e in data.employers]
        vacancies = [v.model_copy(update={"employer_id": employer_ids[v.employer_id - 1]}) for v in data.vacancies]
        CitizenRepository(session).add_many(data.citizens)
        NeedRepository(session).add_many(vacancies)
        keys = KeyRepository(session)
        out = {
            "admin": keys.create("admin")[1],
            "consultant": keys.create("consultant")[1],
            "employer": keys.create("employer", employer_id=employer_ids[0])[1],
        }
    engine.dispose()
    names = [c.name for c in data.citizens if c.name]
    refs = [c.external_ref for c in data.citizens]
    return out, employer_ids[0], names, refs


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.sqlite'}"
    keys, employer_id, names, refs = _seed(db_url)
    app = create_app(Settings(database_url=db_url))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-web-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start (see the log above)")
        time.sleep(0.1)
    try:
        yield Live(f"http://127.0.0.1:{port}", db_url, keys, employer_id, names, refs)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def require_browser(path: Path, ci: str | None) -> None:
    """Skip when the browser is missing on a developer machine; fail when it is missing in CI."""
    if path.exists():
        return
    reason = f"{path} is missing (install Debian's chromium: apt-get install -y chromium)"
    if (ci or "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require_browser(CHROMIUM, os.environ.get("CI"))

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, with a short default timeout so a broken page fails fast."""
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900}, locale="da-DK")
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def shoot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
