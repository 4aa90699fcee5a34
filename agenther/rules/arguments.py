"""Values read out of a step's tool arguments, for a request that names what the step worked
on: search terms, routes and dates, targets, SQL tables and columns, documents and languages
translated, and the command lines the steps ran. A value a request names must be short, plain,
safe and shown by the run (``read_value``): a prompt must not name what the environment never
showed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from agenther.evidence import Evidence
from agenther.grounding import has_injection, ungrounded
from agenther.models import AgentStep
from agenther.quantities import figures
from agenther.rules.vocabulary import contains_words, join_parts, word_list, word_set

_QUERY_KEYS = word_list(
    "query q search search_query search_term term keywords keyword topic question prompt text input"
)
COMMAND_KEYS = word_list("command cmd args arguments argv")
TARGET_KEYS = word_list(
    "url path file filename file_path filepath name title ticker symbol id expression expr "
    "recipient sku order_id order repo repository host hostname compound product product_id "
    "ticket ticket_id issue issue_id invoice invoice_id customer customer_id account user "
    "package label category"
)
_ORIGIN_KEYS = word_list("origin from source departure from_city departure_city start")
_DEST_KEYS = word_list("destination to dest arrival to_city destination_city end")
_DATE_KEYS = word_list("date departure_date day when start_date checkin check_in")
_PLACE_KEYS = word_list("city location place region country area near")
LANGUAGE_KEYS = ("language", "lang")
_TRANSLATE_TO_KEYS = word_list(
    "target_language target_lang to_language to_lang target to language lang"
)
_TRANSLATE_SOURCE_KEYS = word_list("doc document file path filename file_path url")
_LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
    "ru": "Russian",
    "ar": "Arabic",
    "pl": "Polish",
    "sv": "Swedish",
    "tr": "Turkish",
}
# Dates said relative to now read without a preposition ("news today", not "news on today").
_RELATIVE_DATES = word_set("today tonight tomorrow yesterday now")
_UNSAFE_VALUE_RE = re.compile(r"[\n\r<>{}|`\\]")


def read_value(args: Mapping[str, Any], keys: Iterable[str], ev: Evidence) -> str:
    """The first argument under one of ``keys`` that is short, plain, safe and grounded."""
    for key in keys:
        raw = args.get(key)
        if raw is None:
            continue
        if isinstance(raw, list) and all(isinstance(x, str | int | float) for x in raw):
            raw = " ".join(str(x) for x in raw)
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            continue
        text = " ".join(str(raw).split())
        if (
            text
            and len(text) <= 80
            and len(text.split()) <= 12
            and not _UNSAFE_VALUE_RE.search(str(raw))
            and not has_injection(text)
            # Inside a sentence, where a capitalised word is taken for a name ("in Lyon").
            and not ungrounded(f"for {text}", ev)
            and figures(text) <= ev.figures
        ):
            return text
    return ""


def read_query(args: Mapping[str, Any], ev: Evidence) -> str:
    """The search terms, without the numbers the run does not show ("protein language model
    arXiv 2025" → "protein language model arXiv") when the rest still says what was sought."""
    query = read_value(args, _QUERY_KEYS, ev)
    if query:
        return query
    for key in _QUERY_KEYS:
        raw = args.get(key)
        if isinstance(raw, str):
            kept = [w for w in raw.split() if not _DIGIT_RE.search(w)]
            if len(kept) >= 2:
                return read_value({key: " ".join(kept)}, (key,), ev)
            return ""
    return ""


_DIGIT_RE = re.compile(r"\d")


def read_route(args: Mapping[str, Any], ev: Evidence) -> str:
    """Where and when a step looked, as a phrase: "from Paris to Lyon on 12 May"."""
    parts = []
    for prefix, keys in (
        ("from", _ORIGIN_KEYS),
        ("to", _DEST_KEYS),
        ("in", _PLACE_KEYS),
        ("on", _DATE_KEYS),
    ):
        value = (spoken_date(args, ev) if prefix == "on" else "") or read_value(args, keys, ev)
        if not value and prefix != "on" and any(_is_place(args.get(k)) for k in keys):
            # A route without its "from DEL" (a code no observation shows) is another route:
            # "flights on 15 July" is not what was searched. (Without its dates it is only
            # a looser one.)
            return ""
        if value and prefix == "on" and value.lower() in _RELATIVE_DATES:
            parts.append(value.lower())
        elif value:
            parts.append(f"{prefix} {value}")
    namespace = read_value(args, ("namespace", "ns"), ev)
    if namespace:
        parts.append(f"in the {namespace} namespace")
    return " ".join(parts)


_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _is_place(value: object) -> bool:
    """A place name or code, not a date or a time ("2025-08-03", "10:00")."""
    return (
        isinstance(value, str) and any(c.isalpha() for c in value) and not _DIGIT_RE.search(value)
    )


_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def spoken_date(args: Mapping[str, Any], ev: Evidence) -> str:
    """An ISO date argument as a person says it ("2024-10-04" -> "4 October"), when an
    observation shows that date in some notation: ISO, day/month/year, month/day/year, or the
    month's name next to the day."""
    for key in _DATE_KEYS:
        raw = args.get(key)
        match = _ISO_DATE_RE.fullmatch(raw.strip()) if isinstance(raw, str) else None
        if match is None:
            continue
        year, month, day = (int(part) for part in match.groups())
        if not 1 <= month <= 12:
            return ""
        name = _MONTHS[month - 1]
        shown = (
            match.group(0),
            f"{day:02d}/{month:02d}/{year}",
            f"{day}/{month}/{year}",
            f"{month:02d}/{day:02d}/{year}",
            f"{month}/{day}/{year}",
            f"{day:02d}.{month:02d}.{year}",
        )
        text = ev.text
        named = re.search(
            rf"\b(?:0?{day}(?:st|nd|rd|th)?\s+(?:of\s+)?{name[:3]}[a-z]*|{name[:3]}[a-z]*\.?"
            rf"\s+0?{day}(?:st|nd|rd|th)?)\b",
            text,
            re.IGNORECASE,
        )
        if named or any(form in text for form in shown):
            return f"{day} {name}"
        return ""
    return ""


def translation_language(args: Mapping[str, Any], ev: Evidence) -> str:
    """The language a translation step translated into, if the run shows it; else ""."""
    language = ""
    for key in _TRANSLATE_TO_KEYS:
        raw = args.get(key)
        if isinstance(raw, str) and raw.strip():
            code = raw.strip()
            language = _LANGUAGE_NAMES.get(code[:2].lower(), "") if len(code) in (2, 5) else code
            break
    # The language is named only if the run shows it: "French" for a step that wrote French.
    if not language.isalpha() or not contains_words(ev.text, language.lower()):
        language = ""
    return language


def translation_source(args: Mapping[str, Any], ev: Evidence) -> str:
    """What a translation step translated, named as the run shows it; "" for plain text."""
    return read_value(args, _TRANSLATE_SOURCE_KEYS, ev) or _document_name(args, ev)


def _document_name(args: Mapping[str, Any], ev: Evidence) -> str:
    """A document as "the manual" (manual.txt) when only its stem, not its name, is in the run."""
    for key in _TRANSLATE_SOURCE_KEYS:
        raw = args.get(key)
        if isinstance(raw, str):
            stem = raw.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
            if stem.isalpha() and contains_words(ev.text, stem.lower()):
                return f"the {stem.lower()}"
    return ""


# Table names in a SQL statement: they say what a query was about ("query the orders table").
_SQL_TABLE_RE = re.compile(
    r"\b(?:from|join|update|into|alter\s+table)\s+([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)",
    re.IGNORECASE,
)
_SQL_KEYS = word_list("sql query statement q")
_SQL_WORDS = word_set("select where lateral unnest generate_series values dual")
# The select list up to its FROM: the columns say what a query computed ("signups by country"
# is in "SELECT country, COUNT(*) AS signups"), which a table name alone does not.
_SQL_SELECT_RE = re.compile(r"^\s*select\s+(?:distinct\s+)?(.+?)\s+from\s", re.I | re.S)
_SQL_COLUMN_RE = re.compile(r"(?:^|\s|\.)([A-Za-z][A-Za-z_]*)\s*$")
# Names an engine gives an unnamed aggregate ("sum"): they say how, not what.
_SQL_AGGREGATES = word_set("sum count avg min max total value")
_MAX_COLUMNS = 3


def database_query(args: Mapping[str, Any], ev: Evidence) -> str:
    """A SQL step as a request: "query the orders table for country and signups"."""
    tables: list[str] = []
    statement = ""
    for key in _SQL_KEYS:
        raw = args.get(key)
        if isinstance(raw, str):
            statement = raw
            for name in _SQL_TABLE_RE.findall(raw):
                if name.lower() not in _SQL_WORDS and name not in tables:
                    tables.append(name)
            break
    if not tables:
        return "query the database"
    if len(tables) == 1:
        phrase = f"query the {tables[0]} table"
    else:
        phrase = f"query the {', '.join(tables[:-1])} and {tables[-1]} tables"
    columns = _selected_columns(statement, ev)
    return join_parts(phrase, f"for {_and_list(columns)}" if columns else "")


def _selected_columns(statement: str, ev: Evidence) -> list[str]:
    """The named output columns of a SELECT that the observation shows, in plain words
    ("customer_name" → "customer name"); none if any column is unnamed or unshown, since a
    partial list would misstate what the query returned."""
    select = _SQL_SELECT_RE.match(statement)
    if select is None:
        return []
    columns: list[str] = []
    for item in _split_top_level(select.group(1)):
        name = _SQL_COLUMN_RE.search(item)
        if name is None:
            return []
        column = name.group(1)
        # "a" or "n" is a placeholder, not a name anyone would ask for.
        if (
            len(column) < 3
            or column.lower() in _SQL_AGGREGATES
            or not contains_words(ev.text, column.lower())
        ):
            return []
        words = column.replace("_", " ").split()
        if words and " ".join(words) not in columns:
            columns.append(" ".join(words))
    return columns if len(columns) <= _MAX_COLUMNS else []


def _split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# Arguments that say what a step worked on (as opposed to how: limits, formats, flags).
_OBJECT_KEYS = frozenset(
    (*_QUERY_KEYS, *TARGET_KEYS, *_ORIGIN_KEYS, *_DEST_KEYS, *_PLACE_KEYS, *COMMAND_KEYS)
)


def unnamed_objects(step: AgentStep, ev: Evidence) -> list[str]:
    """What ``step`` was asked to work on that its request cannot name: arguments the
    observations do not show ("from: Zürich HB" when the timetable names no station)."""
    unnamed = []
    for key, raw in step.action_input.items():
        if key not in _OBJECT_KEYS or isinstance(raw, bool) or not isinstance(raw, str | int):
            continue
        text = str(raw).strip()
        usable = (
            read_query({key: raw}, ev) if key in _QUERY_KEYS else read_value({key: raw}, (key,), ev)
        )
        if text and not usable:
            unnamed.append(text.lower())
    return unnamed


def command_lines(steps: list[AgentStep]) -> Iterator[str]:
    """The command lines (two words or more) that ``steps`` ran, spaces collapsed."""
    for step in steps:
        for key in COMMAND_KEYS:
            raw = step.action_input.get(key)
            if isinstance(raw, list):
                raw = " ".join(str(x) for x in raw)
            if isinstance(raw, str) and len(raw.split()) >= 2:
                yield " ".join(raw.split())
