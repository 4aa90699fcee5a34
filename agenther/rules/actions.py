"""A request cut into its actions, and the content keys that tell the actions apart.

"Reserve a compact car at Denver airport and add a child seat" is two actions, cut where a
joiner ("and", "then", a comma or a semicolon) is followed by an action verb; a request in
another language is cut at its language's conjunctions, a Chinese or Japanese one at its own
joiners. An action's content keys are its words stemmed (a verb's past form meets its base:
"sent"/"send"), or, in unspaced scripts, its pairs of characters: the keys a failure reason
shares with an action name it.
"""

from __future__ import annotations

import re

from agenther.constraints import figure_windows
from agenther.rules.vocabulary import (
    ACTION_VERBS,
    CALENDAR,
    OTHER_IMPERATIVES,
    PREPARATORY_VERBS,
    REQUEST_WORDS,
    word_set,
)
from agenther.words import FUNCTION_WORDS, WORD_RE, content_pairs, english, latin_languages, stem

_JOINER = re.compile(
    r"(?:\s*,\s*(?:and\s+)?(?:then\s+)?|\s+and\s+(?:then\s+)?|\s*;\s*|\s+then\s+)"
    r"(?:also\s+)?(?=([A-Za-z-]+)\b)",
    re.IGNORECASE,
)
SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z¿¡\"“])")
_MIN_REASON_WORD = 3
# A later action in a Chinese request: "…还有几个名额，然后给王磊报名。"
_CHINESE_JOINER_RE = re.compile(r"\s*[，,；;]\s*(?:然后|接着|之后|随后|再|并且|并|同时)")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
# "在庫を確認して、足りなければ発注しておいて", "記録を見せて。それと、…保存しておいて": a
# Japanese request's next action follows a "-te" form's comma or a sentence's "and also".
_JAPANESE_JOINER_RE = re.compile(r"(?<=て)、|(?<=。)\s*(?:それと|それから|あと|ついでに|また)、?")
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_KANA_HANGUL_RE = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")


# A second question joined to the first: "What was our revenue in 2023, and who were the top
# 5 customers?"
_QUESTION_WORDS = word_set("who what when where which how why is are was were does do did can")
# In the other languages the requests come in, only a comma-led or plain conjunction is read
# (there is no verb list): "…in den Warenkorb und löse den Gutscheincode ein", "…du jour et
# passe l'écriture". Whatever is cut must then be the one part the reason names. The
# conjunctions are the request's language's: Dutch "en" (and) is Spanish "en" (in).
_CONJUNCTIONS = {
    "de": ("und sowie", "dann danach"),
    "fr": ("et puis", "puis"),
    "es": ("y e", "luego después"),
    "pt": ("e", "depois"),
    "it": ("e", "poi"),
    "nl": ("en", "daarna"),
    "pl": ("i oraz", "potem"),
    "sv": ("och", "sedan"),
    "no": ("og", "deretter etterpå"),
    "da": ("og", "derefter bagefter"),
    "tr": ("ve", "sonra"),
    "cs": ("a", "potom pak"),
}


def _joiner(conjunctions: str, then: str) -> re.Pattern[str]:
    and_ = "|".join(conjunctions.split())
    if not then.split():
        return re.compile(rf"\s*,?\s+(?:{and_})\s+(?=(\S+))", re.IGNORECASE)
    then_ = "|".join(then.split())
    return re.compile(
        rf"(?:\s*,?\s+(?:{and_})\s+(?:(?:{then_})\s+)?"
        # "… taxa de refugo? Depois compara com abril.": a sentence opened by "then".
        rf"|(?<=[.!?])\s+(?:{then_})[\s,]+)(?=(\S+))",
        re.IGNORECASE,
    )


_FOREIGN_JOINERS = {lang: _joiner(*words) for lang, words in _CONJUNCTIONS.items()}
# A request of no language told apart (Norwegian "og", a tie): any of them.
_ANY_FOREIGN_JOINER = _joiner(
    " ".join(dict.fromkeys(" ".join(c for c, _ in _CONJUNCTIONS.values()).split())) + " og",
    " ".join(dict.fromkeys(" ".join(t for _, t in _CONJUNCTIONS.values()).split())),
)


def _joiner_of(request: str) -> re.Pattern[str] | None:
    """The request's language's joiner; for languages that tie (Danish and Norwegian share
    most function words), the conjunctions they all have ("og", not the "i" that is "in"
    in Danish and "and" in Polish); for none told apart, any language's."""
    languages = [lang for lang in latin_languages(request) if lang in _CONJUNCTIONS]
    if not languages:
        return _ANY_FOREIGN_JOINER
    if len(languages) == 1:
        return _FOREIGN_JOINERS[languages[0]]
    shared = set.intersection(*(set(_CONJUNCTIONS[lang][0].split()) for lang in languages))
    then = set.intersection(*(set(_CONJUNCTIONS[lang][1].split()) for lang in languages))
    return _joiner(" ".join(sorted(shared)), " ".join(sorted(then))) if shared else None


def split_actions(request: str) -> list[str]:
    """The request cut where a joiner is followed by an action verb (or, in English, a second
    question); a request in another language is cut at every conjunction."""
    if english(request):
        joins = list(_JOINER.finditer(request))
        # "Find a rental car in Lisbon, and then a hotel near Alfama": "then" before a noun
        # phrase is a second action whose verb is the first one's.
        cuts = [
            m.span()
            for m in joins
            if m.group(1).lower() in ACTION_VERBS | PREPARATORY_VERBS
            or ("then" in m.group(0).lower() and m.group(1).lower() in ("a", "an"))
        ]
        questions = [
            m.span()
            for m in joins
            if m.group(0).lstrip().startswith(",") and m.group(1).lower() in _QUESTION_WORDS
        ]
        # Only two questions in one sentence: "Who designed it, when did it open, and how
        # tall is it?" lists one request's parts.
        lead_in = True  # "In Q2_sales.xlsx, add a Total column": part of the first action
        one_pair = len(questions) == 1 and "," not in request[: questions[0][0]]
        if not cuts and one_pair and not SENTENCE_BREAK_RE.search(request):
            cuts, lead_in = questions, False
    elif _chinese(request):
        cuts, lead_in = [m.span() for m in _CHINESE_JOINER_RE.finditer(request)], False
    elif _KANA_RE.search(request):
        cuts, lead_in = [m.span() for m in _JAPANESE_JOINER_RE.finditer(request)], False
    else:
        joiner = _joiner_of(request)
        windows = figure_windows(request)
        cuts = [
            m.span()
            for m in (joiner.finditer(request) if joiner is not None else ())
            if not any(start < m.start() < end for start, end in windows)
            # "voor 2 volwassenen en 1 kind": a count after the joiner lists, it acts on nothing
            and not request[m.end() : m.end() + 1].isdigit()
        ]
        lead_in = False
    pieces, start = [], 0
    for begin, end in cuts:
        pieces.append(request[start:begin])
        start = end
    pieces.append(request[start:])
    actions = [p.strip(" ,;") for p in pieces if p.strip(" ,;")]
    while lead_in and len(actions) > 1 and not _has_verb(actions[0]):
        actions[:2] = [f"{actions[0]}, {actions[1]}"]
    return actions


# "For every June wedding cake order, give me …": a part that opens with a preposition
# only sets the scene, whatever verb-like noun ("order") it holds.
_SCENE_OPENERS = word_set("for in on at from across among within during per")


def _has_verb(action: str) -> bool:
    # A capitalised word after the first is part of a name: "Using NYC Open Data" has no verb.
    words = action.split()
    if words and words[0].lower() in _SCENE_OPENERS and "," not in action:
        return False
    return (bool(words) and words[0].lower() in OTHER_IMPERATIVES) or any(
        word.lower() in ACTION_VERBS | PREPARATORY_VERBS
        for i, word in enumerate(words)
        if i == 0 or not word[:1].isupper()
    )


def word_key(word: str) -> str:
    """``stem`` that also meets a verb's past form: "sent"/"send", "submitted"/"submit"."""
    word = PAST_TO_BASE.get(word, word)
    key = stem(word)
    if key != word and len(key) > 4 and key[-1] == key[-2] and key[-1] not in "lsfz":
        key = key[:-1]
    # "archive"/"archived", "schedule"/"scheduled": ``stem`` leaves the base form's "e".
    if key.endswith("e") and len(key) > 4:
        key = key[:-1]
    return key


def _chinese(text: str) -> bool:
    return _HAN_RE.search(text) is not None and _KANA_HANGUL_RE.search(text) is None


# Outside ASCII a word keeps its accented letters ("réserve" is not "serve", "équipe" not
# "quip"), and a French or Italian elided article is no part of it ("l'invitation").
_ACCENTED_WORD_RE = re.compile(r"[^\W\d_][^\W_]*(?:['’-][^\W_]+)*")
_ANY_FUNCTION_WORD = frozenset().union(*FUNCTION_WORDS.values())
_ELISION_RE = re.compile(r"^(?:l|d|qu|n|s|j|c|m|t|dell|dall|nell|all|sull|un)['’]")


def content_keys(text: str) -> set[str]:
    """The keys of ``text``'s content words (a hyphenated word's parts too), or of its pairs
    of characters in an unspaced script."""
    if _chinese(text):
        # No spaces between words: two characters in a row stand for one.
        return set(content_pairs(text))
    lowered = text.lower()
    if _KANA_HANGUL_RE.search(text):
        # Japanese and Korean the same, with the Latin words they carry ("CSV").
        latin = {w for w in WORD_RE.findall(lowered) if w not in REQUEST_WORDS}
        return set(content_pairs(text)) | latin
    if lowered.isascii():
        words = WORD_RE.findall(lowered)
        # "no nut-allergy orders were flagged" speaks of the "nut allergy" of the request.
        words += [part for word in words if "-" in word for part in word.split("-")]
    else:
        words = [_ELISION_RE.sub("", word) for word in _ACCENTED_WORD_RE.findall(lowered)]
        words = [word for word in words if word not in _ANY_FUNCTION_WORD]
    return {
        word_key(CALENDAR.get(word, word))
        for word in words
        if len(word) >= _MIN_REASON_WORD and word not in REQUEST_WORDS
    }


IRREGULAR_PAST = {
    "send": "sent", "buy": "bought", "make": "made", "write": "wrote written", "pay": "paid",
    "run": "ran", "get": "got gotten", "find": "found", "tell": "told", "give": "gave given",
    "build": "built", "put": "put", "set": "set", "draw": "drew drawn", "pick": "picked",
}  # fmt: skip
PAST_TO_BASE = {past: base for base, forms in IRREGULAR_PAST.items() for past in forms.split()}
