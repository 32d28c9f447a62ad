"""Fast checks without a browser: the string tables are complete in both languages, and the browser fixture
skips or fails as documented when Chromium is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.domain import NeedKind, TargetGroup
from matcher.scoring import COMPONENTS, GATE_NAMES
from matcher.web._i18n import COMPONENT, GATE, KIND, STRINGS, TARGET_GROUP
from tests.web.conftest import require_browser


def test_both_languages_have_the_same_strings() -> None:
    assert set(STRINGS["da"]) == set(STRINGS["en"])
    for table in (KIND, TARGET_GROUP, COMPONENT, GATE):
        assert set(table["da"]) == set(table["en"])
    different = [k for k in STRINGS["da"] if STRINGS["da"][k] != STRINGS["en"][k]]
    assert len(different) > 0.9 * len(STRINGS["da"]), "most strings should actually be translated"


def test_every_enum_value_has_a_label() -> None:
    assert set(KIND["da"]) == {k.value for k in NeedKind}
    assert set(TARGET_GROUP["da"]) == {g.value for g in TargetGroup}
    assert set(GATE["da"]) == set(GATE_NAMES.values())
    assert set(COMPONENTS) <= set(COMPONENT["da"])


def test_missing_browser_skips_locally_and_fails_in_ci(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    with pytest.raises(pytest.skip.Exception):
        require_browser(missing, None)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_browser(missing, "true")
    missing.touch()
    require_browser(missing, "true")  # present: neither
