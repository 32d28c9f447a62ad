"""Danish and English names for countries, languages, weekdays and licences, as explanations need them.

pycountry has English names only (and official ones: "Syrian Arab Republic"); the people a Danish job centre
serves come mostly from a short list of countries, which we name by hand, falling back to pycountry.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

from matcher.domain import Weekday

COUNTRY_DA: dict[str, str] = {
    "AF": "Afghanistan", "BA": "Bosnien-Hercegovina", "BD": "Bangladesh", "BG": "Bulgarien", "CN": "Kina",
    "CD": "DR Congo", "DE": "Tyskland", "DK": "Danmark", "EE": "Estland", "EG": "Egypten", "ER": "Eritrea",
    "ES": "Spanien", "ET": "Etiopien", "FI": "Finland", "FR": "Frankrig", "GB": "Storbritannien",
    "GR": "Grækenland", "HR": "Kroatien", "HU": "Ungarn", "IN": "Indien", "IQ": "Irak", "IR": "Iran",
    "IS": "Island", "IT": "Italien", "JO": "Jordan", "LB": "Libanon", "LK": "Sri Lanka", "LT": "Litauen",
    "LV": "Letland", "MA": "Marokko", "MM": "Myanmar", "NL": "Holland", "NO": "Norge", "NP": "Nepal",
    "PH": "Filippinerne", "PK": "Pakistan", "PL": "Polen", "PS": "Palæstina", "PT": "Portugal",
    "RO": "Rumænien", "RS": "Serbien", "RU": "Rusland", "SD": "Sudan", "SE": "Sverige", "SO": "Somalia",
    "SY": "Syrien", "TH": "Thailand", "TR": "Tyrkiet", "UA": "Ukraine", "US": "USA", "VN": "Vietnam",
}  # fmt: skip

COUNTRY_EN: dict[str, str] = {
    "BA": "Bosnia and Herzegovina", "CD": "DR Congo", "GB": "the United Kingdom", "IR": "Iran", "MM": "Myanmar",
    "NL": "the Netherlands", "PH": "the Philippines", "PS": "Palestine", "RU": "Russia", "SY": "Syria",
    "TR": "Turkey", "US": "the USA", "VN": "Vietnam",
}  # fmt: skip

LANGUAGE_DA: dict[str, str] = {
    "ar": "arabisk", "da": "dansk", "de": "tysk", "en": "engelsk", "es": "spansk", "fa": "persisk",
    "fr": "fransk", "it": "italiensk", "nl": "hollandsk", "no": "norsk", "pl": "polsk", "ro": "rumænsk",
    "ru": "russisk", "so": "somali", "sv": "svensk", "ti": "tigrinya", "tr": "tyrkisk", "uk": "ukrainsk",
}  # fmt: skip

WEEKDAY_DA: dict[Weekday, str] = {
    Weekday.mon: "mandag", Weekday.tue: "tirsdag", Weekday.wed: "onsdag", Weekday.thu: "torsdag",
    Weekday.fri: "fredag", Weekday.sat: "lørdag", Weekday.sun: "søndag",
}  # fmt: skip

WEEKDAY_EN: dict[Weekday, str] = {
    Weekday.mon: "Monday", Weekday.tue: "Tuesday", Weekday.wed: "Wednesday", Weekday.thu: "Thursday",
    Weekday.fri: "Friday", Weekday.sat: "Saturday", Weekday.sun: "Sunday",
}  # fmt: skip

MONTH_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December")  # fmt: skip
"""English month names, so that dates read the same whatever the process's locale (strftime's %B follows it)."""

MONTH_DA = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
            "november", "december")  # fmt: skip


@lru_cache(maxsize=1024)
def country_name(code: str, lang: str) -> str:
    """Country name in Danish (``lang='da'``) or English; the code itself if pycountry does not know it."""
    if lang == "da" and code in COUNTRY_DA:
        return COUNTRY_DA[code]
    if code in COUNTRY_EN:
        return COUNTRY_EN[code]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


@lru_cache(maxsize=1024)
def language_name(code: str, lang: str) -> str:
    if lang == "da" and code in LANGUAGE_DA:
        return LANGUAGE_DA[code]
    found = pycountry.languages.get(alpha_2=code)
    name = str(found.name) if found is not None else code
    return name.lower() if lang == "da" else name


def join_words(words: list[str], lang: str) -> str:
    """'a', 'a og b', 'a, b og c' (English: 'and')."""
    conj = " og " if lang == "da" else " and "
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + conj + words[-1]


def weekday_names(days: list[Weekday], lang: str) -> str:
    table = WEEKDAY_DA if lang == "da" else WEEKDAY_EN
    return join_words([table[d] for d in days], lang)
