"""The ``tool_work`` strategy: a request for exactly the tool work that succeeded ("Search the
web for X and list the results."), for any failure type and as the fallback. Tool names of any
shape become plain verbs ("flight_search", "getWeather", "kubectl"); the arguments a request
names are read by ``agenther.rules.arguments``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agenther.evidence import Evidence
from agenther.models import AgentStep
from agenther.rules.arguments import (
    COMMAND_KEYS,
    LANGUAGE_KEYS,
    TARGET_KEYS,
    database_query,
    read_query,
    read_route,
    read_value,
    translation_language,
    translation_source,
    unnamed_objects,
)
from agenther.rules.facts import RunFacts
from agenther.rules.steps import name_words
from agenther.rules.subject import Subject
from agenther.rules.vocabulary import join_parts, word_list, word_set
from agenther.words import stem

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
_CLI_TOOLS = word_set(
    "kubectl helm git docker podman terraform aws gcloud az npm pip curl wget psql mysql redis "
    "ansible make cargo go java node ssh rsync jq"
)
_SHELLS = word_set("bash shell sh zsh terminal console cli")
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
_PATTERN_KEYS = word_list("pattern regex regexp query q search term")
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
_GENERIC_WORDS = word_set("tool api function action cmd command by the a an do tool call")
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
_ACRONYMS = word_set("sql api url csv json pdf html sms dns ip http ssh vm gpu cpu k8s")
_DATABASE_WORDS = frozenset({"sql", "db", "database"})
_DOCUMENT_WORDS = word_set("file page url document doc web webpage link site")


_CLOSINGS = {
    _SEARCH: "list the results",
    _FETCH: "report what you find",
    _READ: "report what you find",
    _RUN: "show me the output",
    _WRITE: "confirm when it is done",
    _ACT: "confirm when it is done",
}
_MAX_PHRASES = 2  # one to use; a second only shows the run did different things


# Words of a tool name that say how it fetches, not what.
_PROTOCOL_WORDS = word_set("http https url rest request requests web webpage page")


def _noun_phrase(words: list[str]) -> str:
    return " ".join(w.upper() if w in _ACRONYMS else w for w in words)


def _plural(phrase: str) -> str:
    if not phrase or phrase.endswith("s"):
        return phrase
    if phrase.endswith("y") and phrase[-2:-1] not in "aeiou":
        return phrase[:-1] + "ies"
    return phrase + "s"


def requested_words(words: list[str], request: str) -> bool:
    """Whether every word occurs (stemmed) in the user's own request."""
    asked = {stem(w) for w in re.findall(r"[a-z]+", request.lower())}
    return all(stem(w) in asked for w in words)


_PREPOSITIONS = word_set("on for in of from about with near to at by under over between")
_PLURAL_RE = re.compile(r"^[a-z]{3,}[^s]s$")
_FUNCTION_WORDS = _PREPOSITIONS | word_set("the a an and or my our your their its what how")


def _keyword_list(query: str) -> bool:
    """Whether search terms are keywords strung together, which no one says in a request:
    "stainless steel sheet suppliers price 1", "LiFePO4 cells suppliers", "index funds 2".
    After the first plural noun only a phrase it governs may follow ("papers on diffusion
    models"), and the terms never end on a bare number."""
    words = query.split()
    if words and words[-1].isdigit():
        return True
    if len(words) >= 4 and not _FUNCTION_WORDS & {w.lower() for w in words}:
        # "BERT pretraining language understanding"; "Acme X200 vacuum reviews" ends on its
        # head noun and reads as a request's object.
        return not _PLURAL_RE.match(words[-1])
    plural = next((i for i, w in enumerate(words) if _PLURAL_RE.match(w)), None)
    return plural is not None and plural + 1 < len(words) and words[plural + 1] not in _PREPOSITIONS


def describe_step(step: AgentStep, ev: Evidence, request: str = "") -> tuple[str, str] | None:
    """A plain-verb request for one tool call, and its kind; None if nothing can be said.
    ``request`` is the user's original request: a tool named by nouns alone is only said
    back in words the user used."""
    words = name_words(step.action_name)
    if not words:
        return None
    args = step.action_input
    verb_at = next((i for i, w in enumerate(words) if w in _VERBS), -1)
    nouns = [w for i, w in enumerate(words) if i != verb_at and w not in _GENERIC_WORDS]
    route = read_route(args, ev)
    query = read_query(args, ev)
    target = read_value(args, TARGET_KEYS, ev)

    if verb_at < 0:
        command = read_value(args, COMMAND_KEYS, ev)
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
        if not requested_words(nouns, request):
            # "Get the pedidos consultar", "get the calendar freebusy": a tool's name said back
            # is narration unless the user asked for that thing in those words.
            return None
        phrase = f"get the {_noun_phrase(nouns)}"
        obj = query or target
        return (join_parts(phrase, route or (f"for {obj}" if obj else "")), _FETCH)

    verb, kind = _VERBS[words[verb_at]]
    noun = _noun_phrase(nouns)
    if verb == "translate":
        return _translation(args, ev)
    if kind in (_FETCH, _READ) and nouns and set(nouns) <= _PROTOCOL_WORDS:
        # "http_get" names how, not what: "get the HTTP" is no request anyone makes.
        return (f"fetch {target}", _READ) if target else ("look up", _FETCH)
    if kind == _SEARCH:
        obj = query or target
        if obj and _keyword_list(obj):
            # Said as what it is; no request reads that way, so it is never one on its own.
            return (f"{verb} for the keywords {obj}", kind)
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
            return (database_query(args, ev), kind)
        command = read_value(args, COMMAND_KEYS, ev)
        if command:
            return (f"{verb} {command}", kind)
        obj = query or target
        return (join_parts(f"{verb} the {noun or 'program'}", f"for {obj}" if obj else ""), kind)
    if kind == _WRITE:
        language = read_value(args, LANGUAGE_KEYS, ev)
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
    return (join_parts(phrase, route or (f"for {obj}" if obj else "")), kind)


def _cli_action(program: str, args: Mapping[str, Any], ev: Evidence) -> tuple[str, str]:
    phrase, kind = _CLI_ACTIONS[program]
    if kind == _SEARCH:
        pattern = _DEFINITION_RE.sub("", read_value(args, _PATTERN_KEYS, ev)).strip()
        # A raw regular expression is no way to ask a person for anything.
        if pattern and not _REGEX_CHARS_RE.search(pattern):
            return (f"{phrase} for {pattern}", kind)
        return (phrase, kind)
    target = read_value(args, TARGET_KEYS, ev)
    return (join_parts(phrase, target), kind)


def _translation(args: Mapping[str, Any], ev: Evidence) -> tuple[str, str]:
    """A translation as "translate manual.txt into French", naming what the run shows; a file
    translated is work done, text translated is an answer to report."""
    language = translation_language(args, ev)
    into = f" into {language.capitalize()}" if language else ""
    source = translation_source(args, ev)
    if source:
        return (f"translate {source}{into}", _WRITE)
    return (f"translate the text{into}", _FETCH)


def asked_about(subject: Subject, run: RunFacts) -> bool:
    """Whether ``subject`` may stand for what the first step worked on: when the step's own
    arguments named it in words the run does not show, the user's subject must be among them,
    or the prompt would name something the tool was never asked about ("the rail timetable
    about trains" for a query from one station to another). A describing word only narrows
    the tool's own noun ("direct flights") and claims no object."""
    if subject.modifies:
        return True
    for step in run.ok_steps:
        if _described(step, run) is not None:
            unnamed = unnamed_objects(step, run.observations)
            return not unnamed or any(subject.text.lower() in arg for arg in unnamed)
    return False


def _described(step: AgentStep, run: RunFacts) -> tuple[str, str] | None:
    """``describe_step`` of one of the run's steps, worked out once per step: the strategy
    asks about the same steps with and without a subject."""
    key = id(step)
    if key not in run.step_requests:
        run.step_requests[key] = describe_step(
            step, run.observations, run.trajectory.original_prompt
        )
    return run.step_requests[key]


def tool_work_request(run: RunFacts, subject: Subject | None = None) -> str | None:
    """The tool work as one request; ``subject`` (what it was about) joins the phrase.

    Only work of one kind becomes a request: "search for X, then get the Y, then run Z" is
    the agent's log read back, not something a user asks for, so several different pieces of
    work give none.
    """
    phrases: list[str] = []
    kinds: list[str] = []
    seen_tools: dict[str, AgentStep] = {}  # tool name -> its first call
    for step in run.ok_steps:
        first = seen_tools.setdefault(step.action_name, step)
        if first is not step:
            # A tool called again repeats its work (a retry, the next page, a check), unless
            # a shell's next command changes something: "sed -i ..." after "grep -rn ..." is
            # the work, and the grep's output does not answer for it.
            if _changes(step) and _command(step) != _command(first):
                return None
            continue
        described = _described(step, run)
        if described is None or described[0] in phrases:
            continue
        phrases.append(described[0])
        kinds.append(described[1])
        if len(phrases) == _MAX_PHRASES:
            break
    if len(phrases) != 1:
        return None
    if subject:
        joined = _with_subject(phrases[0], subject)
        if joined is None:
            return None
        phrases[0] = joined
    text = f"{phrases[0]} and {_CLOSINGS[kinds[0]]}."
    return text[0].upper() + text[1:]


# Commands that change files, systems or repositories (not ones that only look).
_CHANGING_COMMAND_RE = re.compile(
    r"\bsed\s+-i|(?:^|[;&|]\s*)(?:rm|mv|cp|tee|chmod|chown|touch|mkdir)\b"
    r"|\bgit\s+(?:commit|push|merge|rebase|reset|checkout|tag|apply)\b"
    r"|\bkubectl\s+(?:apply|delete|scale|set|patch|edit|rollout|autoscale|create|label)\b"
    r"|\bhelm\s+(?:install|upgrade|uninstall|rollback)\b|\b(?:npm|pip|yarn)\s+(?:install|add)\b"
    r"|\bsystemctl\s+(?:restart|stop|start|enable|disable)\b|--fix\b|--write\b|(?<![<>=])>(?!=)"
    r"|\b(?:apt(?:-get)?|yum|dnf|brew|apk)\s+(?:-y\s+)?(?:upgrade|install|remove|dist-upgrade"
    r"|full-upgrade|add|del)\b",
)


def _command(step: AgentStep) -> str:
    return next((str(step.action_input[k]) for k in COMMAND_KEYS if k in step.action_input), "")


def _changes(step: AgentStep) -> bool:
    return _CHANGING_COMMAND_RE.search(_command(step)) is not None


def _with_subject(phrase: str, subject: Subject) -> str | None:
    """``phrase`` naming ``subject``: before the noun it modifies ("search for direct flights"),
    as the object of a bare verb ("translate the manual"), else "... about <noun phrase>"."""
    if subject.modifies:
        words = phrase.split()
        modified = stem(subject.modifies.lower())
        for i, word in enumerate(words):
            if stem(word.lower()) == modified or stem(_plural(word.lower())) == modified:
                return " ".join([*words[:i], subject.text, *words[i:]])
    if not subject.is_noun:
        return None
    if len(phrase.split()) == 1 or phrase in _BARE_VERBS:
        article = "" if subject.text[:1].isupper() else "the "
        return f"{phrase} {article}{subject.text}"
    return f"{phrase} about {subject.text}"
