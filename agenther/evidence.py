"""Named things a run's text mentions, and the evidence of one run: what its observations and
final answer show.

Stage 2 reports numbers (``agenther.quantities``) and entities as the run's outcome; the
grounding verifier checks that every number and entity of a hindsight prompt occurs in
``collect_evidence(run)``. Both sides use the same extraction, so "1,000", "1000" and
"$1000.00" compare equal.

Everything is a few precompiled regex passes per text; no NLP model is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from agenther.models import FailedTrajectory
from agenther.quantities import extract_quantities, figures_of, may_state, quantities_of
from agenther.rules.vocabulary import COMMAND_VERBS
from agenther.scanning import matches_at, scanner, shared_scan, url_starts, word_set

_FILE_EXTENSIONS = word_set(
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
_ENTITY_RE = scanner(
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
_REVERSED_ENTITY_START_RE = scanner(
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
    urls = url_starts(text)
    if urls:
        starts = sorted({*starts, *urls})
    return matches_at(_ENTITY_RE(text), text, starts)


# Words that are capitalised for grammar, not because they name something (German capitalises
# every noun, so a question word opens a capitalised run: "Welche Pods").
_STOP_WORDS = word_set(
    """
    a an the this that these those it its i i'm i've i'll i'd we you he she they my our your
    their his her me us them and or but nor if then so yet no not none yes ok okay all any
    some each every both either neither here there what which who whom whose when where why
    how let please note also however therefore thus hence because since while although though
    after before during until unless with without within from into onto for of on in at by to
    as is are was were be been being do does did done has have had can could will would shall
    should may might must error warning info debug success failed failure true false null none
    step result results summary found based unable
    don't doesn't didn't can't won't isn't aren't wasn't weren't shouldn't wouldn't couldn't
    haven't hasn't hadn't let's don’t doesn’t didn’t can’t won’t isn’t aren’t wasn’t
    weren’t shouldn’t wouldn’t couldn’t haven’t hasn’t hadn’t let’s
    welche welcher welches welchen wie wann wer warum bitte
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


# A title before a name is the user's courtesy, not part of what a run must show ("Mme Léa
# Fournier" is listed as "Léa Fournier"); after one it may be a street ("Cedar Hollow Dr").
_TITLES = word_set(
    "mr mrs ms dr dra mme mlle herr herrn frau sr sra srta sig signor signora dhr mevr"
)


def _clean_name(words: list[str]) -> str:
    while words and (words[0].lower() in _STOP_WORDS or words[0].lower() in _TITLES):
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
    # ("Acme Widgets"): "Search API" and "Contact MetalWorks" lose their first word, and so
    # does a request's verb before a name ("Compare Jalen Brunson").
    if _is_plain_word(words[0]) and (
        words[0].lower() in COMMAND_VERBS
        or not (len(words) > 1 and all(_is_plain_word(w) for w in words[1:]))
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
            for quantity in quantities_of(part):
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
            for q in quantities_of(part)
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


def hosts_in(values: Iterable[object]) -> list[str]:
    """Host names of the URLs written in tool arguments ("www.chefsupply.example")."""
    return [
        host
        for value in values
        if isinstance(value, str) and "://" in value
        for host in (urlsplit(url).hostname for url in _URL_RE.findall(value))
        if host
    ]


_URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def file_names_in(values: Iterable[object]) -> list[str]:
    """File names ("sales_2024.csv", "charts/revenue.png") written in tool arguments."""
    names: list[str] = []
    for value in values:
        if isinstance(value, str) and "." in value:
            names.extend(name for name in _PATH_TOKEN_RE.findall(value) if _file_name(name) == name)
    return names
