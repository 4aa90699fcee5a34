"""Text scans shared by the stages: results cached per text, and regex passes tried only where
a match can start.

Stages and the grounding verifier look at the same observation strings; ``shared_scan`` lets
them share one scan. ``_scanner`` and ``matches_at`` make a lookbehind-led pattern cheap (see
there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import NamedTuple, TypeVar

R = TypeVar("R")

# Stages and the grounding verifier look at the same observation strings; the cache lets
# them share one scan (a str caches its hash, so a hit costs a dict lookup). Long texts are
# scanned afresh so the cache stays small (at most 4096 entries of 8 KB each per function).
_CACHE_ENTRIES = 4096
_CACHE_MAX_CHARS = 8192


def shared_scan(scan: Callable[[str], R]) -> Callable[[str], R]:
    """``scan`` with its results cached for texts of up to 8 KB, shared by every caller."""
    cached = lru_cache(maxsize=_CACHE_ENTRIES)(scan)

    def lookup(text: str) -> R:
        return cached(text) if len(text) <= _CACHE_MAX_CHARS else scan(text)

    lookup.__doc__ = scan.__doc__
    lookup.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return lookup


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Python's regex search tries a pattern at every position unless the pattern opens with a
# plain character class; the scanners' patterns open with lookbehinds, so a 4 KB text cost
# thousands of failed attempts. Instead, a cheap class-led pattern lists the few positions
# where a scanner's match can start (a superset), and the scanner's own pattern is tried only
# there. Matching at those positions in order, resuming after each match, gives exactly the
# matches of ``finditer``: a lookbehind sees the text before ``pos``, and no match starts
# elsewhere. On ASCII text the patterns run compiled with re.ASCII, whose classes are bitmaps:
# for ASCII characters \w and \d mean the same either way.


class Scanner(NamedTuple):
    unicode: re.Pattern[str]
    ascii: re.Pattern[str]

    def __call__(self, text: str) -> re.Pattern[str]:
        return self.ascii if text.isascii() else self.unicode


def scanner(pattern: str, flags: int = 0) -> Scanner:
    return Scanner(re.compile(pattern, flags), re.compile(pattern, flags | re.ASCII))


_URL_START_RE = re.compile(r"https?://|www\.")


def url_starts(text: str) -> list[int]:
    if "://" not in text and "www." not in text:
        return []
    return [m.start() for m in _URL_START_RE.finditer(text)]


def matches_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """The matches ``pattern.finditer(text)`` yields, given every position one can start at."""
    end = 0
    match = pattern.match
    for start in starts:
        if start >= end:
            found = match(text, start)
            if found is not None:
                end = found.end()
                yield found
