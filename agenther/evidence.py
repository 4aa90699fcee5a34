"""Numbers and named things a run's text mentions, found cheaply and deterministically.

Stage 2 reports them as the run's outcome; the grounding verifier checks that every number and
entity of a hindsight prompt occurs in ``collect_evidence(run)``. Both sides use the same
extraction, so "1,000", "1000" and "$1000.00" compare equal and list numbering ("1)", "2.",
"(3)", "#4"), identifiers (AlphaFold3, gpt-4o, hashes) and URLs never count as quantities.

Everything is a few precompiled regex passes per text; no NLP model is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from functools import lru_cache
from typing import NamedTuple, TypeVar

from agenther.models import FailedTrajectory

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


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Python's regex search tries a pattern at every position unless the pattern opens with a
# plain character class; the scanners' patterns open with lookbehinds, so a 4 KB text cost
# thousands of failed attempts. Instead, a cheap class-led pattern lists the few positions
# where a scanner's match can start (a superset), and the scanner's own pattern is tried only
# there. Matching at those positions in order, resuming after each match, gives exactly the
# matches of ``finditer``: a lookbehind sees the text before ``pos``, and no match starts
# elsewhere. On ASCII text the patterns run compiled with re.ASCII, whose classes are bitmaps:
# for ASCII characters \w and \d mean the same either way.


class _Scanner(NamedTuple):
    unicode: re.Pattern[str]
    ascii: re.Pattern[str]

    def __call__(self, text: str) -> re.Pattern[str]:
        return self.ascii if text.isascii() else self.unicode


def _scanner(pattern: str, flags: int = 0) -> _Scanner:
    return _Scanner(re.compile(pattern, flags), re.compile(pattern, flags | re.ASCII))


_URL_START_RE = re.compile(r"https?://|www\.")


def _url_starts(text: str) -> list[int]:
    if "://" not in text and "www." not in text:
        return []
    return [m.start() for m in _URL_START_RE.finditer(text)]


def _matches_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """The matches ``pattern.finditer(text)`` yields, given every position one can start at."""
    end = 0
    match = pattern.match
    for start in starts:
        if start >= end:
            found = match(text, start)
            if found is not None:
                end = found.end()
                yield found


# --- numbers -----------------------------------------------------------------------------------

_SCALES = {
    "k": 10**3,
    "K": 10**3,
    "thousand": 10**3,
    "M": 10**6,
    "mn": 10**6,
    "million": 10**6,
    "B": 10**9,
    "bn": 10**9,
    "billion": 10**9,
    "trillion": 10**12,
}

# URLs and ISO dates are matched as whole tokens so the digits inside them are not read as
# separate quantities; a number must not touch a word character, "." or "#" on its left
# (identifiers, versions, "#4") nor a word character on its right unless that is its unit.
_NUMBER_RE = _scanner(
    r"""
    (?=[\d$€£¥.\-−hw])(?:
      (?P<url>\b(?:https?://|www\.)[^\s<>"')\]]+)
    | (?<![\w.])(?P<date>\d{4}-\d{2}-\d{2})(?![\w-])
    | (?<![\w.#])(?<![A-Za-z_][-−])
      (?P<sign>[-−])?
      (?P<cur>[$€£¥])?
      (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
      (?P<exp>[eE][-+]?\d+)?
      (?P<ver>(?:\.\d+)+)?
      (?:\s(?P<word>thousand|million|billion|trillion)\b)?
      (?P<unit>%|[A-Za-z]{1,5})?
      (?![\w])
    )
    """,
    re.VERBOSE,
)

# Where a match of _NUMBER_RE can start besides a URL: a digit, sign, currency or "." that
# follows no word character or "." (the weakest of its branches' lookbehinds).
_NUMBER_START_RE = _scanner(r"[\d$€£¥.\-−](?<![\w.].)")


def _number_matches(text: str) -> Iterator[re.Match[str]]:
    starts = [m.start() for m in _NUMBER_START_RE(text).finditer(text)]
    urls = _url_starts(text)
    if urls:
        starts = sorted({*starts, *urls})
    return _matches_at(_NUMBER_RE(text), text, starts)


# Beyond a float's range no quantity is meant: "5577e7998565" is a hex id, and its decimal
# form would overflow (or run to millions of digits).
_MAX_EXPONENT = 308

# Characters after which a bare small integer starts a list item ("Results: 1) ...").
_ITEM_BOUNDARY = frozenset("\n:;.!?")


class Quantity(NamedTuple):
    """One quantity as written (``raw``) and as compared (``value``).

    A NamedTuple because thousands are built per second and a frozen dataclass is far
    slower to construct."""

    raw: str
    value: str
    currency: str = ""
    unit: str = ""


# Values are exact however many digits a number has (the default context would round past
# 28): a value's digits are then always those written, which ``may_state`` relies on.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


# Values recur (counts, prices, years), and a Decimal round trip costs microseconds.
@lru_cache(maxsize=16384)
def _canonical(
    sign: str | None, num: str, exp: str | None, word: str | None, unit: str | None
) -> str:
    scale = _SCALES.get(word or "") or _SCALES.get(unit or "")
    if not exp and not scale:
        whole, _, fraction = num.replace(",", "").partition(".")
        fraction = fraction.rstrip("0")
        value = str(int(whole or "0")) + ("." + fraction if fraction else "")
    else:
        dec = Decimal(num.replace(",", "") + (exp or ""))
        if scale:
            dec = _EXACT.multiply(dec, scale)
        value = format(_EXACT.normalize(dec), "f")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
    if sign and value.strip("0."):
        value = "-" + value
    return value


def _list_number(text: str, start: int, end: int, num: str, previous: int) -> int | None:
    """The item number if ``num`` (a bare integer at ``start:end``) numbers a list item
    ("1)", "(2)", "3."), else None.

    A marker stands at the start of an item (text start, a new line or after ":;.!?"), or
    continues the list the previous marker started ("1) apples 2) pears").
    """
    if len(num) > 3 or not num.isdigit():
        return None
    after = text[end : end + 1]
    if after == ")" and start and text[start - 1] == "(":
        return int(num)
    if after == ")" or (after == "." and text[end + 1 : end + 2] in ("", " ", "\n", "\t")):
        value = int(num)
        if previous and value == previous + 1:
            return value
        i = start - 1
        while i >= 0 and text[i] in " \t":
            i -= 1
        if i < 0 or text[i] in _ITEM_BOUNDARY:
            return value
    return None


def _inside_identifier(text: str, start: int) -> bool:
    """ "72B" in "Qwen2.5-72B": a hyphen joins it to a token that starts with a letter.

    (A letter right before the hyphen is excluded by the regex; this catches the digit case,
    which is otherwise a range such as "5-10".)
    """
    if start < 2 or text[start - 1] not in "-−" or not text[start - 2].isdigit():
        return False
    i = start - 2
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "._"):
        i -= 1
    return text[i].isalpha()


_GROUPS = ("url", "date", "sign", "cur", "num", "exp", "ver", "word", "unit")


@shared_scan
def _quantities(text: str) -> tuple[Quantity, ...]:
    seen: set[tuple[str, str]] = set()
    found: list[Quantity] = []
    last_item = 0
    for match in _number_matches(text):
        url, date, sign, cur, num, exp, ver, word, unit = match.group(*_GROUPS)
        if url:
            continue
        if date:
            quantity = Quantity(raw=date, value=date)
        else:
            start = match.start()
            if not (cur or sign or unit or word or exp or ver):
                item = _list_number(text, start, match.end(), num, last_item)
                if item is not None:
                    last_item = item
                    continue
            if _inside_identifier(text, start) or (exp and abs(int(exp[1:])) > _MAX_EXPONENT):
                continue
            if ver:
                quantity = Quantity(raw=match.group(0), value=num + ver)
            else:
                quantity = Quantity(
                    raw=match.group(0),
                    value=_canonical(sign, num, exp, word, unit),
                    currency=cur or "",
                    unit=unit or word or "",
                )
        key = (quantity.value, quantity.currency)
        if key not in seen:
            seen.add(key)
            found.append(quantity)
    return tuple(found)


# Whether a text can state a value at all, without scanning it. Every way of writing a value
# ("4,320", "4320.00", "$4.32k", "43.2e2") puts its significant digits (no sign, point or
# zeros at either end) in a row once the text's "," and "." are removed: the scale and the
# exponent only shift the point, and values are never rounded (``_EXACT``).
_PLAIN_VALUE_RE = re.compile(r"-?\d+(?:\.\d+)?")


@lru_cache(maxsize=16384)
def _significant_digits(value: str) -> str:
    """The digits every writing of ``value`` holds in a row ("" when that is not known)."""
    if not _PLAIN_VALUE_RE.fullmatch(value):
        return ""  # a date or a dotted version
    return value.lstrip("-").replace(".", "").strip("0")


@shared_scan
def _digit_text(text: str) -> str:
    return text.replace(",", "").replace(".", "")


def may_state(text: str, values: Iterable[str]) -> bool:
    """False only when no quantity of ``text`` can have one of ``values``: a cheap test that
    spares a number scan of texts that cannot back a claim."""
    digits = None
    for value in values:
        needed = _significant_digits(value)
        if not needed or needed in text:
            return True
        if digits is None:
            digits = _digit_text(text)
        if needed in digits:
            return True
    return False


def extract_quantities(text: str) -> list[Quantity]:
    """Quantities in ``text`` in order of appearance, each value (per currency) once."""
    return list(_quantities(text))


def extract_numbers(text: str) -> list[str]:
    """Canonical values (see ``normalize_number``) of the quantities in ``text``, each once."""
    return list(dict.fromkeys(q.value for q in _quantities(text)))


def normalize_number(s: str) -> str:
    """The comparable form of a written quantity: "1,000", "1000", "$1000.0" → "1000";
    "3.5e6" → "3500000"; "2.5 million" → "2500000". Text with no quantity is only lowered."""
    for quantity in extract_quantities(s.strip()):
        return quantity.value
    return s.strip().lower()


# Digit runs as a reader compares them ("2,630.50", "18:00", "5.2"), digits inside identifiers
# included ("TR-220"): a hindsight prompt is checked against the observations that way, and a
# number only the agent's answer or its own tool arguments show is not the environment's word.
_FIGURE_RE = re.compile(r"\d+(?:[.,:]\d+)*")
# A decimal comma: one or two digits after the only comma ("299,97", "31,60 €"), with dots
# grouping thousands before it ("184.350,00"); three digits after a comma group thousands.
_DECIMAL_COMMA_RE = re.compile(r"(?:\d{1,3}(?:\.\d{3})+|\d+),\d{1,2}")


def normal_figure(figure: str) -> str:
    """``figure`` as one notation writes it: "184.350,00" and "184,350.00" are "184350.00",
    the "04" of "04/10/2024" is 4."""
    figure = figure.rstrip(".:")
    if "," in figure:  # most figures have none: skip the regex
        if _DECIMAL_COMMA_RE.fullmatch(figure):
            return figure.replace(".", "").replace(",", ".")
        figure = figure.replace(",", "")
    if figure[:1] == "0" and figure.isdigit():
        return figure.lstrip("0") or "0"
    return figure


@lru_cache(maxsize=4096)
def figures(text: str) -> frozenset[str]:
    """The digit runs of ``text``, thousands separators and trailing stops removed, a decimal
    comma written as a point."""
    return frozenset(normal_figure(m) for m in _FIGURE_RE.findall(text))


def figures_of(texts: Iterable[str]) -> frozenset[str]:
    """``figures`` of the texts joined by newlines (no figure spans a newline), each text's
    figures cached on their own: a run's joined observations are a new string every time."""
    return frozenset().union(*(figures(text) for text in texts))


# --- entities ----------------------------------------------------------------------------------

_FILE_EXTENSIONS = _word_set(
    """
    csv tsv xlsx xls json jsonl yaml yml toml ini cfg xml html htm md txt log pdf doc docx ppt
    pptx py ipynb js ts tsx jsx go rs java kt rb php cpp hpp cc c h cs swift sh sql parquet avro
    png jpg jpeg gif svg zip tar gz tgz
    """
)

# A capitalised token: CamelCase, a word with digits (AlphaFold3, GPT-4o), an acronym or a
# Title-case word. Sequences of them separated by single spaces form one multiword name.
_DIGIT_TAIL = r"-?\d(?:[\w-]|\.(?=\w))*+"
# An apostrophe inside a name keeps it whole: "O'Hare", "McDonald's", "Sant'Angelo".
_CAP_TOKEN = rf"[A-Z][A-Za-z]*+(?:{_DIGIT_TAIL})?(?:['’][A-Za-z]++)?"
_LOWER_ID = rf"[a-z]++{_DIGIT_TAIL}"
# Every branch starts at a word start, so the shared (?<!\w) rejects positions inside words
# at once; possessive quantifiers keep a failing branch from backtracking through a word.
# A dotted token ("report.csv", "a/b.json") is a file name if its extension is a known one;
# that is checked in Python, which is cheaper than a regex alternation of extensions.
_ENTITY_RE = _scanner(
    rf"""
    (?<!\w)(?:
      (?P<url>(?:https?://|www\.)[^\s<>"')\]]+)
    | (?<!['"`])(?P<q>['"`])(?P<quoted>[^'"`\n]{{1,60}}?)(?P=q)(?![\w'"`])
    | (?<![/.-])(?P<file>[\w-]++(?:[./][\w-]++)++)
    | (?<![$€£¥#.-])(?:(?P<cap>{_CAP_TOKEN}(?:[ ]{_CAP_TOKEN})*)|(?P<ident>{_LOWER_ID}))(?![\w-])
    )
    """,
    re.VERBOSE,
)

# Where a match of _ENTITY_RE can start: a quote or capital letter at a word start, or the
# start of a file name or lower-case identifier ("report.csv", "gpt-4o"). The telling part of
# those comes later in the word, so they are looked for in the reversed text, where it comes
# first and the word's start is where the match ends. (Matches cannot overlap: only a file
# name's run can hold a capital or digit, and it then starts where the file name does.)
_REVERSED_ENTITY_START_RE = _scanner(
    r"""[A-Z'"`./\d](?:
      (?<=[A-Z'"`])(?!\w)
    | (?<=[\w-][./])[\w-]++
    | (?<=\d)-?[a-z]++
    )""",
    re.VERBOSE,
)


def _entity_matches(text: str) -> Iterator[re.Match[str]]:
    size = len(text)
    reversed_text = text[::-1]
    starts = [size - m.end() for m in _REVERSED_ENTITY_START_RE(text).finditer(reversed_text)]
    starts.reverse()
    urls = _url_starts(text)
    if urls:
        starts = sorted({*starts, *urls})
    return _matches_at(_ENTITY_RE(text), text, starts)


# Words that are capitalised for grammar, not because they name something.
_STOP_WORDS = _word_set(
    """
    a an the this that these those it its i i'm i've i'll i'd we you he she they my our your
    their his her me us them and or but nor if then so yet no not none yes ok okay all any
    some each every both either neither here there what which who whom whose when where why
    how let please note also however therefore thus hence because since while although though
    after before during until unless with without within from into onto for of on in at by to
    as is are was were be been being do does did done has have had can could will would shall
    should may might must error warning info debug success failed failure true false null none
    step result results summary found based unable
    """
)

_SENTENCE_END = frozenset("\n.!?:;")
_MAX_QUOTED_WORDS = 6


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"'([*-":
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


def _is_plain_word(token: str) -> bool:
    """A Title-case dictionary-looking word ("Found"), unlike "MetalWorks", "API", "GPT4"."""
    return token[:1].isupper() and token[1:].islower() and token.isalpha()


def _clean_name(words: list[str]) -> str:
    while words and words[0].lower() in _STOP_WORDS:
        words = words[1:]
    while words and words[-1].lower() in _STOP_WORDS:
        words = words[:-1]
    name = " ".join(words)
    return name[:-2] if name.endswith("'s") else name


def extract_entities(text: str) -> list[str]:
    """Named things in ``text`` as written, in order of appearance, each once (case-insensitive).

    Quoted names, file names, CamelCase and digit-bearing product names, acronyms and
    capitalised multiword names count. A plain capitalised word that opens a sentence is taken
    for an ordinary word and skipped, unless more plain capitalised words follow it; stop
    words are trimmed from names.
    """
    return list(_entities(text))


# The same names recur across runs (JSON keys, product and company names), so what a matched
# name stands for is worked out once; only whether a capitalised name opens a sentence
# depends on the text around it.
_NAME_CACHE_ENTRIES = 16384


@lru_cache(maxsize=_NAME_CACHE_ENTRIES)
def _quoted_name(quoted: str) -> str:
    quoted = quoted.strip()
    if len(quoted.split()) <= _MAX_QUOTED_WORDS and any(c.isalnum() for c in quoted):
        return quoted
    return ""


@lru_cache(maxsize=_NAME_CACHE_ENTRIES)
def _file_name(name: str) -> str:
    return name if name.rpartition(".")[2].lower() in _FILE_EXTENSIONS else ""


@lru_cache(maxsize=_NAME_CACHE_ENTRIES)
def _cap_names(cap: str) -> tuple[str, str]:
    """The name a capitalised match gives inside a sentence, and when it opens one."""
    words = cap.split(" ")
    name = _clean_name(words)
    # A sentence opener is an ordinary word unless the name goes on in the same shape
    # ("Acme Widgets"): "Search API" and "Contact MetalWorks" lose their first word.
    if _is_plain_word(words[0]) and not (
        len(words) > 1 and all(_is_plain_word(w) for w in words[1:])
    ):
        return name, _clean_name(words[1:])
    return name, name


@shared_scan
def _entities(text: str) -> tuple[str, ...]:
    seen: set[str] = set()
    found: list[str] = []
    for match in _entity_matches(text):
        kind = match.lastgroup  # the branch that matched: its group closes last
        if kind == "cap":
            inside, opening = _cap_names(match.group(kind))
            if inside != opening and _sentence_initial(text, match.start()):
                inside = opening
            name = inside
        elif kind == "quoted":
            name = _quoted_name(match.group(kind))
        elif kind == "file":
            name = _file_name(match.group(kind))
        elif kind == "ident":
            name = match.group(kind)
        else:  # a URL
            continue
        key = name.lower()
        if key and key not in seen and key not in _STOP_WORDS:
            seen.add(key)
            found.append(name)
    return tuple(found)


# --- evidence of one run -----------------------------------------------------------------------


class Evidence:
    """What a run's observations and final answer mention, lower-cased.

    The user's prompt and the agent's thoughts are left out on purpose: a hindsight prompt
    may only assert what the environment (or the delivered answer) actually shows.
    ``money`` holds the values written with a currency sign, so "$5" is not taken as backed
    by "5 results".

    Built by ``collect_evidence``, the numbers and entities are scanned for only when first
    read: a verifier mostly asks about a handful of terms, and ``has_entity`` can answer from
    the text alone (see there).
    """

    __slots__ = ("_ascii", "_entities", "_figures", "_money", "_numbers", "_parts", "_text")

    def __init__(
        self,
        numbers: frozenset[str],
        entities: frozenset[str],
        text: str,
        money: frozenset[str] = frozenset(),
    ) -> None:
        self._text = text
        self._parts: tuple[str, ...] = (text,)
        self._ascii = False
        self._figures: frozenset[str] | None = None
        self._numbers: frozenset[str] | None = numbers
        self._money: frozenset[str] | None = money
        self._entities: frozenset[str] | None = entities

    @classmethod
    def of_texts(cls, parts: Sequence[str]) -> Evidence:
        """The evidence ``parts`` (observations, final answer) give, scanned when read."""
        evidence = cls.__new__(cls)
        evidence._text = "\n".join(parts).lower()
        evidence._parts = tuple(parts)
        evidence._ascii = all(part.isascii() for part in parts)
        evidence._numbers = evidence._money = evidence._entities = evidence._figures = None
        return evidence

    @property
    def text(self) -> str:
        return self._text

    @property
    def numbers(self) -> frozenset[str]:
        if self._numbers is None:
            self._scan_quantities()
        assert self._numbers is not None
        return self._numbers

    @property
    def money(self) -> frozenset[str]:
        if self._money is None:
            self._scan_quantities()
        assert self._money is not None
        return self._money

    @property
    def entities(self) -> frozenset[str]:
        if self._entities is None:
            # Scanned text by text (not joined) so the scans Stage 1 and 2 made are reused.
            self._entities = frozenset(
                name.lower() for part in self._parts for name in _entities(part)
            )
        return self._entities

    @property
    def figures(self) -> frozenset[str]:
        """``figures`` of the text, from the cached scans of its parts."""
        if self._figures is None:
            self._figures = figures_of(self._parts)
        return self._figures

    def _scan_quantities(self) -> None:
        numbers: set[str] = set()
        money: set[str] = set()
        for part in self._parts:
            for quantity in _quantities(part):
                numbers.add(quantity.value)
                if quantity.currency:
                    money.add(quantity.value)
        self._numbers, self._money = frozenset(numbers), frozenset(money)

    def has_value(self, value: str, *, money: bool = False) -> bool:
        """Whether a quantity of this value (written with a currency sign, if ``money``)
        occurs; texts that cannot state it are not scanned."""
        if self._numbers is not None:
            return value in (self.money if money else self.numbers)
        values = (value,)
        return any(
            (q.value == value and (q.currency or not money))
            for part in self._parts
            if may_state(part, values)
            for q in _quantities(part)
        )

    def has_number(self, written: str) -> bool:
        quantities = extract_quantities(written.strip())
        if not quantities:
            return written.strip().lower() in self.numbers
        quantity = quantities[0]
        return self.has_value(quantity.value, money=bool(quantity.currency))

    def has_entity(self, name: str) -> bool:
        """Known as an entity, or at least mentioned verbatim (case-insensitive).

        An entity is a piece of its text, so on ASCII texts (where lower-casing goes character
        by character) every entity is also mentioned verbatim, and the scan is not needed.
        """
        key = name.strip().lower()
        if key and key in self._text:
            return True
        return not self._ascii and key in self.entities

    def _fields(self) -> tuple[frozenset[str], frozenset[str], str, frozenset[str]]:
        return self.numbers, self.entities, self._text, self.money

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evidence):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        numbers, entities, text, money = self._fields()
        return (
            f"Evidence(numbers={numbers!r}, entities={entities!r}, text={text!r}, money={money!r})"
        )


def evidence_texts(t: FailedTrajectory) -> list[str]:
    """Observations and final answer: the texts evidence is drawn from."""
    parts = [step.observation for step in t.steps]
    if t.final_answer:
        parts.append(t.final_answer)
    return parts


def collect_evidence(t: FailedTrajectory) -> Evidence:
    return Evidence.of_texts(evidence_texts(t))


_PATH_TOKEN_RE = re.compile(r"(?<![\w/.-])[\w-]+(?:[./][\w-]+)+")


def file_names_in(values: Iterable[object]) -> list[str]:
    """File names ("sales_2024.csv", "charts/revenue.png") written in tool arguments."""
    names: list[str] = []
    for value in values:
        if isinstance(value, str) and "." in value:
            names.extend(name for name in _PATH_TOKEN_RE.findall(value) if _file_name(name) == name)
    return names
