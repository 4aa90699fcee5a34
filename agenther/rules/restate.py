"""The ``actual_result`` strategy (wrong results, and constraint violations whose reason says
"X instead of Y"): the original request with the wrong part restated as what was produced
("...a new CSV file named 'out.csv'" → "...a new Excel file named 'out.xlsx'").

Because it keeps the original wording (as ``drop_constraint`` does), a side-effect verb it
keeps (book, send, export, deploy, ...) must be evidenced by the run, or the candidate is
dropped: a goal clause the run did not reach never survives (``unevidenced_side_effect``).
"""

from __future__ import annotations

import re

from agenther.evidence import Evidence
from agenther.quantities import extract_quantities
from agenther.rules.vocabulary import PARTIAL_PERIOD_RE, is_reference_date, word_set
from agenther.words import english

# "X instead of Y" / "expected Y, got X": the keyword is found first, then the two sides are
# read off around it (one bounded pass, no backtracking over the whole reason).
# The keyword in the languages the requests come in: a substitution needs no English.
_SWAP_KEYWORD_RE = re.compile(
    r"\s(?:instead\s+of|rather\s+than|in\s+place\s+of"
    r"|statt|anstatt|anstelle\s+von"  # de
    r"|au\s+lieu\s+d[eu']|plutôt\s+que"  # fr
    r"|en\s+lugar\s+de|en\s+vez\s+de"  # es
    r"|em\s+vez\s+de|ao\s+invés\s+de"  # pt
    r"|invece\s+d[ie]|anziché"  # it
    r"|in\s+plaats\s+van)\s",  # nl
    re.IGNORECASE,
)
_EXPECTED_GOT_RE = re.compile(
    r"\bexpected\s+(?P<expected>[^;!?,]{1,80}?)\s*(?:,|;|\bbut\b)\s*(?:it\s+)?(?:got|received"
    r"|returned|produced|gave|found|was)\s+(?P<actual>[^;!?]{1,80}?)(?=[;!?,]|\.(?:\s|$)|$)",
    re.IGNORECASE,
)
_SENTENCE_START_RE = re.compile(r".*(?:[;!?]|\.\s)", re.DOTALL)
_SIDE_END_RE = re.compile(r"[;!?,]|\.(?:\s|$)")
_EXTENSION_RE = re.compile(r"(?<![\w])\.([A-Za-z][A-Za-z0-9]{0,4})\b")
_REASON_WORD_RE = re.compile(r"[^\W\d_][\w'-]*")
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
_NOT_MODIFIERS = word_set(
    "in on at of by for from to with one ones and or von van de di du da im am en dans nel"
)
_REASON_FILLER = word_set(
    "the a an as requested asked required expected specified format file output it was is "
    "saved written exported returned produced used result results value values wrong"
)


def _key_tokens(text: str) -> dict[str, str]:
    """What a phrase of the failure reason is about, by kind: a file type, a number, a word."""
    keys: dict[str, str] = {}
    ext = _EXTENSION_RE.search(text)
    if ext:
        keys["ext"] = ext.group(1).lower()
    quantities = extract_quantities(text)
    if quantities:
        keys["num"] = quantities[0].raw
    words = [w for w in _REASON_WORD_RE.findall(text) if w.lower() not in _REASON_FILLER]
    if words:
        keys["word"] = words[-1]
        # The word that qualifies it: "intermittent" of "intermittent fasting", "disk" of
        # "checking disk usage"; not a preposition ("the one in Finance").
        before = words[-2].lower() if len(words) > 1 else ""
        # Nor a verb ("Updated ZD-3370", "reported it as ZD-3307").
        modifies = before not in _NOT_MODIFIERS and not before.endswith(("ed", "ing"))
        keys["modifier"] = before if modifies else ""
    return keys


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
    expected, actual = _key_tokens(sides[0]), _key_tokens(sides[1])
    # The first kind both sides have: "Februar statt März 2025" swaps months, not a year.
    for kind in ("ext", "num", "word"):
        if kind in expected and kind in actual:
            if expected[kind] == actual[kind]:
                return None
            if kind == "word" and expected["modifier"] not in ("", actual["modifier"]):
                # "ketogenic diets instead of intermittent fasting": swapping the last words
                # would ask about "intermittent diets", which nobody looked up.
                return None
            return (kind, expected[kind]), (kind, actual[kind])
    return None


def _article_for(word: str) -> str:
    if word.isupper() and len(word) > 1:
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    return "an" if word[:1].lower() in "aeiou" else "a"


def restate_actual(original: str, reason: str, ev: Evidence, answer: str = "") -> str | None:
    """``original`` with what the failure reason says was expected replaced by what the run
    produced; None if the reason does not name both, the run does not show the actual one,
    the request never mentions the expected one or the final ``answer`` still claims it ("the
    priority of ZD-3307 is now high" after ZD-3370 was updated)."""
    pair = _expected_actual(reason)
    if pair is None:
        return None
    (kind, expected), (_, actual) = pair
    if kind == "num" and PARTIAL_PERIOD_RE.search(f"{answer}\n{reason}"):
        return None
    if kind != "ext" and re.search(
        rf"(?<![\w.]){re.escape(expected)}(?![\w])", answer, re.IGNORECASE
    ):
        return None
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
        if (
            kind == "word"
            and not english(original)
            and not re.search(rf"(?<![\w.]){re.escape(actual)}(?![\w])", answer, re.IGNORECASE)
        ):
            # "default weather satellites instead of the ISS" for a Danish request: a word of
            # the reason's language that the answer never uses is no word of the request's.
            return None
        # "How many orders did we receive last month?" with "month" swapped for "orders" reads
        # "...last orders?": a word the request already uses is no stand-in for another.
        if re.search(rf"(?<![\w.]){re.escape(actual)}(?![\w])", original, re.IGNORECASE):
            return None
        pattern = re.compile(rf"(?<![\w.]){re.escape(expected)}(?![\w])", re.IGNORECASE)
        actual_files = []
    matches = list(pattern.finditer(original))
    if not matches or any(is_reference_date(original, m.start()) for m in matches):
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
    restated = "".join(pieces)
    if kind == "num" and _WEEKDAY_RE.search(original):
        return _with_weekday(restated, actual, ev)
    return restated


_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag "
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "lunes martes miércoles jueves viernes sábado domingo "
    "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira "
    "lunedì martedì mercoledì giovedì venerdì sabato domenica "
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag "
    "poniedziałek wtorek środa czwartek piątek sobota niedziela"
).split()
_WEEKDAY_RE = re.compile(
    r"(?<![\w-])(?:" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")(?![\w-])",
    re.IGNORECASE,
)


def _with_weekday(restated: str, day: str, ev: Evidence) -> str | None:
    """``restated`` with the weekday beside the new day number ("venerdì 8 giugno") made the
    one the run shows beside it ("sabato 8 giugno"); None if the run shows no weekday there:
    a request for "Friday 8 June" when the 8th is a Saturday asks for something else."""
    beside = re.compile(rf"({_WEEKDAY_RE.pattern})(,?\s+){re.escape(day)}(?![\w])", re.I)
    match = beside.search(restated)
    if match is None:
        return restated  # the weekday is not the new day's
    shown = beside.search(ev.text)
    if shown is None:
        return None
    weekday = shown.group(1)
    if match.group(1)[0].isupper():
        weekday = weekday.capitalize()
    return restated[: match.start(1)] + weekday + restated[match.end(1) :]


def _original_case(original: str, lowered: str) -> str:
    """File names in ``Evidence.text`` are lower-cased; keep the stem's case from the prompt."""
    index = original.lower().find(lowered.rsplit(".", 1)[0])
    if index < 0:
        return lowered
    stem = original[index : index + len(lowered.rsplit(".", 1)[0])]
    return stem + "." + lowered.rsplit(".", 1)[1]


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


_DETERMINER_BEFORE_RE = re.compile(
    r"\b(?:the|a|an|my|our|your|this|that|its|their|his|her)\s+(?:[\w-]+\s+)?$", re.IGNORECASE
)


def unevidenced_side_effect(prompt: str, record: str) -> str | None:
    """The first side-effect verb of ``prompt`` that ``record`` shows nothing for, if any."""
    for match in _VERB_FORM_RE.finditer(prompt):
        if _DETERMINER_BEFORE_RE.search(prompt, 0, match.start()):
            continue  # "pull up the booking schedule": a noun, which asks for no act
        roots = _SIDE_EFFECTS[match.group(1).lower()]
        if not any(root in record for root in roots):
            return match.group(0)
    return None
