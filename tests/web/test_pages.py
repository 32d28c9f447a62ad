"""End to end in headless Chromium: an employer posts a hybrid-internship need and sees anonymised candidates; a
consultant finds candidates for it, opens one and pins the match; sign-in by keyboard; the language toggle; the
session cookie and CSRF; the nightly plan page. Every page visited is saved as a screenshot artefact."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from matcher.storage import FeedbackRow, NeedRow, RankingResultRow, RankingRunRow, make_engine, session_factory
from tests.web.conftest import Live, shoot

AD_TEXT = "Vi søger en lagermedarbejder med truckcertifikat. Du skal kunne betjene gaffeltruck og holde orden."


UNLABELLED_JS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
  .map(e => e.id || e.outerHTML.slice(0, 80))"""


def unlabelled(page: Page) -> list[str]:
    """Form controls a screen reader could not name (no <label>, no aria-label, no text)."""
    found: list[str] = page.evaluate(UNLABELLED_JS)
    return found


def sign_in(page: Page, key: str) -> None:
    page.goto("/ui/login")
    page.get_by_label(re.compile("API-nøgle|API key")).fill(key)
    page.get_by_role("button", name=re.compile("Log ind|Sign in")).click()


def post_hybrid_need(page: Page, title: str) -> tuple[int, list[str]]:
    """Fill the need form as an employer would (autocomplete, ad-text extraction, hybrid slot) and save it."""
    page.goto("/ui/employer/needs/new")
    page.get_by_label("Stillingsbetegnelse").fill(title)
    page.get_by_label("Stilling (ESCO)").press_sequentially("lagerarbejder", delay=20)
    page.locator("#occupation-suggestions button").first.click()
    expect(page.locator("#occupation-chosen")).to_contain_text("✓")
    page.get_by_label("Type", exact=True).select_option("hybrid_internship")
    expect(page.locator("#hybrid")).to_be_visible()
    page.get_by_label("Postnummer").fill("4200")
    page.get_by_label("Løntimer").fill("15")
    page.get_by_label("Praktiktimer").fill("15")
    page.get_by_label("Uger").fill("13")
    page.get_by_label("Mentor på arbejdspladsen").check()
    page.get_by_label("Tilføj kompetence").press_sequentially("rengøring", delay=20)
    page.locator("#skill-suggestions button").first.click()
    expect(page.locator("#skills li")).to_have_count(1)
    page.get_by_label("Indsæt jobopslag").fill(AD_TEXT)
    page.get_by_role("button", name="Find kompetencer i teksten").click()
    expect(page.locator("#status")).to_contain_text("kompetencer fundet")
    chips = page.locator("#skills li")
    assert chips.count() >= 2, "extraction added no skill"
    before = chips.count()
    chips.last.get_by_role("button").click()  # remove one extracted skill again
    expect(chips).to_have_count(before - 1)
    page.get_by_label("Dansk mindst (CEFR)", exact=True).select_option("A2")
    page.get_by_label("Arbejdspladsen tilbyder sprogstøtte").check()
    assert unlabelled(page) == []
    chosen = [uri for uri in chips.evaluate_all("items => items.map(i => i.dataset.uri)")]
    shoot(page, "employer_need_form")
    page.get_by_role("button", name="Gem").click()
    page.wait_for_url(re.compile(r"/ui/employer/needs/\d+$"))
    return int(page.url.rsplit("/", 1)[1]), chosen


def test_employer_posts_need_then_consultant_pins_a_candidate(page: Page, live: Live) -> None:
    sign_in(page, live.keys["employer"])
    page.wait_for_url("**/ui/employer/needs")
    shoot(page, "employer_needs")
    need_id, chosen = post_hybrid_need(page, "Lagermedarbejder i hybridpraktik")

    # the stored need carries the hybrid slot and the chosen skills
    sessions = session_factory(make_engine(live.db_url))
    with sessions() as session:
        row = session.get(NeedRow, need_id)
        assert row is not None and row.employer_id == live.employer_id
        doc = row.document
    assert doc["kind"] == "hybrid_internship"
    assert doc["hybrid"] == {"paid_hours": 15.0, "internship_hours": 15.0, "weeks": 13, "mentor": True}
    assert doc["hours_per_week"] == 30.0
    assert doc["occupation_uri"].startswith("http://data.europa.eu/esco/occupation/")
    assert [s["uri"] for s in doc["essential_skills"]] == chosen
    assert doc["languages"] == [{"language": "da", "cefr": "A2", "hard": False}]

    # anonymised candidates only
    results = page.locator("#results li.result")
    expect(results.first).to_be_visible()
    expect(page.locator("#status")).to_contain_text("resultater")
    text = page.content()
    assert "cand_" in text
    leaked = [n for n in live.names if n in text] + [r for r in live.refs if r in text]
    assert not leaked, f"the employer's page shows identities: {leaked[:5]}"
    assert "/ui/consultant/citizens/" not in text
    shoot(page, "employer_candidates")

    # the employer edits the need: the form comes back filled in, and the change is stored
    page.goto(f"/ui/employer/needs/{need_id}/edit")
    expect(page.get_by_label("Stillingsbetegnelse")).to_have_value("Lagermedarbejder i hybridpraktik")
    expect(page.get_by_label("Løntimer")).to_have_value("15")
    expect(page.locator("#skills li")).to_have_count(len(chosen))
    page.get_by_label("Antal pladser").fill("2")
    page.get_by_label("Praktiktimer").fill("17")
    shoot(page, "employer_need_edit")
    page.get_by_role("button", name="Gem").click()
    page.wait_for_url(f"**/ui/employer/needs/{need_id}")
    with sessions() as session:
        edited = session.get(NeedRow, need_id)
        assert edited is not None
        assert (edited.positions, edited.document["hybrid"]["internship_hours"]) == (2, 17.0)
        assert edited.document["hours_per_week"] == 32.0
        assert [s["uri"] for s in edited.document["essential_skills"]] == chosen

    # an employer may not use the consultant pages
    page.goto("/ui/consultant/needs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Du har ikke adgang til denne side.")

    # the consultant finds the need, sees ranked candidates with bars, gates and explanations
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url("**/ui/login?msg=logged_out")
    sign_in(page, live.keys["consultant"])
    page.wait_for_url("**/ui/consultant/needs")
    page.get_by_label("Søg i titler").fill("hybridpraktik")
    page.get_by_role("button", name="Søg").click()
    shoot(page, "consultant_needs")
    page.get_by_role("link", name="Lagermedarbejder i hybridpraktik").click()
    page.wait_for_url(f"**/ui/consultant/needs/{need_id}")
    first = page.locator("#results li.result").first
    expect(first).to_be_visible()
    expect(first.locator(".bars [role=meter]").first).to_be_visible()
    expect(first.locator(".explanation li").first).to_be_visible()
    assert first.locator(".gates li, .gates-none").count() >= 1
    assert unlabelled(page) == []
    shoot(page, "consultant_candidates")

    # filters reach the API: a tiny radius leaves fewer (or no) candidates
    unfiltered = page.locator("#results li.result").count()
    page.get_by_label("Maks. afstand (km)").fill("1")
    page.get_by_role("button", name="Opdater").click()
    expect(page.locator("#status")).not_to_have_text("Henter …")
    assert page.locator("#results li.result").count() <= unfiltered
    page.get_by_label("Maks. afstand (km)").fill("")
    page.get_by_role("button", name="Opdater").click()
    expect(page.locator("#results li.result")).to_have_count(unfiltered)

    # open the third candidate (so that pinning visibly moves it up): their best needs and hybrid slots
    assert unfiltered >= 3
    link = page.locator("#results li.result").nth(2).locator("h2 a")
    citizen_id = int((link.get_attribute("href") or "").rsplit("/", 1)[1])
    link.click()
    page.wait_for_url(f"**/ui/consultant/citizens/{citizen_id}")
    expect(page.locator("#citizen-facts dd").first).to_be_visible()
    expect(page.locator("#hybrid li").first).to_be_visible()
    assert page.locator("#hybrid a", has_text="Lagermedarbejder i hybridpraktik").count() == 1
    shoot(page, "consultant_citizen")

    # back to the need, pin that candidate with a reason
    page.go_back()
    page.wait_for_url(f"**/ui/consultant/needs/{need_id}")
    item = page.locator("#results li.result").filter(has=page.locator(f'a[href$="/citizens/{citizen_id}"]'))
    item.get_by_label("Begrundelse").fill("God samtale, har truckcertifikat")
    item.get_by_role("button", name="Fastgør").click()
    expect(item.locator(".feedback .status")).to_have_text("Gemt: Fastgør.")
    shoot(page, "consultant_pinned")
    with sessions() as session:
        rows = session.scalars(
            select(FeedbackRow).where(FeedbackRow.citizen_id == citizen_id, FeedbackRow.need_id == need_id)
        ).all()
    assert [(r.kind, r.reason) for r in rows] == [("pinned", "God samtale, har truckcertifikat")]
    assert rows[0].key_id is not None

    # hide another candidate: recorded, and gone from the list once it reloads
    other = page.locator("#results li.result").filter(has_not=page.locator(f'a[href$="/citizens/{citizen_id}"]'))
    hidden_href = other.first.locator("h2 a").get_attribute("href") or ""
    hidden_id = int(hidden_href.rsplit("/", 1)[1])
    other.first.get_by_label("Begrundelse").fill("Ønsker ikke lager")
    other.first.get_by_role("button", name="Skjul").click()
    expect(page.locator(".feedback .status", has_text="Gemt: Skjul.")).to_have_count(1)
    page.reload()
    expect(page.locator("#results li.result").first).to_be_visible()
    expect(page.locator(f'#results a[href$="/citizens/{hidden_id}"]')).to_have_count(0)
    # the pinned one now leads the list
    expect(page.locator("#results li.result").first.locator(f'a[href$="/citizens/{citizen_id}"]')).to_have_count(1)
    with sessions() as session:
        kinds = session.scalars(
            select(FeedbackRow.kind).where(FeedbackRow.citizen_id == hidden_id, FeedbackRow.need_id == need_id)
        ).all()
    assert list(kinds) == ["hidden"]


def test_keyboard_only_sign_in_with_visible_focus(page: Page, live: Live) -> None:
    page.goto("/ui/login")
    # the skip link comes first, then the language toggle, then the key field
    seen = []
    for _ in range(6):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
        if seen[-1] == "key":
            break
    assert seen[-1] == "key", f"Tab never reached the key field: {seen}"
    page.keyboard.type(live.keys["consultant"])
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert page.evaluate("document.activeElement.type") == "submit"
    assert outline not in ("", "none"), "the focused button shows no focus ring"
    shoot(page, "login_focus")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/consultant/needs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find kandidater til et behov")


def test_language_toggle(page: Page, live: Live) -> None:
    page.goto("/ui/login")
    assert page.locator("html").get_attribute("lang") == "da"
    expect(page.get_by_role("heading", level=1)).to_have_text("Log ind")
    page.get_by_role("link", name="Skift sprog til engelsk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert page.locator("html").get_attribute("lang") == "en"
    shoot(page, "login_en")
    # the choice sticks (cookie) across pages, also in the script-rendered parts
    sign_in(page, live.keys["consultant"])
    page.wait_for_url("**/ui/consultant/needs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find candidates for a need")
    page.goto("/ui/consultant/needs?q=lager")
    page.get_by_role("link", name="Switch language to Danish").click()
    expect(page.get_by_label("Søg i titler")).to_have_value("lager")  # the toggle keeps the search
    page.get_by_role("link", name="Skift sprog til engelsk").click()
    expect(page.get_by_label("Search titles")).to_have_value("lager")
    page.locator("#needs tbody a").first.click()
    expect(page.locator("#results li.result").first).to_be_visible()
    expect(page.locator("#results .h4").first).to_have_text("Components")
    explanation = page.locator("#results .explanation li").first.text_content() or ""
    assert explanation and not re.search(r"[æøå]", explanation), explanation
    shoot(page, "consultant_candidates_en")
    page.get_by_role("link", name="Switch language to Danish").click()
    expect(page.locator("#results .h4").first).to_have_text("Delscorer")


def test_session_cookie_and_csrf(page: Page, live: Live) -> None:
    page.goto("/ui/login")
    page.get_by_label("API-nøgle").fill("not-a-key")
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("alert")).to_have_text("Nøglen er ukendt eller spærret.")
    page.get_by_label("API-nøgle").fill(live.keys["admin"])
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("alert")).to_contain_text("kun konsulent- og arbejdsgivernøgler")
    shoot(page, "login_error")

    sign_in(page, live.keys["consultant"])
    page.wait_for_url("**/ui/consultant/needs")
    assert live.keys["consultant"] not in page.url
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "matcher_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert live.keys["consultant"] not in page.content()
    # the proxy refuses changes without the session's CSRF token, and paths the pages do not use
    no_token = page.request.post("/ui/api/v1/matches/1/1/feedback", data={"kind": "pinned"})
    assert no_token.status == 403
    assert page.request.get("/ui/api/v1/citizens?limit=5").status == 404
    assert page.request.get("/ui/api/v1/vacancies/1").status == 200
    # logout ends the session: the proxy and the pages refuse it
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url("**/ui/login?msg=logged_out")
    assert page.request.get("/ui/api/v1/vacancies/1").status == 401
    page.goto("/ui/consultant/needs")
    page.wait_for_url("**/ui/login?msg=login_expired")


def test_plan_page(page: Page, live: Live) -> None:
    sign_in(page, live.keys["consultant"])
    page.wait_for_url("**/ui/consultant/needs")
    page.get_by_role("link", name="Natlig plan").click()
    expect(page.locator("#plan-none")).to_have_text("Ingen plan endnu.")
    shoot(page, "consultant_plan_empty")

    # a completed run with a two-pair plan, as the nightly run writes it
    sessions = session_factory(make_engine(live.db_url))
    now = dt.datetime.now(dt.UTC)
    with sessions() as session:
        run = RankingRunRow(
            status="completed",
            started_at=now,
            finished_at=now,
            report={
                "n_citizens": 120,
                "optimal": {"positions_filled": 2, "positions_total": 30, "citizens_with_proposal": 2},
            },
        )
        session.add(run)
        session.flush()
        pairs = [(1, 1, 0.91), (2, 2, 0.77)]
        for rank, (cid, nid, score) in enumerate(pairs, start=1):
            session.add(
                RankingResultRow(
                    run_id=run.id,
                    direction="plan",
                    citizen_id=cid,
                    need_id=nid,
                    rank=rank,
                    score=score,
                    components={},
                    gates=[],
                    assigned=True,
                )
            )
        session.commit()
        run_id = run.id
    try:
        page.reload()
        expect(page.locator("#plan tbody tr")).to_have_count(2)
        expect(page.get_by_text(f"Kørsel {run_id}")).to_be_visible()
        expect(page.get_by_text("2 placeringer foreslået")).to_be_visible()
        expect(page.locator("#plan-filled")).to_have_text("2 af 30 pladser besat; 2 borgere har fået et forslag.")
        expect(page.locator("#plan tbody tr").first.locator("td").last).to_have_text("0.91")
        shoot(page, "consultant_plan")
    finally:
        with sessions() as session:
            session.execute(delete(RankingResultRow).where(RankingResultRow.run_id == run_id))
            session.execute(delete(RankingRunRow).where(RankingRunRow.id == run_id))
            session.commit()
