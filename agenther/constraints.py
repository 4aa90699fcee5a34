"""Constraints in a request: a comparator and a value ("under $5 per kilogram", "4 stars or
more", "por menos de 90 €", "mindestens 4,5 Sterne"), and which of them a failed run missed.

The rule relabeler drops the unmet ones from the request, and the grounding verifier refuses a
hindsight prompt that restates one. English requests are read with the English comparators;
requests in the other languages written in Latin letters that come in (Spanish, French,
German, Italian, Portuguese, Dutch, Polish) with theirs. Those write "1.600 €" for 1600 and
"4,5" for 4.5, which the number scanner (English notation) reads otherwise, so a constraint's
values hold every reading of its figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agenther.evidence import extract_entities
from agenther.kept_limits import answer_keeps
from agenther.models import FailedTrajectory, FailureAnalysis, FailureType
from agenther.quantities import extract_quantities
from agenther.scanning import shared_scan
from agenther.words import FUNCTION_WORDS, english

_COMPARATOR = (
    r"(?:(?:less|fewer|lower|cheaper|shorter|smaller|more|greater|higher|larger|longer|bigger"
    r"|earlier|later)\s+than"
    r"|(?:no|not)\s+(?:more|less|fewer|later|earlier|higher|lower|greater|bigger|larger|longer"
    r"|shorter|cheaper|older|newer)\s+than"
    r"|at\s+(?:most|least)|up\s+to|a\s+(?:maximum|minimum)\s+of|(?:maximum|minimum|max|min)"
    r"|under|below|over|above|exceeding|within|before|after|between)"
)
# A unit word after the number, but never a connective that starts the next clause.
_UNIT = (
    r"(?:\s?(?!(?:and|or|with|that|which|in|on|at|for|to|from|of|the|a|an|but|per|if|so"
    r"|before|after|under|over|below|above|within|between|than|because|since|as|while|when"
    r"|where|unless|although|though|until|then|please|it|its|is|are|was|were|i|we|you|my"
    r"|our|your|this|these|those|not|only|also|including|plus|who)\b)"
    # "65 m²", "12 m³": a unit's power sign is part of it.
    # "5 bullet points": a compound unit.
    r"(?:°\s?[CF]?|[A-Za-z]+[²³]?(?:\s+points?\b)?))?"
)
_VALUE = (
    r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?(?!\w)|(?:[$€£¥]\s?)?\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s?(?:%|thousand|million|billion))?"
    + _UNIT
    + r"(?:\s?(?:/|per\s)\s?[A-Za-z]+"
    # A rate after the value belongs to the constraint ("under $1,800 a month"), and so does
    # a second one ("$700 per car per month").
    + r"|\s+(?:a|an|per|each)\s+(?:month|night|week|year|day|hour|person|kg|kilo|pound|lb"
    + r"|unit|item|seat|ticket|head|bottle|piece|pack|box|case|litre|liter|gallon|serving"
    + r"|portion|room|bed|guest|adult|child|class|lesson|session)){0,2})"
)
_POSTFIX = (
    r"(?:\s+(?:or|and)\s+(?:more|less|fewer|higher|lower|better|cheaper|above|below|under|over"
    r"|greater|up)"
    # "80 words max", "2 hours maximum", "three pages tops".
    r"|\s+(?:max|maximum|min|minimum|tops|at\s+(?:the\s+)?(?:most|least)))\b"
)
_CONSTRAINT_RE = re.compile(
    rf"\b{_COMPARATOR}\s+{_VALUE}(?:\s+and\s+{_VALUE})?|(?<![\w.$€£¥]){_VALUE}{_POSTFIX}",
    re.IGNORECASE,
)


_DIGIT_RE = re.compile(r"\d")
_SUBSTITUTION_RE = re.compile(
    r"\b(?:instead\s+of|rather\s+than|in\s+place\s+of)\b|\bexpected\b.{1,80}?\b(?:got|received)\b",
    re.IGNORECASE,
)


_EVERY_CONSTRAINT_RE = re.compile(
    r"\b(?:met|meets|meeting|satisf\w*|match\w*|fits?)\s+(?:both|all|either)\b"
    r"|\b(?:both|all|either|neither)\s+(?:of\s+)?(?:the\s+|your\s+)?"
    r"(?:constraints|criteria|conditions|requirements|filters|limits)\b",
    re.IGNORECASE,
)


# Comparators of the other languages, each followed at once by a figure (the figure is what
# makes "unter", "über" or "nach" a limit and not a preposition).
_FOREIGN_COMPARATOR = (
    r"(?:más|menos|mais|plus|moins|meno|più|meer|minder|mehr|weniger|mniej|więcej)"
    r"\s+(?:de|di|dan|als|niż|que)"
    r"|por\s+(?:debajo|encima)\s+de|(?:abaixo|acima)\s+de|(?:en\s+dessous|au-dessous|au-dessus)\s+de"
    r"|(?:superior|inferior)(?:es)?\s+(?:a|al)|(?:supérieure?|inférieure?)s?\s+à"
    r"|(?:como|no|al|au)\s+(?:máximo|mínimo|massimo|minimo|maximum|minimum)"
    r"|pelo\s+menos|al\s+menos|au\s+(?:moins|plus)|almeno|mindestens|höchstens|maximal|minimal"
    r"|minstens|ten\s+minste|hoogstens|maximaal|co\s+najmniej|najwyżej|maksymalnie|poniżej|powyżej"
    r"|(?:massim|minim|máxim|mínim)[oa]\s+(?:di|de)|(?:maxim|minim)ale?s?\s+de"
    r"|fino\s+a|non\s+oltre|oltre|entro"
    r"|bis\s+zu|unter|über|onder(?:\s+de)?|boven(?:\s+de)?|sous|sotto|sopra|hasta|até"
    r"|jusqu['’]à|vor|nach|avant|après|antes\s+de(?:\s+las?)?|después\s+de(?:\s+las?)?"
    r"|prima\s+(?:delle|di)|dopo\s+le|przed|vóór"
    # "najpóźniej w piątek 14 czerwca", "spätestens am Freitag, 14. Juni": a deadline may name
    # the weekday between its word and the date.
    r"|(?:spätestens|najpóźniej|uiterlijk|au\s+plus\s+tard|a\s+más\s+tardar|senast|senest)"
    r"(?:\s+[^\W\d_]+,?){0,2}"
    r"|no\s+(?:pasen|pase|superen|supere|excedan|exceda)(?:\s+(?:de|los|las))?"
    # Norwegian, Danish, Swedish ("til under 6 kr/kg", "høyst 3 tilbud").
    # (Not "under 2023", which is "during 2023" there.)
    r"|under(?!\s+(?:19|20)\d\d(?!\d))|høyst|højst|högst|minst|mindst|maks"
    r"|mindre\s+(?:enn|end|än)|mer\s+(?:enn|än)"
    r"|mere\s+end"
    # A bare "max 450 kr per biljett", "Máximo 80 palabras".
    r"|(?:(?:di|de|da|del|en|a|con)\s+)?(?:max|maks|máx|máximo|máxima|massimo|massima|mínimo"
    r"|mínima|minimo|minima)"
)
# "mellan 10 och 12", "zwischen 10 und 12 Uhr", "entre las 10 y las 12": a window is both
# of its figures.
_FOREIGN_FIGURE = r"\d(?:[\d.,]*\d)?(?:[:h]\d{2}(?!\d)|h(?!\w))?"
_FOREIGN_BETWEEN_RE = re.compile(
    r"(?<!\w)(?:zwischen|entre|tra|fra|tussen|mellan|mellom|mellem|między)\s+"
    rf"(?:(?:las?|les|den|dem)\s+)?{_FOREIGN_FIGURE}\s+(?:und|et|y|e|en|och|og|a|i)\s+"
    rf"(?:(?:las?|les|den|dem)\s+)?{_FOREIGN_FIGURE}"
    r"(?:\s?(?:%|€|\$|£|¥|zł|kr|CHF|euros?|Euro)(?!\w))?",
    re.IGNORECASE,
)
# A limit written after what it limits: "en 5 puces maximum", "30 Wörter maximal".
_FOREIGN_POSTFIX_RE = re.compile(
    r"(?<!\w)(?:(?:en|in|em|w)\s+)?\d+(?:[.,]\d+)?\s+[^\W\d_]+\s+"
    r"(?:au\s+)?(?:maximum|minimum|max|maximal|minimal|máximo|mínimo|massimo|minimo)(?!\w)",
    re.IGNORECASE,
)
# French, Swedish, Polish and others group thousands with a (narrow, no-break) space: "3 000 €".
_SPACE_GROUP = r"[ \u00a0\u202f]\d{3}(?!\d)"
_SPACE_GROUPED_RE = re.compile(rf"(?<![\d.,])\d{{1,3}}(?:{_SPACE_GROUP})+")
_FOREIGN_CONSTRAINT_RE = re.compile(
    rf"(?<!\w)(?:{_FOREIGN_COMPARATOR})\s+(?:[$€£¥]\s?)?\d(?:[\d.,]*\d)?(?:{_SPACE_GROUP})*"
    # A clock time: "vóór 10:00 uur", "avant 12h00".
    r"(?:[:h]\d{2}(?!\d))?"
    r"(?:\s?(?:%|€|\$|£|¥|zł|kr|CHF|euros?|Euro)(?!\w))?",
    re.IGNORECASE,
)
# A word after the figure is its unit ("12 Uhr", "4 sterren") unless it is a function word
# ("más de 8 en IMDb"); a rate may follow ("120 € la nuit", "900 € al mes").
# "14. Juni": a day written with a point before its month.
_FOREIGN_UNIT_RE = re.compile(
    r"(?:\.\s(?=(?:januar|februar|märz|marts|mars|april|mai|maj|juni|juli|august|september"
    r"|oktober|november|dezember|desember|december)\b)|\s)?([^\W\d_]{1,12})(?!\w)",
    re.IGNORECASE,
)
_FOREIGN_RATE_RE = re.compile(
    r"\s+(?:(?:la|le|par|por|al|a|pro|im|per|la|na|ao|za)\s+)?(?:nuit|noche|mes|mois|monat"
    r"|maand|mese|mês|semaine|semana|woche|week|settimana|jour|día|tag|dag|giorno|dia|noite"
    r"|notte|nacht|personne|persona|person|persoon|pessoa|miesiąc|natt|døgn|dygn|måned|månad"
    r"|uke|vecka|stk|styck|butelkę|sztukę|osobę|noc|dzień|godzinę"
    # "à moins de 12 € le mètre", "a 3 € el kilo".
    r"|mètre|metro|meter|metr|kilo|litre|litro|liter|bouteille|botella|bottiglia|garrafa|fles"
    r"|flasche|pièce|pieza|pezzo|stück|stuk)(?!\w)"
    r"|\s+cada\s+un[oa](?!\w)|\s+(?:chacune?|jeweils|ciascun[oa]|każd[ya])(?!\w)"
    r"|\s?/\s?[^\W\d_]{1,8}(?!\w)"
    # "450 kr per biljett", "50 € pro Person": "per" and a noun, not an article ("per la cena").
    r"|\s+(?:per|pro)\s+(?!(?:la|le|il|lo|gli|un|una|uno|den|det|de|der|die|das|el|the|a)\s)"
    r"[^\W\d_]{3,}(?!\w)",
    re.IGNORECASE,
)
_CLAUSE_END_RE = re.compile(r"\s*(?:[,.;:!?)]|$|(?:y|e|et|und|en|i|oraz|o|ou|oder|of|lub)(?!\w))")
# Prepositions and verb particles, which no figure has for its unit ("… en 12:00 aan in
# Rotterdam", where "aankomen" is split around the window).
_ANY_FUNCTION_WORD = frozenset().union(
    *FUNCTION_WORDS.values(), "aan op bij naar uit af om an auf ab zu um så".split()
)
# A figure as those languages write it: "1.600" (thousands), "4,5" and "1.234,50" (decimals).
_FIGURE_RE = re.compile(r"\d(?:[\d.,]*\d)?")
_FRENCH_CLOCK_RE = re.compile(r"(?<!\d)(\d{1,2})h(?:\d{2})?(?!\w)")
_POINT_GROUPED_RE = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+,\d+")


@dataclass(frozen=True, slots=True)
class Constraint:
    """A comparator and a value in a prompt ("under $5 per kilogram", "4 stars or more")."""

    text: str
    start: int
    end: int
    values: frozenset[str]
    currency: str


def find_constraints(text: str) -> list[Constraint]:
    """Comparator constraints in ``text``, in order, read in the request's language."""
    return list(_constraints_in(text))


# Stage 1 (the type model, a named limit) and Stage 3 (the unmet limits) read one request.
@shared_scan
def _constraints_in(text: str) -> tuple[Constraint, ...]:
    if _DIGIT_RE.search(text) is None:
        return ()
    if not english(text):
        return tuple(_foreign_constraints(text))
    found: list[Constraint] = []
    for match in _CONSTRAINT_RE.finditer(text):
        quantities = extract_quantities(match.group(0))
        if not quantities:
            continue
        found.append(
            Constraint(
                text=match.group(0),
                start=match.start(),
                end=match.end(),
                values=frozenset(q.value for q in quantities),
                currency=next((q.currency for q in quantities if q.currency), ""),
            )
        )
    return tuple(found)


def _foreign_constraints(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    for match in [*_FOREIGN_BETWEEN_RE.finditer(text), *_FOREIGN_CONSTRAINT_RE.finditer(text)]:
        end = match.end()
        unit = _FOREIGN_UNIT_RE.match(text, end)
        # After an amount of money a word is part of it only at the clause's end ("1.600 €
        # warm und ..."); "500 € se enviaron" goes on with the sentence's verb.
        money = match.group(0)[-1:] in "€$£¥" or match.group(0)[-1:].isalpha()
        if (
            unit
            and unit.group(1).lower() not in _ANY_FUNCTION_WORD
            and (not money or _CLAUSE_END_RE.match(text, unit.end()))
        ):
            end = unit.end()
        rate = _FOREIGN_RATE_RE.match(text, end)
        if rate:
            end = rate.end()
        found.append(_foreign(text, match.start(), end))
    for match in _FOREIGN_POSTFIX_RE.finditer(text):
        if not any(c.start <= match.start() < c.end for c in found):
            found.append(_foreign(text, match.start(), match.end()))
    return sorted(found, key=lambda c: c.start)


def figure_windows(text: str) -> list[tuple[int, int]]:
    """Where ``text`` gives a window between two figures in a language other than English
    ("mellan 10 och 12"): the "och" in it joins no two requests."""
    return [m.span() for m in _FOREIGN_BETWEEN_RE.finditer(text)]


def _foreign(text: str, start: int, end: int) -> Constraint:
    written = text[start:end]
    return Constraint(
        text=written,
        start=start,
        end=end,
        values=_figure_readings(written),
        currency=next((c for c in "$€£¥" if c in written), ""),
    )


def _figure_readings(text: str) -> frozenset[str]:
    """The values of the figures in ``text`` in English notation and, where a figure can be
    read so, with points grouping thousands and a decimal comma ("1.600" is 1.6 and 1600)."""
    values = {q.value for q in extract_quantities(text)}
    # "12h00" is no figure to the scanner, but its hour is one.
    values.update(str(int(hour)) for hour in _FRENCH_CLOCK_RE.findall(text))
    for grouped in _SPACE_GROUPED_RE.findall(text):
        values.update(q.value for q in extract_quantities(re.sub(r"\s", "", grouped)))
    for figure in _FIGURE_RE.findall(text):
        if _POINT_GROUPED_RE.fullmatch(figure):
            values.update(
                q.value for q in extract_quantities(figure.replace(".", "").replace(",", "."))
            )
    return frozenset(values)


def unmet_constraints(
    trajectory: FailedTrajectory, analysis: FailureAnalysis | None = None
) -> list[Constraint]:
    """The original prompt's constraints that the failure reason (or Stage 1) names; none
    when the final answer's own figures keep every one of them (``agenther.kept_limits``):
    a reason may repeat the limits the run met while the one it broke has no figure ("under
    1.500 kr." met, "inden fredag" missed), and dropping the met ones keeps the broken one."""
    named = _named_unmet(trajectory, analysis)
    answer = trajectory.final_answer
    if not named or not answer:
        return named
    request = trajectory.original_prompt
    in_english = english(request)
    if all(
        answer_keeps(c.text, answer, english=in_english, before=request[: c.start]) for c in named
    ):
        return []
    return named


def _named_unmet(
    trajectory: FailedTrajectory, analysis: FailureAnalysis | None
) -> list[Constraint]:
    """The original prompt's constraints that the failure reason (or Stage 1) names.

    A constraint is named when one of its values occurs in the failure reason or the Stage 1
    explanation. A constraint violation that names none of them leaves every constraint
    suspect, because we cannot tell which one failed, unless the reason says what was
    delivered instead of what (a format or a choice, not a number).
    """
    constraints = find_constraints(trajectory.original_prompt)
    if not constraints:
        return []
    own = without_praise(trajectory.failure_reason)
    reason = own
    if analysis is not None and analysis.explanation:
        # Stage 1's tallies ("4 of 4 observations usable") are counts of its own, no limits.
        reason = f"{reason}\n{_TALLY_RE.sub(' ', analysis.explanation)}"
    if every := _EVERY_CONSTRAINT_RE.search(reason):
        # "That breaks both limits the user set" when one of the two has no figure ("never
        # have more than one turbine down"): that one cannot be cut, so nothing is.
        pair = re.search(r"both|either|neither", every.group(0), re.IGNORECASE)
        if pair and len(constraints) < 2:
            return []
        return constraints  # "nothing met both constraints": none of them holds
    named = _named(constraints, own)
    if named:
        return named
    # Stage 1's explanation quotes the run's own words ("below 60" from an answer that
    # counted the students below 60): it names a limit only when the reason itself names no
    # other part of the request ("The CSV was never e-mailed").
    if _names_other_part(trajectory.original_prompt, constraints, own):
        return []
    named = _named(constraints, reason)
    if named:
        return named
    is_violation = (
        analysis is not None and analysis.failure_type is FailureType.CONSTRAINT_VIOLATION
    )
    # "saved as .xlsx instead of .csv" names the broken requirement, and it is not numeric;
    # so does "the Berlin filter was ignored" when the request says "based in Berlin".
    if (
        not is_violation
        or _SUBSTITUTION_RE.search(reason)
        or _names_other_part(trajectory.original_prompt, constraints, reason)
        or _excludes_beyond(trajectory.original_prompt, constraints)
    ):
        return []
    return constraints


# "niet op woensdag en niet vóór 10 uur": a negation outside the figures' limits is another
# requirement, and a reason naming no figure may be about that one.
_NEGATION_RE = re.compile(
    r"(?<!\w)(?:not|no|never|without|except|excluding|niet|geen|zonder|nicht|kein\w*|ohne|ne"
    r"|pas|sans|sauf|sin|salvo|excepto|non|senza|tranne|não|sem|nie|bez|oprócz|inte|utan"
    r"|ikke|uden|uten|unless)(?!\w)",
    re.IGNORECASE,
)


def _excludes_beyond(request: str, constraints: list[Constraint]) -> bool:
    outside = request
    for constraint in reversed(constraints):
        before = _NEGATION_BEFORE_RE.sub("", outside[: constraint.start])
        outside = before + " " + outside[constraint.end :]
    return _NEGATION_RE.search(outside) is not None


_NEGATION_BEFORE_RE = re.compile(
    r"(?<!\w)(?:not|no|niet|nicht|pas|non|não|nie|inte|ikke)\s+$", re.IGNORECASE
)


# "The low-stock list is right (F-152 at exactly 5 correctly left out), but …": a clause of
# the reason that says a part was right names no missed limit.
# A decimal point ("a 24.5 kg unit") ends no clause.
_CLAUSE_RE = re.compile(r"(?:[^.;()]|(?<=\d)\.(?=\d))+")
_PRAISE_RE = re.compile(
    r"\b(?:correct(?:ly)?|right(?:ly)?|properly|as\s+asked|respected|honou?red)\b", re.IGNORECASE
)
_NOT_RE = re.compile(r"\b(?:not|never|no|wasn't|isn't|weren't|aren't|didn't)\b|n't\b", re.I)


def without_praise(reason: str) -> str:
    """``reason`` without its clauses that say a part was right."""
    return " ".join(
        clause
        for clause in _CLAUSE_RE.findall(reason)
        if not (_PRAISE_RE.search(clause) and not _NOT_RE.search(clause))
    )


_HYPHENED_BOUND_RE = re.compile(
    r"(?<![\w-])(?:under|over|below|above|sub|max|min)-(\d+)(?![\d.,])", re.IGNORECASE
)
_TALLY_RE = re.compile(r"\b\d+ signal\(s\)|\b\d+ of \d+ observations usable")


def _named(constraints: list[Constraint], text: str) -> list[Constraint]:
    values = {q.value for q in extract_quantities(text)}
    # "12h00" is no figure to the scanner, but its hour is one.
    values.update(str(int(hour)) for hour in _FRENCH_CLOCK_RE.findall(text))
    # "the under-20 kg limit": the scanner takes "under-20" for an identifier such as "TR-20".
    values.update(_HYPHENED_BOUND_RE.findall(text))
    return [c for c in constraints if c.values & values]


def _names_other_part(request: str, constraints: list[Constraint], reason: str) -> bool:
    """Whether ``reason`` names something of ``request`` that lies outside its constraints."""
    outside = request
    for constraint in reversed(constraints):
        outside = outside[: constraint.start] + " " + outside[constraint.end :]
    lowered = outside.lower()
    if any(
        re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", lowered)
        for name in extract_entities(reason)
    ):
        return True
    # "asked for the top 10 only" names the request's "top 10", not its "over €10,000".
    outside_values = {q.value for q in extract_quantities(outside)}
    return any(q.value in outside_values for q in extract_quantities(reason))
