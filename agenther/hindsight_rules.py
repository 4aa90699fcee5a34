"""Stage 3 without an LLM: a hindsight prompt written from what the run achieved.

Three strategies, tried in this order and only where they fit the failure:

- ``actual_result`` (wrong results, and constraint violations whose reason says "X instead of
  Y"): the original request with the wrong part restated as what was produced ("...a new CSV
  file named 'out.csv'" → "...a new Excel file named 'out.xlsx'").
- ``drop_constraint`` (constraint violations): the original request minus the constraints the
  failure reason names, asking instead for the attributes those constraints were about
  ("...with prices under $5" → "...and list the prices").
- ``tool_work`` (any type, and the fallback): a request for exactly the tool work that succeeded
  ("Search the web for X and list the results."). Tool names of any shape become plain verbs.

The first two keep the original wording, so a side-effect verb they keep (book, send, export,
deploy, ...) must be evidenced by the run, or the candidate is dropped: a goal clause the run did
not reach never survives.

Scores, all deterministic:

- confidence c = 0.35·prior(strategy) + 0.25·(share of tool steps that did not error)
  + 0.2·(word-count ratio to the original) + 0.2·(no hedging in the prompt or the observations);
- the "second judge" c2 is the grounding verifier (a failure makes c2 = 0) plus an independent
  vocabulary check: the share of the prompt's content words found in the run record
  (observations, final answer, successful actions) or in the original request with its
  constraints cut out.

Acceptance mirrors Algorithm 1: the first candidate with c ≥ θ and c2 ≥ θ, confidence
(c + c2) / 2; otherwise the best candidate with c ≥ 0.8θ whose c2 ≥ θ — the check is never
bypassed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agenther.evidence import (
    Evidence,
    ObservationKind,
    collect_evidence,
    extract_entities,
    extract_quantities,
    observation_kind,
)
from agenther.failure_detector import observation_failed
from agenther.grounding import (
    Constraint,
    has_injection,
    ungrounded,
    unmet_constraints,
    verify_grounding,
)
from agenther.models import (
    AgentStep,
    FailedTrajectory,
    FailureAnalysis,
    FailureType,
    RelabelDecision,
    RelabeledData,
    ReplayOutcome,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _keys(text: str) -> tuple[str, ...]:
    """Argument names in order of preference."""
    return tuple(text.split())


DROP_CONSTRAINT = "drop_constraint"
ACTUAL_RESULT = "actual_result"
TOOL_WORK = "tool_work"

_PRIORS = {DROP_CONSTRAINT: 1.0, ACTUAL_RESULT: 1.0, TOOL_WORK: 0.75}

# --- steps -------------------------------------------------------------------------------------

# Tool names made only of these words are the agent talking to itself, not the environment.
_INTERNAL_WORDS = _words(
    "generate respond response answer final think reflect plan summarize summarise summary "
    "finish reply llm text self"
)
_NAME_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_HEDGE_RE = re.compile(
    r"\b(?:maybe|perhaps|possibly|probably|might|may\s+not|not\s+sure|unsure|unclear|unverified"
    r"|i\s+think|i\s+believe|training\s+data|cannot\s+verify|could\s+not\s+verify|if\s+possible"
    r"|try\s+to|attempt\s+to|outdated)\b"
)


# Every match of _HEDGE_RE contains one of these; the run's whole evidence text is searched,
# and checking for them first skips the (slow, per-position) regex search on most runs.
_HEDGE_WORDS = _keys(
    "may perhaps possib probably might sure unclear unverified think believe training verify "
    "try attempt outdated"
)


def _hedges(lowered: str) -> bool:
    return any(word in lowered for word in _HEDGE_WORDS) and _HEDGE_RE.search(lowered) is not None


@lru_cache(maxsize=4096)
def _name_words(action_name: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _NAME_WORD_RE.findall(action_name))


def name_words(action_name: str) -> list[str]:
    """``flight_search`` / ``getWeather`` / ``browser.click`` as lower-case words."""
    return list(_name_words(action_name))


# Tool names repeat across runs; the cache keeps the rule pipeline fast.
@lru_cache(maxsize=4096)
def is_internal_action(action_name: str) -> bool:
    words = _name_words(action_name)
    return bool(words) and all(w in _INTERNAL_WORDS for w in words)


_USABLE = frozenset({ObservationKind.CONTENT, ObservationKind.TRIVIAL})


def successful_tool_steps(t: FailedTrajectory) -> list[AgentStep]:
    """Steps where a real tool ran and answered: no error, no empty result, not the model's own
    text relayed by a tool. A bare acknowledgement ("Email sent.") still shows the action."""
    return [
        s
        for s in t.steps
        if not is_internal_action(s.action_name)
        and observation_kind(s.observation) in _USABLE
        and not observation_failed(s.observation)
    ]


# --- tool work as a request --------------------------------------------------------------------

_SEARCH, _FETCH, _READ, _RUN, _WRITE, _ACT = "search", "fetch", "read", "run", "write", "act"

_VERBS: dict[str, tuple[str, str]] = {
    "search": ("search", _SEARCH),
    "find": ("find", _SEARCH),
    "lookup": ("look up", _SEARCH),
    "browse": ("browse", _SEARCH),
    "get": ("get", _FETCH),
    "fetch": ("fetch", _FETCH),
    "retrieve": ("retrieve", _FETCH),
    "check": ("check", _FETCH),
    "list": ("list", _FETCH),
    "describe": ("describe", _FETCH),
    "show": ("show", _FETCH),
    "calculate": ("calculate", _FETCH),
    "compute": ("compute", _FETCH),
    "convert": ("convert", _FETCH),
    "translate": ("translate", _FETCH),
    "read": ("read", _READ),
    "open": ("open", _READ),
    "load": ("load", _READ),
    "download": ("download", _READ),
    "navigate": ("open", _READ),
    "visit": ("open", _READ),
    "run": ("run", _RUN),
    "execute": ("run", _RUN),
    "exec": ("run", _RUN),
    "call": ("call", _RUN),
    "invoke": ("call", _RUN),
    "query": ("query", _RUN),
    "write": ("write", _WRITE),
    "create": ("create", _WRITE),
    "save": ("save", _WRITE),
    "update": ("update", _ACT),
    "edit": ("edit", _ACT),
    "delete": ("delete", _ACT),
    "remove": ("remove", _ACT),
    "send": ("send", _ACT),
    "book": ("book", _ACT),
    "post": ("post", _ACT),
    "upload": ("upload", _ACT),
    "deploy": ("deploy", _ACT),
    "install": ("install", _ACT),
    "scale": ("scale", _ACT),
    "restart": ("restart", _ACT),
    "click": ("click", _ACT),
}
_BARE_VERBS = frozenset(verb for verb, _ in _VERBS.values())
# Tools whose name is itself the thing to run ("kubectl", "helm").
_CLI_TOOLS = _words(
    "kubectl helm git docker podman terraform aws gcloud az npm pip curl wget psql mysql redis "
    "ansible make cargo go java node ssh rsync jq"
)
_SHELLS = _words("bash shell sh zsh terminal console cli")
# CLI programs named for what they do to text or code: a user asks for the job, not the program
# ("search the code for parse_config", never "get the grep").
_CLI_ACTIONS: dict[str, tuple[str, str]] = {
    "grep": ("search the code", _SEARCH),
    "rg": ("search the code", _SEARCH),
    "ripgrep": ("search the code", _SEARCH),
    "ag": ("search the code", _SEARCH),
    "ack": ("search the code", _SEARCH),
    "sed": ("edit the text", _ACT),
    "awk": ("process the text", _FETCH),
    "jq": ("filter the JSON", _FETCH),
    "curl": ("fetch", _READ),
    "wget": ("download", _READ),
}
_PATTERN_KEYS = _keys("pattern regex regexp query q search term")
# A pattern for a definition names the thing defined ("def parse_config" → parse_config).
_DEFINITION_RE = re.compile(r"^\^?(?:def|class|function|func|fn|struct|interface|type)\s+")
_REGEX_CHARS_RE = re.compile(r"[*+?()\[\]^$]")
_NOUN_ACTIONS: dict[str, tuple[str, str, str]] = {
    # noun: (verb phrase, kind, preposition for the argument)
    "calculator": ("calculate", _FETCH, ""),
    "weather": ("check the weather", _FETCH, "in"),
    "wikipedia": ("look up on Wikipedia", _SEARCH, ""),
    "translator": ("translate", _FETCH, ""),
    "browser": ("open", _READ, ""),
    "python": ("run Python code", _RUN, ""),
}
_GENERIC_WORDS = _words("tool api function action cmd command by the a an do tool call")
_SOURCES = {
    "web": "the web",
    "internet": "the web",
    "online": "the web",
    "google": "the web",
    "bing": "the web",
    "browser": "the web",
    "wikipedia": "Wikipedia",
    "arxiv": "arXiv",
    "pubmed": "PubMed",
    "github": "GitHub",
    "news": "the news",
    # "scholar_search" may be any scholarly index; naming Google's would invent a fact.
    "scholar": "the academic literature",
    "docs": "the docs",
    "kb": "the knowledge base",
    "catalog": "the catalog",
}
_ACRONYMS = _words("sql api url csv json pdf html sms dns ip http ssh vm gpu cpu k8s")
_DATABASE_WORDS = frozenset({"sql", "db", "database"})
_DOCUMENT_WORDS = _words("file page url document doc web webpage link site")

_QUERY_KEYS = _keys(
    "query q search search_query search_term term keywords keyword topic question prompt text input"
)
_COMMAND_KEYS = _keys("command cmd args arguments argv")
_TARGET_KEYS = _keys(
    "url path file filename file_path filepath name title ticker symbol id expression expr "
    "recipient sku order_id order repo repository host hostname compound product product_id "
    "ticket ticket_id issue issue_id invoice invoice_id customer customer_id account user "
    "package label category"
)
_ORIGIN_KEYS = _keys("origin from source departure from_city departure_city start")
_DEST_KEYS = _keys("destination to dest arrival to_city destination_city end")
_DATE_KEYS = _keys("date departure_date day when start_date checkin check_in")
_PLACE_KEYS = _keys("city location place region country area near")
_LANGUAGE_KEYS = ("language", "lang")
_TRANSLATE_TO_KEYS = _keys(
    "target_language target_lang to_language to_lang target to language lang"
)
_TRANSLATE_SOURCE_KEYS = _keys("doc document file path filename file_path url")
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
_RELATIVE_DATES = _words("today tonight tomorrow yesterday now")
_UNSAFE_VALUE_RE = re.compile(r"[\n\r<>{}|`\\]")

_CLOSINGS = {
    _SEARCH: "list the results",
    _FETCH: "report what you find",
    _READ: "report what you find",
    _RUN: "show me the output",
    _WRITE: "confirm when it is done",
    _ACT: "confirm when it is done",
}
_MAX_PHRASES = 3


def _value(args: Mapping[str, Any], keys: Iterable[str], ev: Evidence) -> str:
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
            and figures(text) <= figures(ev.text)
        ):
            return text
    return ""


def _query(args: Mapping[str, Any], ev: Evidence) -> str:
    """The search terms, without the numbers the run does not show ("protein language model
    arXiv 2025" → "protein language model arXiv") when the rest still says what was sought."""
    query = _value(args, _QUERY_KEYS, ev)
    if query:
        return query
    for key in _QUERY_KEYS:
        raw = args.get(key)
        if isinstance(raw, str):
            kept = [w for w in raw.split() if not _DIGIT_RE.search(w)]
            if len(kept) >= 2:
                return _value({key: " ".join(kept)}, (key,), ev)
            return ""
    return ""


_DIGIT_RE = re.compile(r"\d")
# Words of a tool name that say how it fetches, not what.
_PROTOCOL_WORDS = _words("http https url rest request requests web webpage page")


def _noun_phrase(words: list[str]) -> str:
    return " ".join(w.upper() if w in _ACRONYMS else w for w in words)


def _plural(phrase: str) -> str:
    if not phrase or phrase.endswith("s"):
        return phrase
    if phrase.endswith("y") and phrase[-2:-1] not in "aeiou":
        return phrase[:-1] + "ies"
    return phrase + "s"


def _route(args: Mapping[str, Any], ev: Evidence) -> str:
    parts = []
    for prefix, keys in (
        ("from", _ORIGIN_KEYS),
        ("to", _DEST_KEYS),
        ("in", _PLACE_KEYS),
        ("on", _DATE_KEYS),
    ):
        value = _value(args, keys, ev)
        if value and prefix == "on" and value.lower() in _RELATIVE_DATES:
            parts.append(value.lower())
        elif value:
            parts.append(f"{prefix} {value}")
    namespace = _value(args, ("namespace", "ns"), ev)
    if namespace:
        parts.append(f"in the {namespace} namespace")
    return " ".join(parts)


def describe_step(step: AgentStep, ev: Evidence) -> tuple[str, str] | None:
    """A plain-verb request for one tool call, and its kind; None if nothing can be said."""
    words = name_words(step.action_name)
    if not words:
        return None
    args = step.action_input
    verb_at = next((i for i, w in enumerate(words) if w in _VERBS), -1)
    nouns = [w for i, w in enumerate(words) if i != verb_at and w not in _GENERIC_WORDS]
    route = _route(args, ev)
    query = _query(args, ev)
    target = _value(args, _TARGET_KEYS, ev)

    if verb_at < 0:
        command = _value(args, _COMMAND_KEYS, ev)
        if len(words) == 1 and words[0] in _CLI_ACTIONS and not command:
            return _cli_action(words[0], args, ev)
        if len(words) == 1 and words[0] in _SHELLS:
            return (f"run {command}" if command else "run the command", _RUN)
        if len(words) == 1 and (words[0] in _CLI_TOOLS or command):
            return (f"run {words[0]} {command}".rstrip(), _RUN)
        if len(words) == 1 and words[0] in _NOUN_ACTIONS:
            verb, kind, prep = _NOUN_ACTIONS[words[0]]
            obj = route or query or target
            if obj and prep and not route:
                obj = f"{prep} {obj}"
            return (f"{verb} {obj}".rstrip(), kind)
        if not nouns:  # a name of filler words only ("a", "tool_api") names no work
            return None
        phrase = f"get the {_noun_phrase(nouns)}"
        obj = query or target
        return (_join(phrase, route or (f"for {obj}" if obj else "")), _FETCH)

    verb, kind = _VERBS[words[verb_at]]
    noun = _noun_phrase(nouns)
    if verb == "translate":
        return _translation(args, ev)
    if kind in (_FETCH, _READ) and nouns and set(nouns) <= _PROTOCOL_WORDS:
        # "http_get" names how, not what: "get the HTTP" is no request anyone makes.
        return (f"fetch {target}", _READ) if target else ("look up", _FETCH)
    if kind == _SEARCH:
        obj = query or target
        if route and noun:
            # A one-word topic reads as a modifier: "search for technology news today".
            if query and len(query.split()) == 1 and query.islower():
                return (f"{verb} for {query} {_plural(noun)} {route}", kind)
            return (f"{verb} for {_plural(noun)} {route}", kind)
        if obj:
            source = _SOURCES.get(" ".join(nouns))
            if source:
                return (f"{verb} {source} for {obj}", kind)
            if not noun:
                return (f"{verb} for {obj}", kind)
            return (f"{verb} for {_plural(noun)} matching {obj}", kind)
        # "Search the web" with no subject says nothing worth training on.
        if not noun or " ".join(nouns) in _SOURCES:
            return None
        return (f"{verb} for {_plural(noun)}", kind)
    if kind == _RUN:
        if set(nouns) & _DATABASE_WORDS or (verb == "query" and not noun):
            return (_database_query(args, ev), kind)
        command = _value(args, _COMMAND_KEYS, ev)
        if command:
            return (f"{verb} {command}", kind)
        obj = query or target
        return (_join(f"{verb} the {noun or 'program'}", f"for {obj}" if obj else ""), kind)
    if kind == _WRITE:
        language = _value(args, _LANGUAGE_KEYS, ev)
        if language and set(nouns) & {"code", "script", "program"}:
            return (f"{verb} a {language.capitalize()} script", kind)
        if target and " " in target and "'" not in target and not set(nouns) <= _DOCUMENT_WORDS:
            # A title, not a file name: "create the calendar event 'Out of office'".
            return (f"{verb} the {noun} '{target}'", kind)
        if target:
            return (f"{verb} {target}", kind)
        return (f"{verb} the {noun}", kind) if noun else None
    if kind == _READ and target and set(nouns) <= _DOCUMENT_WORDS:
        return (f"{verb} {target}", kind)
    phrase = f"{verb} the {noun}" if noun else verb
    obj = query or target
    return (_join(phrase, route or (f"for {obj}" if obj else "")), kind)


def _cli_action(program: str, args: Mapping[str, Any], ev: Evidence) -> tuple[str, str]:
    phrase, kind = _CLI_ACTIONS[program]
    if kind == _SEARCH:
        pattern = _DEFINITION_RE.sub("", _value(args, _PATTERN_KEYS, ev)).strip()
        # A raw regular expression is no way to ask a person for anything.
        if pattern and not _REGEX_CHARS_RE.search(pattern):
            return (f"{phrase} for {pattern}", kind)
        return (phrase, kind)
    target = _value(args, _TARGET_KEYS, ev)
    return (_join(phrase, target), kind)


def _translation(args: Mapping[str, Any], ev: Evidence) -> tuple[str, str]:
    """A translation as "translate manual.txt into French", naming what the run shows; a file
    translated is work done, text translated is an answer to report."""
    language = ""
    for key in _TRANSLATE_TO_KEYS:
        raw = args.get(key)
        if isinstance(raw, str) and raw.strip():
            code = raw.strip()
            language = _LANGUAGE_NAMES.get(code[:2].lower(), "") if len(code) in (2, 5) else code
            break
    # The language is named only if the run shows it: "French" for a step that wrote French.
    if not language.isalpha() or not _contains_words(ev.text, language.lower()):
        language = ""
    into = f" into {language.capitalize()}" if language else ""
    source = _value(args, _TRANSLATE_SOURCE_KEYS, ev) or _document_name(args, ev)
    if source:
        return (f"translate {source}{into}", _WRITE)
    return (f"translate the text{into}", _FETCH)


def _document_name(args: Mapping[str, Any], ev: Evidence) -> str:
    """A document as "the manual" (manual.txt) when only its stem, not its name, is in the run."""
    for key in _TRANSLATE_SOURCE_KEYS:
        raw = args.get(key)
        if isinstance(raw, str):
            stem = raw.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
            if stem.isalpha() and _contains_words(ev.text, stem.lower()):
                return f"the {stem.lower()}"
    return ""


# Table names in a SQL statement: they say what a query was about ("query the orders table").
_SQL_TABLE_RE = re.compile(
    r"\b(?:from|join|update|into|alter\s+table)\s+([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)",
    re.IGNORECASE,
)
_SQL_KEYS = _keys("sql query statement q")
_SQL_WORDS = _words("select where lateral unnest generate_series values dual")
# The select list up to its FROM: the columns say what a query computed ("signups by country"
# is in "SELECT country, COUNT(*) AS signups"), which a table name alone does not.
_SQL_SELECT_RE = re.compile(r"^\s*select\s+(?:distinct\s+)?(.+?)\s+from\s", re.I | re.S)
_SQL_COLUMN_RE = re.compile(r"(?:^|\s|\.)([A-Za-z][A-Za-z_]*)\s*$")
# Names an engine gives an unnamed aggregate ("sum"): they say how, not what.
_SQL_AGGREGATES = _words("sum count avg min max total value")
_MAX_COLUMNS = 3


def _database_query(args: Mapping[str, Any], ev: Evidence) -> str:
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
    return _join(phrase, f"for {_and_list(columns)}" if columns else "")


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
            or not _contains_words(ev.text, column.lower())
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
    (*_QUERY_KEYS, *_TARGET_KEYS, *_ORIGIN_KEYS, *_DEST_KEYS, *_PLACE_KEYS, *_COMMAND_KEYS)
)


def _unnamed_objects(step: AgentStep, ev: Evidence) -> list[str]:
    """What ``step`` was asked to work on that its request cannot name: arguments the
    observations do not show ("from: Zürich HB" when the timetable names no station)."""
    unnamed = []
    for key, raw in step.action_input.items():
        if key not in _OBJECT_KEYS or isinstance(raw, bool) or not isinstance(raw, str | int):
            continue
        text = str(raw).strip()
        usable = _query({key: raw}, ev) if key in _QUERY_KEYS else _value({key: raw}, (key,), ev)
        if text and not usable:
            unnamed.append(text.lower())
    return unnamed


def _asked_about(subject: _Subject, run: _RunFacts) -> bool:
    """Whether ``subject`` may stand for what the first step worked on: when the step's own
    arguments named it in words the run does not show, the user's subject must be among them,
    or the prompt would name something the tool was never asked about ("the rail timetable
    about trains" for a query from one station to another). A describing word only narrows
    the tool's own noun ("direct flights") and claims no object."""
    if subject.modifies:
        return True
    for step in run.ok_steps:
        if describe_step(step, run.observations) is not None:
            unnamed = _unnamed_objects(step, run.observations)
            return not unnamed or any(subject.text.lower() in arg for arg in unnamed)
    return False


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _tool_work(
    ok_steps: list[AgentStep], ev: Evidence, subject: _Subject | None = None
) -> str | None:
    """The tool work as one request; ``subject`` (what it was about) joins the first phrase."""
    phrases: list[str] = []
    kinds: list[str] = []
    seen_tools: set[str] = set()
    for step in ok_steps:
        if step.action_name in seen_tools:
            continue
        seen_tools.add(step.action_name)
        described = describe_step(step, ev)
        if described is None or described[0] in phrases:
            continue
        phrases.append(described[0])
        kinds.append(described[1])
        if len(phrases) == _MAX_PHRASES:
            break
    if not phrases:
        return None
    if subject:
        joined = _with_subject(phrases[0], subject)
        if joined is None:
            return None
        phrases[0] = joined
    body = phrases[0] if len(phrases) == 1 else ", then ".join(phrases)
    joiner = ", and " if len(phrases) > 1 else " and "
    text = f"{body}{joiner}{_CLOSINGS[kinds[-1]]}."
    return text[0].upper() + text[1:]


def _with_subject(phrase: str, subject: _Subject) -> str | None:
    """``phrase`` naming ``subject``: before the noun it modifies ("search for direct flights"),
    as the object of a bare verb ("translate the manual"), else "... about <noun phrase>"."""
    if subject.modifies:
        words = phrase.split()
        stem = _stem(subject.modifies.lower())
        for i, word in enumerate(words):
            if _stem(word.lower()) == stem or _stem(_plural(word.lower())) == stem:
                return " ".join([*words[:i], subject.text, *words[i:]])
    if not subject.is_noun:
        return None
    if len(phrase.split()) == 1 or phrase in _BARE_VERBS:
        article = "" if subject.text[:1].isupper() else "the "
        return f"{phrase} {article}{subject.text}"
    return f"{phrase} about {subject.text}"


# --- editing the original request --------------------------------------------------------------

# What may stand between a constraint and the thing it constrains ("with prices under $5").
_ATTRIBUTE_BEFORE_RE = re.compile(
    r"(?:^|(?<=[\s,;(]))(?P<conn>with|that|which|whose|where|having|and|for|costing|priced)\s+"
    r"(?P<attr>(?:[\w'-]+\s+){0,3}?)(?:(?:is|are|was|were|be|of|at)\s+)?$",
    re.IGNORECASE,
)
_ARTICLE_RE = re.compile(r"^(?:the|a|an|its|their)\s+", re.IGNORECASE)
_SPACES_RE = re.compile(r"\s{2,}")
_SPACE_PUNCT_RE = re.compile(r"\s+([,.;!?])")
_DANGLING_RE = re.compile(
    r"(?:,|\b(?:and|or|with|that|which|where|having|for|of|at|to))\s*(?=[.!?]|$)"
)


def _tidy(text: str) -> str:
    text = _SPACES_RE.sub(" ", text)
    text = _SPACE_PUNCT_RE.sub(r"\1", text)
    for _ in range(2):
        text = _DANGLING_RE.sub("", text).rstrip()
    text = re.sub(r",\s*,", ",", text)
    return text.strip()


def _drop_constraints(original: str, unmet: list[Constraint]) -> str | None:
    text = original
    attributes: list[str] = []
    insert_at = len(original)
    for constraint in sorted(unmet, key=lambda c: c.start, reverse=True):
        start, end = constraint.start, constraint.end
        match = _ATTRIBUTE_BEFORE_RE.search(text[:start])
        attribute = ""
        if match:
            attribute = _ARTICLE_RE.sub("", match.group("attr").strip())
            if match.group("conn").lower() in _RELATIVE_PRONOUNS and attribute:
                attribute = _clause_attribute(attribute, constraint)
            start = match.start()
        if not attribute and constraint.currency:
            attribute = "prices"
        if attribute:
            attributes.insert(0, attribute)
        text = text[:start].rstrip() + " " + text[end:].lstrip()
        insert_at = min(insert_at, start)
    text = _tidy(text)
    if len(text.split()) < 2:
        return None
    if attributes:
        unique = list(dict.fromkeys(attributes))
        # Clauses ("how long it takes") go after the nouns, which share one "the".
        nouns = [a for a in unique if not a.startswith("how ")]
        items = ([f"the {nouns[0]}"] if nouns else []) + nouns[1:]
        items += [a for a in unique if a.startswith("how ")]
        listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        end = _sentence_end(text, min(insert_at, len(text)))
        text = f"{text[:end].rstrip()} and list {listed}{text[end:]}"
    if text[-1:] not in ".!?":
        text += "."
    return text


_RELATIVE_PRONOUNS = _words("that which who")
_TIME_UNIT_RE = re.compile(r"\b(?:sec|second|min|minute|hr|hour|day|week|month|year)s?\b", re.I)
_MASS_UNIT_RE = re.compile(r"\d\s*(?:kg|g|lbs?|pounds?|kilo(?:gram)?s?|grams?|tons?)\b", re.I)


def _clause_attribute(clause: str, constraint: Constraint) -> str:
    """What a relative clause before a constraint asks for, as a noun or a "how" clause: its
    verb opens it ("that takes", "which has a rating"), and a verb is no attribute."""
    verb, _, rest = clause.partition(" ")
    noun = _ARTICLE_RE.sub("", rest.strip())
    if noun:
        return noun
    # "takes" asks about one thing, "take" about several.
    pronoun = "it" if verb.lower().endswith("s") else "they"
    if _TIME_UNIT_RE.search(constraint.text):
        return f"how long {pronoun} {verb}"
    if constraint.currency or _MASS_UNIT_RE.search(constraint.text):
        return f"how much {pronoun} {verb}"
    return ""


def _sentence(text: str) -> str | None:
    """``text`` as a request of at least two words, ending in a stop."""
    text = text.strip()
    if len(text.split()) < 2:
        return None
    return text if text[-1:] in ".!?" else text + "."


def _sentence_end(text: str, position: int) -> int:
    match = re.compile(r"[.!?](?:\s|$)").search(text, max(0, position - 1))
    return match.start() if match else len(text)


# "X instead of Y" / "expected Y, got X": the keyword is found first, then the two sides are
# read off around it (one bounded pass, no backtracking over the whole reason).
_SWAP_KEYWORD_RE = re.compile(r"\s(?:instead\s+of|rather\s+than|in\s+place\s+of)\s", re.IGNORECASE)
_EXPECTED_GOT_RE = re.compile(
    r"\bexpected\s+(?P<expected>[^;!?,]{1,80}?)\s*(?:,|;|\bbut\b)\s*(?:it\s+)?(?:got|received"
    r"|returned|produced|gave|found|was)\s+(?P<actual>[^;!?]{1,80}?)(?=[;!?,]|\.(?:\s|$)|$)",
    re.IGNORECASE,
)
_SENTENCE_START_RE = re.compile(r".*(?:[;!?]|\.\s)", re.DOTALL)
_SIDE_END_RE = re.compile(r"[;!?,]|\.(?:\s|$)")
_EXTENSION_RE = re.compile(r"(?<![\w])\.([A-Za-z][A-Za-z0-9]{0,4})\b")
_WORD_RE = re.compile(r"[A-Za-z][\w'-]*")
_CLAUSE_BREAK_RE = re.compile(r",\s+|;\s+|\s+(?:and|then)\s+")
_FORMAT_DISPLAY = {
    "xlsx": "Excel",
    "xls": "Excel",
    "docx": "Word",
    "doc": "Word",
    "pptx": "PowerPoint",
    "md": "Markdown",
    "txt": "text",
    "yml": "YAML",
    "jpg": "JPEG",
    "py": "Python",
}
_REASON_FILLER = _words(
    "the a an as requested asked required expected specified format file output it was is "
    "saved written exported returned produced used result results value values wrong"
)


def _key_token(text: str) -> tuple[str, str] | None:
    """What a phrase of the failure reason is about: a file type, a number or a word."""
    ext = _EXTENSION_RE.search(text)
    if ext:
        return ("ext", ext.group(1).lower())
    quantities = extract_quantities(text)
    if quantities:
        return ("num", quantities[0].raw)
    words = [w for w in _WORD_RE.findall(text) if w.lower() not in _REASON_FILLER]
    return ("word", words[-1]) if words else None


def _swap_sides(reason: str) -> tuple[str, str] | None:
    """(expected, actual) phrases of the failure reason, if it says what replaced what."""
    keyword = _SWAP_KEYWORD_RE.search(reason)
    if keyword:
        before = reason[: keyword.start()]
        head = _SENTENCE_START_RE.match(before)
        actual = before[head.end() :] if head else before
        after = reason[keyword.end() :]
        end = _SIDE_END_RE.search(after)
        return (after[: end.start()] if end else after), actual
    match = _EXPECTED_GOT_RE.search(reason)
    return (match.group("expected"), match.group("actual")) if match else None


def _expected_actual(reason: str) -> tuple[tuple[str, str], tuple[str, str]] | None:
    sides = _swap_sides(reason)
    if sides is None:
        return None
    expected, actual = _key_token(sides[0]), _key_token(sides[1])
    if expected and actual and expected[0] == actual[0] and expected[1] != actual[1]:
        return expected, actual
    return None


def _article_for(word: str) -> str:
    if word.isupper() and len(word) > 1:
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    return "an" if word[:1].lower() in "aeiou" else "a"


def _restate_actual(original: str, reason: str, ev: Evidence) -> str | None:
    pair = _expected_actual(reason)
    if pair is None:
        return None
    (kind, expected), (_, actual) = pair
    if kind == "ext":
        pattern = re.compile(
            rf"(?<![\w])([\w-]+(?:[./][\w-]+)*)\.{re.escape(expected)}\b|"
            rf"(?<![\w.]){re.escape(expected)}\b",
            re.IGNORECASE,
        )
        actual_files = re.findall(rf"[\w-]+(?:[./][\w-]+)*\.{re.escape(actual)}\b", ev.text)
        if not actual_files:
            return None
    else:
        if actual.lower() not in ev.text:
            return None
        pattern = re.compile(rf"(?<![\w.]){re.escape(expected)}(?![\w])", re.IGNORECASE)
        actual_files = []
    matches = list(pattern.finditer(original))
    if not matches:
        return None
    # Only the last clause that mentions the expected thing is about the output.
    last = matches[-1]
    breaks = [m.end() for m in _CLAUSE_BREAK_RE.finditer(original, 0, last.start())]
    clause_start = breaks[-1] if breaks else 0
    pieces: list[str] = []
    cursor = 0
    for match in matches:
        if match.start() < clause_start:
            continue
        if kind == "ext" and match.group(1):
            stem = match.group(1).lower()
            same_stem = [f for f in actual_files if f.rsplit(".", 1)[0] == stem]
            replacement = _original_case(original, (same_stem or actual_files)[0])
        elif kind == "ext":
            replacement = _FORMAT_DISPLAY.get(actual, actual.upper())
        else:
            replacement = actual
        prefix = original[cursor : match.start()]
        article = re.search(r"\b(a|an|A|An)(\s+(?:new\s+)?)$", prefix)
        if article:
            next_word = "new" if article.group(2).strip() else replacement
            chosen = _article_for(next_word)
            if article.group(1)[0].isupper():
                chosen = chosen.capitalize()
            prefix = prefix[: article.start()] + chosen + article.group(2)
        pieces.append(prefix + replacement)
        cursor = match.end()
    pieces.append(original[cursor:])
    return "".join(pieces)


def _original_case(original: str, lowered: str) -> str:
    """File names in ``Evidence.text`` are lower-cased; keep the stem's case from the prompt."""
    index = original.lower().find(lowered.rsplit(".", 1)[0])
    if index < 0:
        return lowered
    stem = original[index : index + len(lowered.rsplit(".", 1)[0])]
    return stem + "." + lowered.rsplit(".", 1)[1]


# --- unmet requirements that are not numbers -----------------------------------------------------

# Copied wording must not keep the requirement the run failed. Besides comparator constraints
# (dropped above) a request can fail on a place ("in Berlin"), a deadline ("by Friday"), an
# exclusion ("without using dateutil") or a count ("5 hotels" when 3 were found). Such a phrase
# is taken for the unmet one when the failure reason names its key word; a count, when the
# reason counts short ("only 3", "two of five") or the run stopped before the end.
_NUMBER_WORDS = "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
_COUNT = rf"(?:\d{{1,3}}|{_NUMBER_WORDS})"
_PLACE_RE = re.compile(
    r",?\s*\b(?:in|near|around|at)\s+(?:the\s+)?(?P<key>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)"
)
_DEADLINE_RE = re.compile(
    r",?\s*(?:\bso\s+(?:that\s+)?\w+\s+(?:\w+\s+)?)?\b(?:by|before|until|no\s+later\s+than)\s+"
    r"(?:the\s+)?(?:end\s+of\s+)?(?:(?:next|this)\s+)?(?P<key>monday|tuesday|wednesday|thursday"
    r"|friday|saturday|sunday|tomorrow|tonight|today|noon|midnight|january|february|march|april"
    r"|may|june|july|august|september|october|november|december|week|month"
    r"|\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{4}-\d{2}-\d{2})\b",
    re.IGNORECASE,
)
_EXCLUSION_RE = re.compile(
    r",?\s*\b(?:without(?:\s+using)?|except(?:\s+for)?|excluding|but\s+not|and\s+not"
    r"|not\s+using)\s+(?:the\s+|any\s+|an?\s+)?(?P<key>[\w.-]+)"
    r"(?:\s+(?:library|package|module|tool|command|function|api|framework|service))?",
    re.IGNORECASE,
)
_DEADLINE_WORDS_RE = re.compile(r"\b(?:deadline|late|later|after|missed|overdue)\b", re.I)
_COUNT_RE = re.compile(
    rf"\b(?:all\s+)?(?:the\s+)?(?P<key>{_COUNT})\s+(?=(?:[A-Za-z-]+\s+){{0,2}}[A-Za-z-]+s\b)",
    re.IGNORECASE,
)
_SHORT_COUNT_RE = re.compile(
    rf"\b(?:only|just)\s+{_COUNT}\b|\b{_COUNT}\s+of\s+(?:the\s+)?{_COUNT}\b"
    rf"|\basked\s+for\s+{_COUNT}\b",
    re.IGNORECASE,
)
# A number after these is a limit (dropped as a constraint), not a count of things asked for.
_LIMIT_WORDS = _words("under over than most least within to about around below above by up")


def cut_unmet_phrases(text: str, reason: str, *, stopped_early: bool = False) -> str:
    """``text`` without the place, deadline, exclusion and count phrases the failure names."""
    named = reason.lower()

    def names(key: str) -> bool:
        return _contains_words(named, key.lower())

    cuts: list[tuple[int, int]] = []
    for match in _PLACE_RE.finditer(text):
        if names(match.group("key")):
            cuts.append(match.span())
    for match in _DEADLINE_RE.finditer(text):
        if names(match.group("key")) or _DEADLINE_WORDS_RE.search(reason):
            cuts.append(match.span())
    for match in _EXCLUSION_RE.finditer(text):
        if names(match.group("key")):
            cuts.append(match.span())
    if stopped_early or _SHORT_COUNT_RE.search(reason):
        for match in _COUNT_RE.finditer(text):
            before = text[: match.start()].split()
            if not before or before[-1].lower() not in _LIMIT_WORDS:
                cuts.append(match.span())
    if not cuts:
        return text
    kept, cursor = [], 0
    for start, end in sorted(cuts):
        if start >= cursor:
            kept.append(text[cursor:start])
            cursor = end
        else:
            cursor = max(cursor, end)
    kept.append(text[cursor:])
    return _tidy(" ".join(kept))


# --- side effects the kept wording promises ----------------------------------------------------

_SIDE_EFFECTS: dict[str, tuple[str, ...]] = {
    "book": ("book", "reserv"),
    "reserve": ("reserv", "book"),
    "buy": ("buy", "bought", "purchas", "order"),
    "purchase": ("purchas", "bought", "order"),
    "pay": ("pay", "paid"),
    "send": ("send", "sent", "email", "mail"),
    "email": ("email", "sent", "mail"),
    "delete": ("delet", "remov"),
    "remove": ("remov", "delet"),
    "deploy": ("deploy", "rollout", "releas"),
    "install": ("install",),
    "schedule": ("schedul", "calendar", "invit"),
    "cancel": ("cancel",),
    "upload": ("upload",),
    "publish": ("publish", "post"),
    "transfer": ("transfer",),
    "submit": ("submit",),
    "export": ("export", "sav", "writ", "to_"),
    "save": ("sav", "export", "writ"),
}
_VERB_FORM_RE = re.compile(
    r"\b(" + "|".join(sorted(_SIDE_EFFECTS, key=len, reverse=True)) + r")(?:s|es|ed|ing|d)?\b",
    re.IGNORECASE,
)


def _unevidenced_side_effect(prompt: str, record: str) -> str | None:
    for match in _VERB_FORM_RE.finditer(prompt):
        roots = _SIDE_EFFECTS[match.group(1).lower()]
        if not any(root in record for root in roots):
            return match.group(0)
    return None


# --- the subject a prompt is about -------------------------------------------------------------

# Words that name tools, outputs or requests, never what a run was about: "Query the database
# and show me the output" could stand for any run, so it teaches nothing.
_NOT_SUBJECT = _words(
    """
    query database table tables file files page pages document documents doc docs result
    results output outputs program command code script tool tools api http https data record
    records item items entry entries list report value values thing things information info
    details detail response request web internet online search lookup look check run get
    fetch read open write create send post update edit delete show tell give find calculate
    compute translate convert call invoke execute browse retrieve download upload save book
    describe confirm done matching about then and the for from with what you when into onto
    over under after before this that these those each every some any all more most such own
    same other new one two three first last please can could would should will may might must
    which where who how are was were has have had been being its their there here them they
    our your his her him she it's not only also just very really
    hour hours day days night nights week weeks month months year years minute minutes person
    people
    """
)
# Common describing, time and linking words: never the head of a subject noun phrase.
_NOT_NOUNS = _words(
    """
    direct nonstop cheap cheaper quick quicker fast faster slow good better bad worse big small
    large short long free available local recent latest popular top high low full simple easy
    early late daily weekly monthly yearly annual public private current previous next final
    best worst main major minor open closed active valid real total average similar different
    vegan vegetarian organic fresh frozen hot cold warm cheap official online offline remote
    today tonight tomorrow yesterday now currently recently soon later morning evening weekend
    takes take took costs cost has have had gets makes uses needs lasts weighs runs supports
    includes contains offers allows """
)
_SUBJECT_TOKEN_RE = re.compile(r"[A-Za-z][\w'/-]*\w|[A-Za-z]|\d+(?:\.\d+)*(?![\w.])")
_SUBJECT_MAX_WORDS = 4
_NOT_NOUN_ENDINGS = ("ed", "ly", "ing", "est", "ful", "ous", "ive", "able")


def _tool_name_words(steps: list[AgentStep]) -> frozenset[str]:
    """Stems of the tool names' words ("rail_search" → rail, search)."""
    return frozenset(_stem(w) for s in steps for w in _name_words(s.action_name))


def _commands(steps: list[AgentStep]) -> Iterator[str]:
    for step in steps:
        for key in _COMMAND_KEYS:
            raw = step.action_input.get(key)
            if isinstance(raw, list):
                raw = " ".join(str(x) for x in raw)
            if isinstance(raw, str) and len(raw.split()) >= 2:
                yield " ".join(raw.split())


def _has_subject(prompt: str, run: _RunFacts) -> bool:
    """Whether ``prompt`` names what the run dealt with, in terms the user would recognise: a
    number, name or word of the request that the run shows, or an observed name that is more
    than a code ("Trattoria Sarti", not "MAD"). Tool vocabulary and request filler never count.
    An off-topic run worked on something other than the request, so any of these counts there."""
    any_word = run.off_topic

    def in_request(phrase: str) -> bool:
        return any_word or _contains_words(run.request_lower, phrase.lower())

    if any(in_request(q.raw) for q in extract_quantities(prompt)):
        return True
    # A command line quoted whole ("helm list -A") is as concrete as a request gets.
    if any(command in prompt for command in run.commands):
        return True
    # "HTTP" or "GitHub" spelled from the tool's name is no subject either.
    for name in extract_entities(prompt):
        words = _CONTENT_WORD_RE.findall(name.lower())
        if all(_stem(w) in run.tool_words or w in _NOT_SUBJECT for w in words):
            continue
        if in_request(name) or not _CODE_RE.fullmatch(name):
            return True
    return any(
        stem in run.done and (any_word or stem in run.request_stems)
        for stem in _subject_words(prompt, run)
    )


# An airport, currency or ticker code: the agent's translation of what the user said.
_CODE_RE = re.compile(r"[A-Z]{2,5}")


def _subject_words(text: str, run: _RunFacts) -> set[str]:
    """Stems of the words of ``text`` that could say what a run was about."""
    return {
        _stem(word)
        for word in _CONTENT_WORD_RE.findall(text.lower())
        if word not in _NOT_SUBJECT
        and word not in _REQUEST_WORDS
        and _stem(word) not in run.tool_words
    }


@dataclass(frozen=True, slots=True)
class _Subject:
    text: str
    is_noun: bool  # False for a describing word ("direct"), usable only before its noun
    modifies: str  # the tool-vocabulary word it stands before in the request ("flight"), or ""


def _subject_phrase(run: _RunFacts) -> _Subject | None:
    """The longest run of words (at most four) of the request, minus its unmet constraints,
    that an observation repeats word for word: what the run was about, in the user's words.
    Only observations count; the final answer is the agent's own claim."""
    text = run.request
    tokens = list(_SUBJECT_TOKEN_RE.finditer(text))

    def is_subject_word(token: str) -> bool:
        low = token.lower()
        # An identifier ("A000_", "user_id") is code, not the user's words for a subject.
        return (
            len(low) >= 3
            and "_" not in low
            and low not in _NOT_SUBJECT
            and _stem(low) not in run.tool_words
        )

    def is_head(word: str) -> bool:
        low = word.lower()
        return low not in _NOT_NOUNS and not low.endswith(_NOT_NOUN_ENDINGS)

    def modified_noun(end: int) -> str:
        """The request word right after ``end`` if it names what the tools handle ("flight")."""
        after = _NEXT_WORD_RE.match(text, end)
        return after.group(1) if after and _stem(after.group(1).lower()) in run.tool_words else ""

    def ends_phrase(token: str, n: int) -> bool:
        # A number may close a name the user gave ("release 5.2"), never open one.
        return is_subject_word(token) or (n > 1 and token[0].isdigit())

    def fragment(start: int, end: int) -> bool:
        """Part of a dotted name ("config" of "config.json"): the user named the whole."""
        joined_before = start > 1 and text[start - 1] in "._" and text[start - 2].isalnum()
        joined_after = end + 1 < len(text) and text[end] in "._" and text[end + 1].isalnum()
        return joined_before or joined_after

    # Longest first; a noun phrase beats a describing word, which only fits before its noun,
    # and a name ("requests-cache", "release 5.2") beats a common word ("maintainer").
    best: tuple[int, int, int, str, str] | None = None  # (noun phrase, words, name, phrase, of)
    for i, first in enumerate(tokens):
        if not is_subject_word(first.group(0)):
            continue
        for n in range(min(_SUBJECT_MAX_WORDS, len(tokens) - i), 0, -1):
            last = tokens[i + n - 1]
            if best is not None and best[:3] >= (1, n, 1):
                break
            phrase = text[first.start() : last.end()]
            if not ends_phrase(last.group(0), n) or _PHRASE_BREAK_RE.search(phrase):
                continue
            if fragment(first.start(), last.end()):
                continue
            if not _contains_words(run.observed, phrase.lower()):
                continue
            # One word is a subject only if it looks like a noun of some length ("invoices",
            # not "preferred", "tsv" or "quickly"); two or more words carry their own context.
            if n == 1 and (len(phrase) < 5 or phrase.lower().endswith(_NOT_NOUN_ENDINGS)):
                continue
            noun = is_head(last.group(0))
            modifies = "" if noun else modified_noun(last.end())
            if not (noun or modifies):
                continue
            key = (int(noun), n, int(_NAME_LIKE_RE.search(phrase) is not None))
            if best is None or key > best[:3]:
                best = (*key, phrase, modifies)
            break
    if best is None or has_injection(best[3]):
        return None
    return _Subject(best[3], bool(best[0]), best[4])


# A name rather than a common word: a digit, an inner capital or a joined word.
_NAME_LIKE_RE = re.compile(r"\d|\w[-.]\w|(?<=\s)[A-Z]|^[A-Z]{2}")


_NEXT_WORD_RE = re.compile(r"\s+([A-Za-z]+)")


def _contains_words(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` on word boundaries; a plain ``find`` loop, because a regex
    per phrase would be compiled afresh for every run."""
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
            return True
        start = text.find(phrase, start + 1)
    return False


_PHRASE_BREAK_RE = re.compile(r"[,;:!?()\[\]\"]|\.(?!\d)|\s{2,}")


# --- figures: what a reader checks a number against ----------------------------------------------

# Digit runs as a reader compares them ("2,630.50", "18:00", "5.2"), digits inside identifiers
# included ("TR-220"): a hindsight prompt is checked against the observations that way, and a
# number only the agent's answer or its own tool arguments show is not the environment's word.
_FIGURE_RE = re.compile(r"\d+(?:[.,:]\d+)*")
_SMALL_COUNT = 10  # "3 results", "two of five": counting what was listed, not a claim
_MAX_DERIVED = 40  # observed values combined pairwise; beyond that almost anything "derives"


@lru_cache(maxsize=4096)
def figures(text: str) -> frozenset[str]:
    """The digit runs of ``text``, thousands separators and trailing stops removed."""
    return frozenset(m.replace(",", "").rstrip(".:") for m in _FIGURE_RE.findall(text))


def _as_number(figure: str) -> float | None:
    try:
        return float(figure)
    except ValueError:
        return None  # a time or a dotted version: compared as written only


def _decimals(figure: str) -> int:
    return len(figure.partition(".")[2])


def _observed_values(observations: list[str]) -> tuple[list[float], list[float]]:
    """Observed numbers, with the hours of observed times ("10:00" backs "10-19"), and the totals
    of each observation's amounts of money (an answer may add up a listing of prices)."""
    values: list[float] = []
    totals: list[float] = []
    for text in observations:
        for figure in figures(text):
            number = _as_number(figure.split(":", 1)[0])
            if number is not None:
                values.append(number)
        by_currency: dict[str, float] = {}
        for quantity in extract_quantities(text):
            if quantity.currency:
                amount = float(quantity.value)
                by_currency[quantity.currency] = by_currency.get(quantity.currency, 0.0) + amount
        totals.extend(by_currency.values())
    return values, totals


def _derivable(figure: str, values: list[float], totals: list[float]) -> bool:
    """Whether the answer could have computed ``figure`` from what was observed: a rounding of
    one value, the sum, difference or ratio (as a percentage) of two, or an observation's total."""
    target = _as_number(figure)
    if target is None:
        return False
    places = _decimals(figure)

    def same(x: float) -> bool:
        return round(x, places) == target

    if any(same(v) for v in values) or any(abs(t - target) < 1e-6 for t in totals):
        return True
    pool = values[:_MAX_DERIVED]
    for i, a in enumerate(pool):
        for b in pool[i + 1 :]:
            if abs(a + b - target) < 1e-6 or abs(abs(a - b) - target) < 1e-6:
                return True
            if a and b and (same(100 * a / b) or same(100 * b / a)):
                return True
    return False


def unsupported_figures(t: FailedTrajectory) -> list[str]:
    """Figures of the final answer that neither the observations, the request nor the agent's
    own tool arguments show, nor a simple computation from observed values gives: the answer
    asserts them on its own (a hallucination, whatever Stage 1 typed the failure as)."""
    answer = figures(t.final_answer)
    if not answer:
        return []
    observations = [s.observation for s in t.steps]
    arguments = " ".join(str(v) for s in t.steps for v in s.action_input.values())
    known = figures("\n".join(observations)) | figures(t.original_prompt) | figures(arguments)
    values, totals = _observed_values(observations)
    missing = []
    for figure in sorted(answer - known):
        number = _as_number(figure)
        if number is not None and number.is_integer() and number <= _SMALL_COUNT:
            continue
        if not _derivable(figure, values, totals):
            missing.append(figure)
    return missing


# --- scoring -----------------------------------------------------------------------------------

_CONTENT_WORD_RE = re.compile(r"[a-z][a-z0-9'-]{2,}")
_REQUEST_WORDS = _words(
    """
    find list show report search tell give get run write their them what you the and then
    output confirm when done matching results result for from with that this into about all
    please can could would find me your its are was were has have had will also each any
    which where who how out over per
    """
)


# Words repeat across runs and candidates; stemming them is a hot path of the rule pipeline.
@lru_cache(maxsize=16384)
def _stem(word: str) -> str:
    for suffix in ("ies", "es", "ed", "ing", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def support_ratio(prompt: str, record: str) -> float:
    """Share of the prompt's content words that occur (stemmed) in ``record``."""
    words = [w for w in _CONTENT_WORD_RE.findall(prompt.lower()) if w not in _REQUEST_WORDS]
    if not words:
        return 0.0
    return sum(1 for w in words if _stem(w) in record) / len(words)


@dataclass(frozen=True, slots=True)
class _Scored:
    prompt: str
    strategy: str
    confidence: float
    check: float
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _RunFacts:
    """Everything about the run the candidates are scored against, computed once."""

    trajectory: FailedTrajectory
    analysis: FailureAnalysis | None
    evidence: Evidence
    unmet: list[Constraint]
    ok_steps: list[AgentStep]
    facts: float  # share of tool steps that answered; halved if none showed content
    hedged: bool  # observations or final answer hedge ("may not reflect", "outdated")
    done: str  # lower-cased observations, final answer and successful actions
    record: str  # ``done`` plus the original request without its unmet constraints
    request: str  # the original request without its unmet constraints, as written
    observed: str  # lower-cased usable observations only
    tool_words: frozenset[str]  # words of every tool name the run used
    commands: tuple[str, ...]  # command lines the successful steps ran
    observed_figures: frozenset[str]  # digit runs of every observation
    off_topic: bool  # Stage 1 says the run worked on something other than the request
    wrong_result: bool  # Stage 1 says the answer is wrong
    request_lower: str  # ``request``, lower-cased
    request_stems: frozenset[str]  # stems of the request's words
    observations: Evidence  # the observations alone: what tool arguments may name

    @classmethod
    def of(
        cls, t: FailedTrajectory, analysis: FailureAnalysis | None, ok_steps: list[AgentStep]
    ) -> _RunFacts:
        evidence = collect_evidence(t)
        unmet = unmet_constraints(t, analysis)
        tool_steps = sum(1 for s in t.steps if not is_internal_action(s.action_name))
        facts = len(ok_steps) / tool_steps if tool_steps else 0.0
        if not any(observation_kind(s.observation) is ObservationKind.CONTENT for s in ok_steps):
            facts *= 0.5
        original = t.original_prompt
        for constraint in sorted(unmet, key=lambda c: c.start, reverse=True):
            original = original[: constraint.start] + original[constraint.end :]
        reason = t.failure_reason
        if analysis is not None and analysis.explanation:
            reason = f"{reason}. {analysis.explanation}"
        original = cut_unmet_phrases(
            original,
            reason,
            stopped_early=analysis is not None and analysis.failure_type is FailureType.INCOMPLETE,
        )
        actions = " ".join(
            f"{s.action_name} {' '.join(str(v) for v in s.action_input.values())}" for s in ok_steps
        )
        return cls(
            trajectory=t,
            analysis=analysis,
            evidence=evidence,
            unmet=unmet,
            ok_steps=ok_steps,
            facts=facts,
            # Errors hedge nothing, so the whole (lower-cased) evidence text can be searched.
            hedged=_hedges(evidence.text),
            done=f"{evidence.text}\n{actions.lower()}",
            record=f"{evidence.text}\n{actions.lower()}\n{original.lower()}",
            request=original,
            observed="\n".join(s.observation for s in ok_steps).lower(),
            tool_words=_tool_name_words(t.steps),
            commands=tuple(_commands(ok_steps)),
            observed_figures=figures("\n".join(s.observation for s in t.steps)),
            off_topic=analysis is not None and analysis.failure_type is FailureType.OFF_TOPIC,
            wrong_result=analysis is not None and analysis.failure_type is FailureType.WRONG_RESULT,
            request_lower=original.lower(),
            request_stems=frozenset(_stem(w) for w in _CONTENT_WORD_RE.findall(original.lower())),
            observations=collect_evidence(t.model_copy(update={"final_answer": ""})),
        )


def _score(prompt: str, strategy: str, run: _RunFacts) -> _Scored:
    t = run.trajectory
    grounding = verify_grounding(prompt, t, run.analysis, evidence=run.evidence, unmet=run.unmet)
    problems = list(grounding.problems)
    if strategy == TOOL_WORK:
        # Tool work is said in the agent's terms (its arguments), which only an observation
        # backs; the other strategies keep the user's own numbers, checked by the verifier.
        problems.extend(
            f"the number {n} occurs in no observation"
            for n in sorted(figures(prompt) - run.observed_figures)
        )
    side_effect = _unevidenced_side_effect(prompt, run.done)
    if side_effect:
        problems.append(f"the run shows nothing for '{side_effect}'")
    if strategy == TOOL_WORK and run.wrong_result:
        problems.extend(
            f"the prompt asks about '{word}', which the answer got wrong"
            for word in _what_was_wrong(prompt, run)
        )
    words, original_words = len(prompt.split()), len(t.original_prompt.split())
    length = min(words, original_words) / max(words, original_words, 1)
    hedged = run.hedged or _HEDGE_RE.search(prompt.lower()) is not None
    confidence = 0.35 * _PRIORS[strategy] + 0.25 * run.facts + 0.2 * length + 0.2 * (not hedged)
    check = 0.0 if problems else support_ratio(prompt, run.record)
    return _Scored(prompt, strategy, round(confidence, 4), round(check, 4), tuple(problems))


def _what_was_wrong(prompt: str, run: _RunFacts) -> list[str]:
    """Words of ``prompt`` from the request that the failure reason repeats and the final
    answer never uses: the thing the answer got wrong ("who proposed the Transformer" answered
    with another model's authors). Paired with that answer, such a prompt teaches the mistake."""
    t = run.trajectory
    reason = {_stem(w) for w in _CONTENT_WORD_RE.findall(t.failure_reason.lower())}
    answer = {_stem(w) for w in _CONTENT_WORD_RE.findall(t.final_answer.lower())}
    return sorted(
        word
        for word in _subject_words(prompt, run)
        if word in reason and word in run.request_stems and word not in answer
    )


def _candidates(run: _RunFacts) -> Iterator[tuple[str, str]]:
    """(prompt, strategy) pairs in the order they are tried, built only when reached."""
    t, analysis = run.trajectory, run.analysis
    kind = analysis.failure_type if analysis is not None else None
    reason = t.failure_reason
    if analysis is not None and analysis.explanation:
        reason = f"{reason}. {analysis.explanation}"
    # A broken format requirement is often typed as a constraint violation, so both types
    # get the restatement; it keeps more of the request than dropping does.
    stopped_early = kind is FailureType.INCOMPLETE
    if kind in (FailureType.WRONG_RESULT, FailureType.CONSTRAINT_VIOLATION, None):
        restated = _restate_actual(t.original_prompt, reason, run.evidence)
        if restated:
            restated = _sentence(cut_unmet_phrases(restated, reason, stopped_early=stopped_early))
        if restated and _has_subject(restated, run):
            yield restated, ACTUAL_RESULT
    if kind in (FailureType.CONSTRAINT_VIOLATION, None):
        dropped = _drop_constraints(t.original_prompt, run.unmet) if run.unmet else None
        cut = cut_unmet_phrases(dropped or t.original_prompt, reason)
        if dropped or cut != t.original_prompt:
            dropped = _sentence(cut)
        if dropped and _has_subject(dropped, run):
            yield dropped, DROP_CONSTRAINT
    work = _tool_work(run.ok_steps, run.observations)
    if work and not _has_subject(work, run):
        # Name the subject in the user's words when an observation repeats them; an
        # off-topic run's request is by definition not what it worked on.
        subject = None if kind is FailureType.OFF_TOPIC else _subject_phrase(run)
        if subject and not _asked_about(subject, run):
            subject = None
        work = _tool_work(run.ok_steps, run.observations, subject) if subject else None
    if work:
        yield work, TOOL_WORK


def decide_by_rules(
    trajectory: FailedTrajectory,
    outcome: ReplayOutcome | None = None,
    analysis: FailureAnalysis | None = None,
    *,
    min_confidence: float = 0.5,
    fallback_factor: float = 0.8,
) -> RelabelDecision:
    """Stage 3 in rule mode. ``attempts`` counts the candidate prompts checked (no LLM calls)."""
    del outcome  # the rules read the run itself; Stage 2's summary may come from an LLM
    ok_steps = successful_tool_steps(trajectory)
    if not ok_steps:
        return RelabelDecision(
            accepted=False, reason="no tool step succeeded: nothing to relabel", attempts=0
        )
    invented = unsupported_figures(trajectory)
    if invented:
        # Any prompt would be paired with this answer, and train the model to invent figures.
        return RelabelDecision(
            accepted=False,
            reason=f"the final answer states {', '.join(invented)}, which no observation shows",
            attempts=0,
        )
    run = _RunFacts.of(trajectory, analysis, ok_steps)
    scored: list[_Scored] = []
    for prompt, strategy in _candidates(run):
        result = _score(prompt, strategy, run)
        scored.append(result)
        if result.confidence >= min_confidence and result.check >= min_confidence:
            return _accept(trajectory, result, len(scored), fallback=False)
    eligible = [
        s
        for s in scored
        if s.check >= min_confidence and s.confidence >= fallback_factor * min_confidence
    ]
    if eligible:
        best = max(eligible, key=lambda s: s.confidence)
        return _accept(trajectory, best, len(scored), fallback=True)
    return RelabelDecision(accepted=False, reason=_rejection(scored), attempts=len(scored))


def _accept(t: FailedTrajectory, s: _Scored, attempts: int, *, fallback: bool) -> RelabelDecision:
    how = "fallback at c ≥ 0.8θ" if fallback else "accepted"
    relabeled = RelabeledData(
        trajectory_id=t.trajectory_id,
        hindsight_prompt=s.prompt,
        is_valid_replay=True,
        rationale=(
            f"rule {s.strategy}: {how}; confidence {s.confidence:.2f}, grounding passed, "
            f"{s.check:.0%} of content words found in the run"
        ),
        confidence=round((s.confidence + s.check) / 2, 4),
        judge_confidence=s.check,
        attempts=attempts,
        mode="rule",
    )
    return RelabelDecision(accepted=True, relabeled=relabeled, reason=how, attempts=attempts)


def _rejection(scored: list[_Scored]) -> str:
    if not scored:
        return "no hindsight prompt could be built from the run's tool work"
    parts = []
    for s in scored:
        why = "; ".join(s.problems) or f"confidence {s.confidence:.2f}, check {s.check:.2f}"
        parts.append(f"{s.strategy}: {why}")
    return "rule relabeling rejected: " + " | ".join(parts)
