"""Whether cutting words out of a request left a broken sentence behind.

The cut strategies (``drop_constraint``, ``drop_action``, ``drop_detail``, ``drop_entity``)
each know the phrases they remove; none of them sees the sentence the cut leaves. This module
compares the request with the prompt made from it and looks at each seam, where text was taken
out: a word split in two ("30-min 1:1s" → "30- :1s", "PR #214" → "PR #"), or a word that needs
what follows it left before a joint ("who have at least 5 years and Spark" → "who have and
Spark", "make sure at least £1,000 stays in savings" → "make sure in savings").
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from agenther.rules.vocabulary import word_set
from agenther.words import is_cjk

# What a token is stripped of before tokens are compared: the punctuation that sits on a
# word's edge. "#", "-" and ":" are kept, they are parts of "#214", "-16" and "1:1s".
_EDGE = ".,;!?¿¡\"'“”‘’()[]«»…"
# A word that cannot stand before a joint or a stop without what was cut after it.
_NEEDS_WHAT_FOLLOWS = word_set(
    "have has had is are was were be been of with to for than the a an any each every least "
    "most sure whose between from by into at in on de di da du von van con mit avec com met "
    "per pour para für po"
    # "a launch monitor that's and rated." once "under $500" and "at least 4.0 stars" went.
    " that's it's who's rated priced located based dated scored ranked costing weighing"
)
# A comparator that lost its value ("Maximaal verhuizers", "under hotels") is broken whatever
# follows it.
_COMPARATORS = word_set(
    "under over below above than least most within max maximum min minimum maximaal minimaal "
    "maximal minimal höchstens mindestens máximo mínimo massimo minimo maksymalnie högst minst "
    "højst"
)
# A focus word whose focus was cut ("refunds only after 14 days late" → "refunds only late",
# "nur bis 12 Uhr" → "nur"): it qualified the limit, and reads wrong on whatever is left.
_FOCUS = word_set(
    "only just solely merely nur bloß seulement uniquement solo solamente apenas soltanto "
    "alleen tylko endast bara kun"
)
# A verb among those may end a sentence ("Check where my tax refund is."), not come before a
# joint.
_VERBS = word_set("have has had is are was were be been")
# A command whose object the cut took: "List up to 10 vendors at …" → "List at …".
_TRANSITIVE_COMMANDS = word_set("list find show give name recommend suggest book order buy get")
# What follows a joint: a conjunction, a preposition or a relative word opens a new phrase.
_JOINTS = word_set(
    "and or but in on at from to by for with that which who while then e et und y en i o ou"
    # Polish prepositions: "trzy miody pitne po za butelkę" lost its price.
    " za na do w z"
)


def _words(text: str) -> list[tuple[str, str]]:
    """(bare, raw) for each whitespace-separated token: lower-cased without edge punctuation,
    and as written."""
    return [(raw.strip(_EDGE).lower(), raw) for raw in text.split()]


# "… from the spec sheet -, it has to fit", "a note —.", "a note ( )": a dash or a bracket
# whose words a cut took.
_EMPTY_MARK_RE = re.compile(r"(?:^|\s)[-—–]\s*(?:[,.;:!?)]|$)|\(\s*\)")


def cut_problems(original: str, prompt: str) -> list[str]:
    """What a cut from ``original`` to ``prompt`` broke; [] when every seam reads."""
    before, after = _words(original), _words(prompt)
    known = {bare for bare, _ in before}
    problems = [
        f"a cut split the word '{raw}'"
        for bare, raw in after
        if bare
        and bare not in known
        and not bare.isalnum()
        # Chinese and Japanese put no spaces between words: any cut is inside a "word".
        and not any(is_cjk(char) for char in bare)
        and _fragment_of(bare, known)
    ]
    problems += [
        f"a cut left '{m.group(0).strip()}' with nothing inside"
        for m in _EMPTY_MARK_RE.finditer(prompt)
        if m.group(0) not in original
    ]
    matcher = SequenceMatcher(None, [b for b, _ in before], [b for b, _ in after], autojunk=False)
    for tag, i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag != "delete" or j1 == 0:
            continue
        left_bare, left_raw = after[j1 - 1]
        if left_bare in _COMPARATORS and left_raw[-1:] not in ",;:—–.!?":
            problems.append(f"'{left_raw}' lost the value it compared")
            continue
        right = after[j2][0] if j2 < len(after) else ""
        if j1 == 1 and left_bare in _TRANSITIVE_COMMANDS and (not right or right in _JOINTS):
            problems.append(f"'{left_raw}' lost its object")
            continue
        # "monocrystalline panels only, and …": a focus word that closed its phrase keeps it.
        if left_bare in _FOCUS and before[i1 - 1][1][-1:] not in ",;:—–.!?":
            problems.append(f"'{left_raw.rstrip('.!?')}' lost what it singled out")
            continue
        # A mark the word had in the request closes it; one the cut brought from the right
        # ("it has to be, the chiller's …") closes nothing.
        closed = left_raw[-1:] in ",;:—–" and before[i1 - 1][1][-1:] == left_raw[-1:]
        if closed or left_bare not in _NEEDS_WHAT_FOLLOWS:
            continue
        at_end = left_raw[-1:] in ".!?" or not right
        brought = left_raw[-1:] in ",;:—–"
        if (at_end and left_bare not in _VERBS) or right in _JOINTS or brought:
            problems.append(f"'{left_raw.rstrip('.!?,;:—–')}' is left without what it needs")
    return problems


_PIECE_RE = re.compile(r"[\w]+|[^\w\s]")


def _fragment_of(token: str, known: set[str]) -> bool:
    """Whether ``token`` is a piece of a word of the request: "30-" of "30-min", "#" of
    "#214". A token the cut strategies made up themselves is made of letters only; a
    restated value is a word of its own."""
    return any(token in word and token != word for word in known) or all(
        not piece.isalnum() for piece in _PIECE_RE.findall(token)
    )
