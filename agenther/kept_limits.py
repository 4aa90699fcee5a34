"""Whether the final answer's own figures keep a limit of the request ("under 1.500 kr."
answered with a pack at "1.399,00 kr.").

A failure reason often repeats a limit the run met while it names the one it broke ("Den
eneste pakke med dragt under 1.500 kr. leveres først om 3-5 hverdage og kan derfor ikke nå
frem inden fredag"). Dropping the met limit would keep the broken one in the new request, so
a limit counts as kept when every amount of its unit the answer states is on the right side
of it. Only a limit with a direction (an upper or a lower bound), a unit to find in the answer
(a currency sign or the word after the figure) and at least one such amount in the answer is
judged; anything else is not known to be kept.
"""

from __future__ import annotations

import re

_UPPER = (
    r"under|below|less\s+than|fewer\s+than|cheaper\s+than|at\s+most|no\s+more\s+than|up\s+to"
    r"|max(?:imum)?|unter|weniger\s+als|höchstens|maximal|bis\s+zu|moins\s+de|au\s+plus|sous"
    r"|menos\s+de|por\s+debajo\s+de|como\s+máximo|hasta|meno\s+di|sotto|al\s+massimo|fino\s+a"
    r"|abaixo\s+de|no\s+máximo|até|onder|minder\s+dan|maximaal|hoogstens|poniżej|mniej\s+niż"
    r"|maksymalnie|högst|mindre\s+än|højst|mindre\s+end|høyst|mindre\s+enn|maks"
)
_LOWER = (
    r"over|above|more\s+than|at\s+least|min(?:imum)?|no\s+less\s+than|über|mehr\s+als"
    r"|mindestens|plus\s+de|au\s+moins|más\s+de|al\s+menos|più\s+di|almeno|mais\s+de"
    r"|pelo\s+menos|meer\s+dan|minstens|ten\s+minste|powyżej|więcej\s+niż|co\s+najmniej|över"
    r"|minst|mer\s+än|mindst|mere\s+end|mer\s+enn"
)
# Bounds a figure equal to them breaks ("under 30" is not met by 30).
_STRICT_RE = re.compile(
    r"(?<!\w)(?:under|below|less|fewer|cheaper|over|above|more|unter|weniger|mehr|über|moins"
    r"|plus|sous|menos|más|meno|più|sotto|abaixo|mais|onder|minder|meer|poniżej|powyżej"
    r"|mniej|więcej|mindre|mer|mere|över)(?!\w)",
    re.IGNORECASE,
)
_BOUND_RE = re.compile(
    rf"(?<!\w)(?:(?P<upper>{_UPPER})|(?P<lower>{_LOWER}))(?!\w)\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SIGNS = "$€£¥₩"
# A figure with its grouping: "13,450, 12 months" is 13,450 and then 12.
_NUMBER = r"\d{1,3}(?:[.,  ]\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?"
_SIGN_FIRST_RE = re.compile(rf"^(?P<sign>[{_SIGNS}])\s?(?P<number>{_NUMBER})")
_NUMBER_FIRST_RE = re.compile(
    rf"^(?P<number>{_NUMBER})\s?(?P<unit>[{_SIGNS}]|[^\W\d_][\w]*\.?)", re.IGNORECASE
)


def _amount(written: str, *, english: bool) -> float | None:
    """A figure as its writer meant it: "1.399,00" and "1 500" in most of Europe, "1,450" and
    "3.60" in English; "1.500" groups thousands outside English."""
    digits = re.sub(r"[  ]", "", written)
    if "," in digits and "." in digits:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif "," in digits:
        decimal = "" if re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits) else ","
    elif "." in digits:
        grouped = re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits) is not None
        decimal = "" if grouped and not english else "."
    else:
        decimal = ""
    thousands = {",": ".", ".": ","}.get(decimal, ",.")
    digits = re.sub(f"[{re.escape(thousands)}]", "", digits).replace(decimal or "\0", ".")
    try:
        return float(digits)
    except ValueError:
        return None


def _answer_amounts(answer: str, unit: str, sign_first: bool, *, english: bool) -> list[float]:
    if sign_first:
        pattern = rf"{re.escape(unit)}\s?({_NUMBER})"
    else:
        pattern = rf"(?<![\w.,])({_NUMBER})\s?{re.escape(unit.rstrip('.'))}(?!\w)"
    amounts = [_amount(m, english=english) for m in re.findall(pattern, answer, re.IGNORECASE)]
    return [a for a in amounts if a is not None]


# "so that no pupil spends more than 40 minutes": a negation before the bound turns it.
_NEGATED_BEFORE_RE = re.compile(
    r"(?<!\w)(?:no|not|never|none|nobody|neither|ningún|ninguna|ninguno|nadie|nunca|kein\w*"
    r"|niemand|nie|nicht|nessun\w*|nessuno|mai|aucun\w*|personne|jamais|nenhum\w*|ninguém"
    r"|geen|niemand|nooit|żaden|żadna|żadne|nikt|ingen|inget|aldrig|ikke|aldri|intet|non|não"
    r"|pas|niet|inte)(?!\w)[^.;:!?]*$",
    re.IGNORECASE,
)


def answer_keeps(limit: str, answer: str, *, english: bool, before: str = "") -> bool:
    """Whether every amount in ``answer`` of the unit of ``limit`` ("under 1.500 kr",
    "at least 200 sets", "under $4 per set") lies within it; False when the answer states
    none, the limit has no direction or unit, or ``before`` (the request up to the limit)
    negates it in the same clause."""
    bound = _BOUND_RE.search(limit)
    if bound is None or _NEGATED_BEFORE_RE.search(before[-80:]):
        return False
    rest = bound.group("rest")
    if first := _SIGN_FIRST_RE.match(rest):
        unit, sign_first, number = first.group("sign"), True, first.group("number")
    elif first := _NUMBER_FIRST_RE.match(rest):
        unit, sign_first, number = first.group("unit"), False, first.group("number")
    else:
        return False
    value = _amount(number, english=english)
    amounts = _answer_amounts(answer, unit, sign_first, english=english)
    if value is None or not amounts:
        return False
    strict = _STRICT_RE.search(bound.group(0)[: bound.start("rest") - bound.start()]) is not None
    if bound.group("upper"):
        return all(a < value if strict else a <= value for a in amounts)
    return all(a > value if strict else a >= value for a in amounts)
