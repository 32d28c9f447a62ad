"""Text folding for matching Danish and English labels: one canonical form per spelling variant.

Why each step:

* NFKC + lower-case: full-width and ligature forms, "SOSU" vs "sosu".
* æ→ae, ø→oe, å→aa (and the ä/ö/ü spellings Danes also meet): a keyboard without æøå writes "laegesekretaer"; we
  fold both spellings to the ASCII form so they are *identical*, not merely similar. Other accents are stripped
  (é→e) for the same reason.
* punctuation → space, whitespace collapsed: "social- og sundhedshjælper", "SOSU-hjælper".
* :func:`compact` removes spaces as well: Danish writes compounds as one word (lagermedarbejder) where English and
  sloppy Danish split them (lager medarbejder, lager-medarbejder).
* :func:`stem_token` is a deliberately light Danish/English suffix stripper for the *last* word of a title (the
  head of a compound and the one that inflects): definite/plural (-en, -et, -erne, -ere, -s) and gendered forms
  (-erske, -inde). Both labels and queries go through it, so over-stemming only merges forms, it never loses one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NON_WORD = re.compile(r"[^0-9a-z]+")
TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
"""A word for extraction: letters/digits (hyphens split words, as in 'SOSU-hjælper')."""

# Longest first; a suffix is only stripped when at least _MIN_STEM characters remain.
_SUFFIXES = ("erne", "eren", "ene", "ere", "ens", "ets", "en", "et", "er", "es", "e", "s")
_MIN_STEM = 4
# Gendered endings, cut after suffix stripping so that both forms meet at the bare stem:
# sygeplejersk(e) / sygeplejer → sygeplej, lærerind(e) / lærer → lær, værtind(e) / vært → vært.
_GENDERED = ("ersk", "erind", "ind")


def fold(text: str) -> str:
    """Canonical form: NFKC, lower-case, æøå → ae/oe/aa, accents and punctuation removed, single spaces."""
    if text.isascii():  # most English labels: skip the two Unicode normalisations
        return _NON_WORD.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKC", text).lower().translate(_DANISH)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text).strip()


def fold_char(ch: str) -> str:
    """Fold one original character; the result may be empty (a combining mark) or longer (æ → ae)."""
    out = unicodedata.normalize("NFKC", ch).lower().translate(_DANISH)
    return "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))


def compact(folded: str) -> str:
    """``fold``-ed text without spaces: compounds and their split spellings meet here."""
    return folded.replace(" ", "")


@lru_cache(maxsize=200_000)
def stem_token(token: str) -> str:
    """Strip one inflectional suffix (twice at most) and normalise gendered endings; see the module docstring."""
    for _ in range(2):
        for suffix in _SUFFIXES:
            if token.endswith(suffix) and len(token) - len(suffix) >= _MIN_STEM:
                token = token[: -len(suffix)]
                break
        else:
            break
    for ending in _GENDERED:
        if token.endswith(ending) and len(token) - len(ending) >= _MIN_STEM:
            return token[: -len(ending)]
    return token


def stem_key(folded: str) -> str:
    """Key for inflection-insensitive lookup: every word stemmed, then compacted."""
    return "".join(stem_token(t) for t in folded.split())
