"""Unmet requirements that are not numbers, cut from copied wording.

Copied wording must not keep the requirement the run failed. Besides comparator constraints
(which ``drop_constraints`` drops) a request can fail on a place ("in Berlin"), a deadline ("by
Friday"), an exclusion ("without using dateutil") or a count ("5 hotels" when 3 were found).
Such a phrase is taken for the unmet one when the failure reason names its key word; a count,
when the reason counts short ("only 3", "two of five") or the run stopped before the end.
"""

from __future__ import annotations

import re

from agenther.constraints import without_praise
from agenther.demands import demanded_actions
from agenther.rules.cut_repair import condition_span, tidy
from agenther.rules.vocabulary import REQUEST_WORDS, contains_words, word_set
from agenther.words import LETTER_WORD_RE, TOKEN_RE, is_cjk, prefix_stem

_NUMBER_WORDS = "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
_COUNT = rf"(?:\d{{1,3}}|{_NUMBER_WORDS})"
_PLACE_RE = re.compile(
    r",?\s*\b(?:in|near|around|at)\s+(?:the\s+)?(?P<key>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)"
)
# "based in EU time zones": the place only qualifies the noun after it. The phrase goes whole
# when that noun closes the clause; any other lower-case word after it keeps the place (what
# would be left could not be told apart from a broken sentence).
_PLACE_NOUN_AFTER_RE = re.compile(r"(?:\s+[a-z][\w-]*){1,2}(?=\s*(?:[.,;:!?]|$))")
_PLACE_FOLLOWERS = word_set(
    "and or but for with from to by on at near next this that which who where when only please "
    "if so tomorrow today tonight yesterday"
)
_WORD_AFTER_RE = re.compile(r"\s+([a-z][\w-]*)")
_DIGIT_AFTER_RE = re.compile(r"\s+\d")
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
    r"|not\s+using)\s+(?:(?:to|for|from|in|on|at|with)\s+)?(?:the\s+|any\s+|an?\s+)?"
    r"(?P<key>[\w.-]+)/?"
    r"(?:\s+(?:library|package|module|tool|command|function|api|framework|service|folder"
    r"|subfolder|directory|subdirectory|dir|files?))?"
    # The phrase ends where the exclusion does: "but not to the trainee list" is not cut
    # after "trainee", nor after "to".
    r"(?=\s*(?:[,.;:!?)—–]|$)|\s+(?:and|or|but)\b)",
    re.IGNORECASE,
)
_DEADLINE_WORDS_RE = re.compile(r"\b(?:deadline|late|later|after|missed|overdue)\b", re.I)
_COUNT_RE = re.compile(
    # Not the minutes of a clock time or the decimals of a figure ("a las 13:00 del viernes").
    rf"(?<![\d:.,/])\b(?:all\s+)?(?:the\s+)?(?P<key>{_COUNT})\s+"
    rf"(?=(?:[A-Za-z-]+\s+){{0,2}}[A-Za-z-]+s\b)",
    re.IGNORECASE,
)
_SHORT_COUNT_RE = re.compile(
    rf"\b(?:only|just)\s+{_COUNT}\b|\b(?P<got>{_COUNT})\s+of\s+(?:the\s+)?(?P<of>{_COUNT})\b"
    rf"|\basked\s+for\s+{_COUNT}\b",
    re.IGNORECASE,
)


# "…, biggest first — top 10 only": a cap on how many, which the reason names by its number.
_TOP_ONLY_RE = re.compile(
    rf"\s*(?:[,;]|\s[—–-])?\s*\b(?:(?:only|just)\s+(?:the\s+)?top\s+(?P<key>{_COUNT})"
    rf"|top\s+(?P<key2>{_COUNT})\s+only)\b",
    re.IGNORECASE,
)
# A requirement the reason quotes from the request: "violating the user's 'no explicit songs'
# requirement". The quote must be called a requirement (or the user's), so that a quoted name
# ("the playlist 'Tempo Run'") is never taken for one.
_QUOTE_RE = re.compile(r"(?<!\w)['‘\"“]([^'’\"”\n]{3,80})['’\"”](?!\w)")
_REQUIREMENT_AFTER_RE = re.compile(
    r"\s*(?:requirement|constraint|condition|rule|instruction|restriction|limit|filter)s?\b",
    re.IGNORECASE,
)
_REQUIREMENT_BEFORE_RE = re.compile(
    r"\b(?:user['’]s|(?:asked|requested)\s+(?:for\s+)?|requirement\s+(?:of\s+)?)\s*$",
    re.IGNORECASE,
)
# "… between 1900 and 1905 — only ones that sailed from Naples", "…, OEM only, no aftermarket",
# "…, ale bez kont testowych", "…,只看企业客户": a filter on what a lookup returns, closing its
# sentence. A condition ("only if …") is no filter, and one on a side effect is never cut (see
# ``_restriction_cuts``).
_RESTRICTING = (
    r"only|exclusively|solo|sólo|solamente|únicamente|nur|ausschließlich|seulement|uniquement"
    r"|soltanto|apenas|só|somente|alleen|tylko|bez|sin|sans|senza|sem|zonder|ohne"
)
_RESTRICTION_RE = re.compile(
    # "…? Bitte nur eine schlichte Liste, keine Tabelle.": a sentence of its own counts too.
    r"(?:\s*[,;，、]\s*|\s+[—–]\s*|\s+-\s+|(?<=[.!?])\s+(?:(?:please|bitte|por\s+favor)\s+)?)"
    r"(?:(?:but|aber|pero|mais|ma|mas|maar|ale)\s+)?"
    r"(?P<clause>"
    rf"(?:[^\W\d_]+ing\s+)?(?:{_RESTRICTING})\b(?!\s+(?:if|when|wenn|si|se|als|jeśli)\b)"
    r"(?:[^.;:!?—–。]|\.(?=\S))*"
    r"|[\w-]+(?:\s+[\w-]+)?\s+only\b(?:\s*,\s*no\s+(?:[^.;:!?—–]|\.(?=\S))*)?"
    r"|(?:只要|只看|只|仅)[^,，、。.;:!?]*"
    r")"
    r"(?=\s*(?:[.!?。](?!\S)|$))",
    re.IGNORECASE,
)
# A request that only looks something up opens with one of these (after a "please" or "can
# you"); only such a request loses a filter. Side effects in other languages are not read by
# ``demanded_actions``, and "Reinicia nginx …, solo en staging" must keep its scope.
_LOOKUP_OPENING_RE = re.compile(
    r"^\W*(?:(?:please|bitte|por\s+favor|s'il\s+te\s+plaît|per\s+favore|can\s+you|could\s+you)"
    r"[\s,]+)?(?:find|show|list|search|look\s+up|get\s+me|give\s+me|tell\s+me|count|what|which"
    r"|who|how\s+many|how\s+much|where|when"
    r"|zeig|finde|such|liste|welche|wie\s+viele|wer|wo|wann"
    r"|busca|búscame|buscar|muestra|muéstrame|lista|dime|cuál|cuáles|qué|cuántos|cuántas|dónde"
    r"|cherche|trouve|montre|liste|donne-moi|quel|quelle|quels|quelles|combien|où"
    r"|cerca|trova|mostra|mostrami|elenca|dimmi|quale|quali|quanti|quante|dove"
    r"|procura|encontra|mostra|lista|qual|quais|quantos|quantas|onde"
    r"|zoek|toon|laat\s+zien|welke|hoeveel|waar"
    r"|pokaż|znajdź|wyszukaj|wymień|jakie|który|które|ile|gdzie"
    r"|帮我查|查一下|查询|查|统计|列出|找出|哪些|多少)",
    re.IGNORECASE,
)
_RESTRICTING_WORDS = word_set(_RESTRICTING.replace("|", " ") + " no nothing not ones one those")


def _restriction_named(clause: str, reason: str) -> bool:
    """The reason speaks of the clause: it shares one of the clause's content words (by
    prefix), an acronym ("EU", "OEM") or, in Chinese or Japanese, two characters in a row."""
    reason_keys = {prefix_stem(w) for w in TOKEN_RE.findall(reason.lower())}
    for word in TOKEN_RE.findall(clause):
        lowered = word.lower()
        if is_cjk(word[0]) or lowered in _RESTRICTING_WORDS:
            continue
        content = (word.isupper() and len(word) >= 2) or (
            len(word) >= 3 and lowered not in REQUEST_WORDS and not lowered.isdigit()
        )
        if content and prefix_stem(lowered) in reason_keys:
            return True
    chars = "".join(c for c in clause.lstrip("只要看仅") if is_cjk(c))
    return any(chars[i : i + 2] in reason for i in range(len(chars) - 1))


# "List only the Falcon 9 launches …": a filter between a lookup's verb and what it lists.
_LEADING_ONLY_RE = re.compile(
    r"^\W*(?:list|show|find|give\s+me|get\s+me)\s+(?P<only>only\s+)(?P<det>(?:the|my|our)\s+)?",
    re.IGNORECASE,
)
_FILTER_WORD_RE = re.compile(r"[\w/-]+\s+")
# Words that end the noun phrase after "only the …".
_PHRASE_END = word_set("from in on at for with that which who of to between by during since")


def _restriction_cuts(text: str, reason: str) -> list[tuple[int, int]]:
    """The filters of a lookup that the failure reason names: closing ones
    (``_RESTRICTION_RE``) and a leading "only" (``_leading_only_cuts``). A limit on a side
    effect ("…, without touching production", "…, but only from the EUR account") stays: cut,
    the request would ask for what the user ruled out."""
    if demanded_actions(text) or not _LOOKUP_OPENING_RE.match(text):
        return []
    return [
        match.span()
        for match in _RESTRICTION_RE.finditer(text)
        if _restriction_named(match.group("clause"), reason)
    ] + _leading_only_cuts(text, reason)


def _leading_only_cuts(text: str, reason: str) -> list[tuple[int, int]]:
    """ "only" and the modifiers after it that the reason names ("only the Falcon 9 launches"
    when the reason says "only Falcon 9"). The phrase's last word, what is listed, stays."""
    match = _LEADING_ONLY_RE.match(text)
    if match is None:
        return []
    phrase: list[re.Match[str]] = []
    cursor = match.end()
    while (word := _FILTER_WORD_RE.match(text, cursor)) is not None:
        lowered = word.group().strip().lower()
        if lowered in _PHRASE_END or lowered.endswith(("ed", "ing")):
            break
        phrase.append(word)
        cursor = word.end()
    reason_keys = {prefix_stem(w) for w in TOKEN_RE.findall(reason.lower())}
    named_end = None
    for word in phrase[:-1]:
        if prefix_stem(word.group().strip().lower()) not in reason_keys:
            break
        named_end = word.end()
    if named_end is None:
        return []
    return [match.span("only"), (match.end(), named_end)]


_JOINER = r"(?:\s*,\s*and\s+|\s*,\s*|\s+and\s+|\s*[—–;]\s*|\s+-\s+|\s+)"


def _quoted_requirements(reason: str) -> list[str]:
    """The phrases of two or more words the reason quotes as a requirement."""
    found = []
    for match in _QUOTE_RE.finditer(reason):
        quoted = match.group(1).strip()
        if len(quoted.split()) < 2:
            continue
        if _REQUIREMENT_AFTER_RE.match(reason, match.end()) or _REQUIREMENT_BEFORE_RE.search(
            reason, 0, match.start()
        ):
            found.append(quoted)
    return found


def _counts_short(reason: str) -> bool:
    # "3 of 3 observations usable" (Stage 1's own explanation) is a full count, not a short one.
    return any(
        m.group("got") is None or m.group("got").lower() != m.group("of").lower()
        for m in _SHORT_COUNT_RE.finditer(reason)
    )


# A number after these is a limit (dropped as a constraint) or a period ("the last 7 days"),
# not a count of things asked for.
_LIMIT_WORDS = word_set(
    "under over than most least within to about around below above by up max maximum min "
    "minimum maximaal minimaal maximal minimal höchstens mindestens máximo mínimo massimo minimo "
    "maksymalnie maks högst minst højst mest jusqu'à hasta fino até"
)
_UNIT_AFTER_RE = re.compile(
    r"[\s-]*(?:dpi|ppi|px|kbps|mbps|gbps|kb|mb|gb|tb|mah|kwh|kw|w|v|hz|khz|mhz|ghz|mm|cm|m|km|ml"
    r"|l|g|kg|mg|lbs?|oz|in|ft|inch(?:es)?|°\w?|%|min|mins|sec|secs|hrs?|k|lufs|db|iu)\b",
    re.IGNORECASE,
)
_PERIOD_AFTER_RE = re.compile(
    r"\s*(?:hours?|days?|weeks?|months?|years?|minutes?|seconds?|nights?)\b", re.IGNORECASE
)


def _place_span(text: str, match: re.Match[str]) -> tuple[int, int] | None:
    """The span to cut for a named place: the place, the place and the noun it qualifies, or
    None when a word after it would be left dangling."""
    if _DIGIT_AFTER_RE.match(text, match.end()):
        return None  # "in March 2024": the year would be left alone
    word = _WORD_AFTER_RE.match(text, match.end())
    if word is None or word.group(1).lower() in _PLACE_FOLLOWERS:
        return match.span()
    noun = _PLACE_NOUN_AFTER_RE.match(text, match.end())
    return (match.start(), noun.end()) if noun else None


def cut_unmet_phrases(text: str, reason: str, *, stopped_early: bool = False) -> str:
    """``text`` without the place, deadline, exclusion and count phrases the failure names."""
    named = reason.lower()

    def names(key: str) -> bool:
        return contains_words(named, key.lower())

    cuts: list[tuple[int, int]] = []
    for match in _PLACE_RE.finditer(text):
        key = match.group("key")
        if names(key) and not _measured_from(key, reason) and (span := _place_span(text, match)):
            cuts.append(span)
    for match in _DEADLINE_RE.finditer(text):
        if names(match.group("key")) or _DEADLINE_WORDS_RE.search(reason):
            cuts.append(match.span())
    for match in _EXCLUSION_RE.finditer(text):
        if names(match.group("key")):
            cuts.append(match.span())
    for match in _TOP_ONLY_RE.finditer(text):
        if names(match.group("key") or match.group("key2")):
            cuts.append(match.span())
    # A place cut from inside a closing filter ("— only ones collected in Sudan") would
    # leave the filter without its point: the filter goes whole, or nothing of it does.
    filters = [m.span() for m in _RESTRICTION_RE.finditer(text)]
    cuts = [
        (start, end)
        for start, end in cuts
        if not any(low <= start and end <= high for low, high in filters)
    ]
    cuts.extend(_restriction_cuts(text, reason))
    for quoted in _quoted_requirements(reason):
        for match in re.finditer(
            rf"{_JOINER}{re.escape(quoted)}(?:\s+please)?(?=\s*(?:[.!?;,]|$))", text, re.I
        ):
            cuts.append(match.span())
    if stopped_early or _counts_short(reason):
        for match in _COUNT_RE.finditer(text):
            before = text[: match.start()].split()
            if before and before[-1].lower() in _LIMIT_WORDS:
                continue
            if _PERIOD_AFTER_RE.match(text, match.end("key")) or _UNIT_AFTER_RE.match(
                text, match.end("key")
            ):
                continue  # "the last 7 days", "300 dpi TIFFs": a measure, not a count
            start = match.start("key") if before and before[-1].lower() == "of" else match.start()
            cuts.append((start, match.end()))  # "each of the 12 files": "the" stays
    if not cuts:
        return text
    # "…, but only until 6am — then let it go back to the normal schedule": a phrase cut from
    # a condition takes the whole condition with it.
    cuts = [_within_condition(text, start, end) for start, end in cuts]
    kept, cursor = [], 0
    for start, end in sorted(cuts):
        if start >= cursor:
            kept.append(text[cursor:start])
            cursor = end
        else:
            cursor = max(cursor, end)
    kept.append(text[cursor:])
    return tidy(" ".join(kept))


def _measured_from(place: str, reason: str) -> bool:
    """Whether ``reason`` names ``place`` only as where a distance is measured from ("34.5
    miles from Crediton"): the place is right, the distance is not."""
    said = list(re.finditer(rf"(?<!\w){re.escape(place)}(?!\w)", reason, re.IGNORECASE))
    return bool(said) and all(_DISTANCE_BEFORE_RE.search(reason, 0, m.start()) for m in said)


_DISTANCE_BEFORE_RE = re.compile(
    r"\b(?:miles?|mi|km|kilomet(?:re|er)s?|minutes?|away)\s+(?:from|of)\s+$", re.IGNORECASE
)


def _within_condition(text: str, start: int, end: int) -> tuple[int, int]:
    """The span to cut for the phrase at ``start:end``: its condition, if it is in one."""
    phrase_start = start + len(text[start:end]) - len(text[start:end].lstrip())
    return condition_span(text, phrase_start, end) or (start, end)


# "… — it has to come in a ceramic pot, not a plastic one": a requirement the prompt keeps in
# so many words. When the failure reason talks about it, it is likely the one the run broke.
_REQUIREMENT_RE = re.compile(
    r"\b(?:(?:it|they|this|that|each|all|every\s+\w+)\s+)?(?:has|have|must|needs?)\s+to\s+"
    r"[^.;!?]*|\bmust\s+[^.;!?]*",
    re.IGNORECASE,
)
_REQUIREMENT_FILLER = word_set(
    "have must need needs come that this they them with from into each every been being "
    "there their also just only"
)


def kept_requirement(prompt: str, reason: str) -> str | None:
    """A requirement clause of ``prompt`` whose words the failure reason uses, if any."""
    said = {prefix_stem(w) for w in LETTER_WORD_RE.findall(without_praise(reason).lower())}
    for clause in _REQUIREMENT_RE.finditer(prompt):
        words = LETTER_WORD_RE.findall(clause.group(0).lower())
        if any(
            prefix_stem(w) in said for w in words if len(w) >= 4 and w not in _REQUIREMENT_FILLER
        ):
            return clause.group(0).strip()
    return None
