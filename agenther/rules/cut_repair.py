"""What a cut out of a request leaves, and where a cut ends: shared by every strategy that
removes words from the user's request.

A limit set apart by a dash or brackets goes with its marks; a clause whose purpose is the
limit ("if it's under 40 IBU", "so that it fits", "damit …") goes whole; what only justifies
a limit ("— the portal won't take more") goes with it. After the cut, ``tidy`` removes doubled
spaces and words left dangling ("…, and", "that are based"), and ``sentence`` makes the rest a
request that ends in a stop.
"""

from __future__ import annotations

import re

from agenther.words import is_cjk, tokens

SPACES_RE = re.compile(r"\s{2,}")
SPACE_PUNCT_RE = re.compile(r"\s+([,.;!?。，、！？])")
_DANGLING_RE = re.compile(
    r"\s*(?:,|\b(?:and|or|with|that|which|where|having|for|of|at|to)"
    # "candidates … who are based" after "in Berlin" was cut
    r"|\b(?:(?:who|that|which)\s+(?:is|are|was|were)\s+)?(?:based|located|situated)"
    # "reports … published" after "after 2018" was cut: a participle that needs its date
    r"|\b(?:(?:who|that|which)\s+(?:is|are|was|were)\s+)?(?:published|released|issued|dated"
    r"|filed|posted|launched|founded|built|updated|modified|rated|priced|ranked|scored)"
    r"|\b(?:who|that|which)\s+(?:is|are|was|were)"
    # "… batteries that arrives" after "by Friday" was cut: a verb that needs its when or
    # how much; "…, each" after "under 400 kcal" was.
    r"|\b(?:who|that|which)\s+(?:arrive|ship|cost|take|leave|depart|last|weigh|start|end"
    r"|open|close|sleep|seat|fit)s?|,\s*each"
    # "… string on PianoParts Direct that will be delivered" after "by Friday" was cut.
    r"|\b(?:who|that|which)\s+(?:will|can|could|would|should|must|may)\s+(?:be\s+[a-z]+"
    r"|arrive|ship|cost|take|leave|depart|last|start|end|open|close))\s*(?=[.!?]|$)"
)


# "Summarise the report. ." once "Keep it under 200 words" went.
DOUBLED_STOP_RE = re.compile(r"([.!?])\s*\.(?=\s|$)")


def tidy(text: str) -> str:
    """``text`` after a cut: doubled spaces, spaces before stops and dangling words removed."""
    text = SPACES_RE.sub(" ", text)
    text = SPACE_PUNCT_RE.sub(r"\1", text)
    for _ in range(2):
        text = _DANGLING_RE.sub("", text).rstrip()
    text = re.sub(r",\s*,", ",", text)
    text = DOUBLED_STOP_RE.sub(r"\1", text)
    return text.strip()


# What may follow a limit and only justify it ("… under 40 IBU — the tap list calls it
# soft", "… abaixo de 20 MB porque o portal não aceita mais"): it goes with the limit, up to
# the sentence's end. Not "since 2019", a limit of its own.
_JUSTIFICATION_RE = re.compile(
    r"\s*(?:[—–]|\s-\s|,?\s*(?:because|since(?!\s+\d)|as(?=\s+(?:i|we|you|they|it|the|our|my)\s)"
    r"|so\s+that|given\s+that|porque|pois"
    r"|weil|denn|parce\s+qu|puisque|perché|poiché|siccome|omdat|ponieważ|eftersom|çünkü"
    r"|protože)\b)",
    re.IGNORECASE,
)
SENTENCE_STOP_RE = re.compile(r"[.!?](?:\s|$)")


_ASIDE_OPEN_RE = re.compile(r"\s*([—–(])\s*$")
_DASH_OPEN_RE = re.compile(r"\s+-\s+$|\s*[—–]\s*$")
ASIDE_CLOSE = {
    "—": re.compile(r"\s*—\s*"),
    "–": re.compile(r"\s*–\s*"),
    "(": re.compile(r"\s*\)\s*"),
}


def aside_cut(text: str, start: int, end: int) -> str | None:
    """``text`` without the limit at ``start:end`` when a dash or bracket sets it apart, with
    the marks and whatever else the aside said; None when no mark opens it."""
    # "a short notice — 80 words max — about …", "(200 words max)": an aside that is the limit
    # alone goes with the marks around it.
    if (opening := _ASIDE_OPEN_RE.search(text, 0, start)) and (
        closing := ASIDE_CLOSE[opening.group(1)].match(text, end)
    ):
        return text[: opening.start()] + " " + text[closing.end() :]
    # "… from the spec sheet - 60 words max, it has to fit the small card": a limit that a
    # dash opens is an afterthought, which runs to the dash that closes it or else to the
    # sentence's end.
    if opening := _DASH_OPEN_RE.search(text, 0, start):
        sentence_end = SENTENCE_STOP_RE.search(text, end)
        stop = sentence_end.start() if sentence_end else len(text)
        dash = opening.group(0).strip()
        closing_at = text.find(f" {dash} " if dash == "-" else dash, end, stop)
        if closing_at >= 0:
            return text[: opening.start()] + " " + text[closing_at + len(dash) + 1 :].lstrip()
        return text[: opening.start()] + text[stop:]
    return None


# "… touch-up — keep it under 150 words — and save it …": a dash before a joint closes an
# aside, and only the dash goes with the limit.
_CLOSING_DASH_RE = re.compile(
    r"\s*[—–]\s*(?=(?:and|then|or|but|und|et|y|e|en|och|og|oraz|i)\s)", re.IGNORECASE
)


def without_justification(text: str, end: int) -> int:
    """Where the text a limit ends at ``end`` stops justifying it: the sentence's end after
    a dash or a "because", else ``end`` (after the dash that closes an aside)."""
    if closing := _CLOSING_DASH_RE.match(text, end):
        return closing.end()
    if _JUSTIFICATION_RE.match(text, end) is None:
        return end
    stop = SENTENCE_STOP_RE.search(text, end)
    return stop.start() if stop else len(text)


# "…, but only if the price is below $12", "…, aber nur wenn der Kurs unter 150 € liegt": a
# condition is a clause of its own, and it goes whole. So does a restriction ("…, but only
# count cities with at least 50 orders", "…, only ones with fares under $400"): without its
# limit it restricts nothing.
_BUT = r"(?:but|pero|aber|mais|ma|mas|maar|ale|men)\s+"
_ONLY = r"(?:only|solo|sólo|nur|seulement|só|alleen|tylko|bara|bare|kun)\s+"
_CONDITION_RE = re.compile(
    r",\s*only\s+(?:the\s+)?(?:ones|those)\s"  # "…, only ones with citations under 2,000"
    r"|,?\s*but\s+(?:don['’]t|do\s+not|never)\s"  # "…, but don't set it below 24 °C"
    rf"|(?:,\s*)?(?:{_BUT}{_ONLY}(?!(?:if|si|wenn|se|als)\s)|(?:{_BUT})?(?:{_ONLY})?(?<!\w)"
    r"(?:if|provided|as\s+long\s+as|si|wenn|falls|sofern|se|als|jeśli|jeżeli|pourvu\s+que"
    r"|siempre\s+que"
    # A clause whose purpose is the limit goes whole: "…, so that no pupil rides for more
    # than 40 minutes", "de forma que ningún alumno pase más de 40 minutos en el autobús".
    r"|so\s+that|such\s+that|de\s+(?:forma|modo|manera)\s+que|para\s+que|sodass|so\s+dass"
    r"|damit|de\s+(?:sorte|façon|manière)\s+que|pour\s+que|in\s+modo\s+(?:che|da)|affinché"
    r"|zodat|så\s+att|så\s+at|slik\s+at|sådan\s+at|niin\s+että|żeby|aby)\s)",
    re.IGNORECASE,
)
CLAUSE_BREAK_RE = re.compile(r"[,;.!?](?:\s|$)|[;!?]")


def condition_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the conditional clause the constraint at ``start:end`` is part of begins and
    ends in ``text``, or None if it is part of none."""
    breaks = list(CLAUSE_BREAK_RE.finditer(text, 0, start))  # not the point in "0.30%"
    clause_start = breaks[-1].start() + 1 if breaks else 0
    conditions = list(_CONDITION_RE.finditer(text, max(0, clause_start - 1), start))
    if not conditions:
        return None
    begin = conditions[-1].start()
    # "… dunkelbraun – aber nur, wenn sie höchstens 0,30 € kosten": the "but only" before the
    # comma belongs to the condition.
    if lead := _BUT_ONLY_BEFORE_RE.search(text, 0, begin):
        begin = lead.start()
    after = CLAUSE_BREAK_RE.search(text, end)
    return begin, after.start() if after else len(text)


_BUT_ONLY_BEFORE_RE = re.compile(rf"(?:\s*[–—]\s*|,\s*|\s+)(?:{_BUT})?{_ONLY[:-3]},?\s*$", re.I)


# Characters (each a token) of a request written without spaces; "查询。" is no request.
_MIN_UNSPACED_TOKENS = 4


def sentence(text: str) -> str | None:
    """``text`` as a request of at least two words, ending in a stop. Chinese and Japanese
    requests have no spaces: there the words are counted as ``tokens`` counts them."""
    text = text.strip()
    if len(text.split()) < 2 and len(tokens(text)) < _MIN_UNSPACED_TOKENS:
        return None
    if text[-1:] in ".!?。？！":
        return text
    return text + ("。" if is_cjk(text[-1]) else ".")
