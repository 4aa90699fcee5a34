"""The request without the part the run left out, as an action or as a detail.

An action: "Reserve a compact car at Denver airport from June 12 to June 15 and add a child
seat", failed because "the child seat was never added", becomes "Reserve a compact car at
Denver airport from June 12 to June 15." A detail: "Find a chicken tikka masala recipe for 4,
with the ingredient list and the calories per serving", failed because "calories per serving
were never obtained", becomes "Find a chicken tikka masala recipe for 4, with the ingredient
list."

A request is cut into its actions where a joiner ("and", "then", a comma or a semicolon) is
followed by an action verb; the failure reason names the failed one by its words. Only a later
action is dropped, and only when the reason points at it alone: an earlier action may be what
the later ones act on, and a kept action that says "it" or "them" may mean the dropped one.
The final answer must not speak of the dropped action at all (neither its failure nor a claim
that it was done): it is paired with the shorter request as its answer. Its words count as
speaking of it unless a usable observation shows them too (the blender in an order whose
return failed is still an item of the order).
"""

from __future__ import annotations

import re
from itertools import pairwise

from agenther.constraints import figure_windows
from agenther.rules.vocabulary import (
    ACTION_VERBS,
    CALENDAR,
    FOREIGN_PREPARATORY_VERBS,
    OTHER_IMPERATIVES,
    PREPARATORY_VERBS,
    REQUEST_WORDS,
    word_set,
)
from agenther.words import FUNCTION_WORDS, WORD_RE, content_pairs, english, latin_language, stem

_JOINER = re.compile(
    r"(?:\s*,\s*(?:and\s+)?(?:then\s+)?|\s+and\s+(?:then\s+)?|\s*;\s*|\s+then\s+)"
    r"(?:also\s+)?(?=([A-Za-z-]+)\b)",
    re.IGNORECASE,
)
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z¿¡\"“])")
# A sentence that is only a condition, once the action it conditioned is gone.
_BARE_CONDITION_RE = re.compile(
    # "…, and if any group is under 3 days' supply" once its action went.
    r"(?:^|(?<=[.!?])\s+|,\s*(?:and\s+|but\s+)?)(?:if|unless|once|in\s+case|as\s+soon\s+as|provided|assuming|wenn"
    r"|falls|si|se|als|jeśli|jeżeli|om|eğer)\s[^.!?]*$",
    re.IGNORECASE,
)
_BACK_REFERENCE = re.compile(r"\b(?:it|them|they|those|these|this|that one|its|their)\b", re.I)
_MIN_REASON_WORD = 3
_GETS_SOMEWHERE = PREPARATORY_VERBS | FOREIGN_PREPARATORY_VERBS
_FAILURE_WORDS = re.compile(
    r"\b(?:fail(?:ed|s|ure)?|unable|could(?:n't| not)|can(?:'t|not)|was(?:n't| not)|"
    r"were(?:n't| not)|did(?:n't| not)|error|not able|no longer|unfortunately)\b"
    # The languages requests come in: "le push vers origin a échoué", "ist fehlgeschlagen".
    r"|(?<!\w)(?:échou\w*|erreur|malheureusement|fehlgeschlagen|gescheitert|fehler|leider"
    r"|fall(?:ó|o|ado|ida)|lamentablemente|no\s+se\s+pudo|fallit[oa]|errore|purtroppo"
    r"|falh(?:ou|a|ado)|erro|infelizmente|mislukt|helaas|nie\s+udało|niestety|błąd"
    r"|misslyckades|tyvärr|mislyktes|mislykkedes|dessverre|desværre)(?!\w)"
    # Chinese: "failed", "could not", "did not succeed", "error", "unfortunately".
    r"|失败|无法|未能|没能|不能|没有成功|未成功|出错|错误|报错|遗憾|抱歉",
    re.IGNORECASE,
)
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
    "tr": ("ve", "sonra"),
    "cs": ("a", "potom pak"),
}


def _joiner(conjunctions: str, then: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?:\s*,?\s+(?:{'|'.join(conjunctions.split())})\s+"
        rf"(?:(?:{'|'.join(then.split())})\s+)?"
        # "… taxa de refugo? Depois compara com abril.": a sentence opened by "then".
        rf"|(?<=[.!?])\s+(?:{'|'.join(then.split())})[\s,]+)(?=(\S+))",
        re.IGNORECASE,
    )


_FOREIGN_JOINERS = {lang: _joiner(*words) for lang, words in _CONJUNCTIONS.items()}
# A request of no language told apart (Norwegian "og", a tie): any of them.
_ANY_FOREIGN_JOINER = _joiner(
    " ".join(dict.fromkeys(" ".join(c for c, _ in _CONJUNCTIONS.values()).split())) + " og",
    " ".join(dict.fromkeys(" ".join(t for _, t in _CONJUNCTIONS.values()).split())),
)


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
        if not cuts and one_pair and not _SENTENCE_BREAK_RE.search(request):
            cuts, lead_in = questions, False
    elif _chinese(request):
        cuts, lead_in = [m.span() for m in _CHINESE_JOINER_RE.finditer(request)], False
    elif _KANA_RE.search(request):
        cuts, lead_in = [m.span() for m in _JAPANESE_JOINER_RE.finditer(request)], False
    else:
        joiner = _FOREIGN_JOINERS.get(latin_language(request) or "", _ANY_FOREIGN_JOINER)
        windows = figure_windows(request)
        cuts = [
            m.span()
            for m in joiner.finditer(request)
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


def _has_verb(action: str) -> bool:
    # A capitalised word after the first is part of a name: "Using NYC Open Data" has no verb.
    words = action.split()
    return (bool(words) and words[0].lower() in OTHER_IMPERATIVES) or any(
        word.lower() in ACTION_VERBS | PREPARATORY_VERBS
        for i, word in enumerate(words)
        if i == 0 or not word[:1].isupper()
    )


def _key(word: str) -> str:
    """``stem`` that also meets a verb's past form: "sent"/"send", "submitted"/"submit"."""
    word = _PAST_TO_BASE.get(word, word)
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


def _content(text: str) -> set[str]:
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
    else:
        words = [_ELISION_RE.sub("", word) for word in _ACCENTED_WORD_RE.findall(lowered)]
        words = [word for word in words if word not in _ANY_FUNCTION_WORD]
    return {
        _key(CALENDAR.get(word, word))
        for word in words
        if len(word) >= _MIN_REASON_WORD and word not in REQUEST_WORDS
    }


# What the reason says did not happen: "the chart was never emailed to the finance team", "no
# BibTeX entry was provided", "the Boulder forecast and the hike recommendation missing".
_NEGATION = frozenset(
    "never not no without none cannot unable nor neither"
    # The languages requests come in ("aucune place n'a été achetée", "non è stato
    # scaricato"); not Italian "mai", the French month.
    " pas jamais aucun aucune sans nunca ningún ninguna ninguno sin nicht nie kein keine"
    " keinen keiner keinem ohne non nessun nessuno nessuna senza não nenhum nenhuma sem niet"
    " nooit geen zonder nigdy żaden żadna żadne bez inte aldrig ingen inget utan".split()
)
# Auxiliaries right after a foreign negation say nothing of what did not happen ("non è
# stato scaricato": "stato" is no status).
_FOREIGN_AUXILIARY = frozenset(
    "è é stato stata stati state sono era erano foi foram sido ha han hat habe haben wurde"
    " wurden worden été a ont est sont ist sind war waren heeft hebben werd zijn została"
    " został zostały".split()
)
# "No hub met the budget" says nothing was found, not that the hub was not wanted: only a
# negated verb ("ran on the primary, not the read replica") says what the run did not do.
_VERB_NEGATION = frozenset("never not without".split())
_MISSING = frozenset("missing omitted omits skipped skips absent".split())
# "the reply quietly leaves the upload out": what is left out is what did not happen.
_LEFT_OUT_RE = re.compile(r"\b(?:leaves|left|leaving)\s+((?:[\w'’-]+\s+){1,4}?)out\b", re.I)
_SCOPE_END = frozenset(
    "and but so because since while although though as mais et y und aber pero ma mas maar"
    " ale och men".split()
)
_SCOPE_WORDS = 6
# "only six months returned", "just part of it": the kept action may be partial too. "Only the
# landings were retrieved" names what was done whole, so "only" counts before an amount alone.
_PARTIAL_RE = re.compile(
    r"\b(?:(?:only|just)\s+(?:\d|one|two|three|four|five|six|seven|eight|nine|ten|some|part"
    r"|half|a\s+few|a\s+handful|a\s+subset|a\s+sample|the\s+first|the\s+last|a\s+portion)"
    r"|partial(?:ly)?|incomplete|\d+\s+(?:of|out\s+of)\s+(?:the\s+|all\s+)?\d+"
    # "Only page 1 (14 of the 40) was admitted".
    r"|only\s+(?:page|batch|part|chunk)\s+\d+)\b",
    re.IGNORECASE,
)
_BARELY_STARTED_RE = re.compile(
    r"\b(?:barely|hardly|scarcely|never\s+really)\s+(?:got\s+)?(?:started|began|begun|begins)\b",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(r"[\w'’#@.-]+|[,;:()\[\]!?]")


def _negated_words(
    reason: str,
    negations: frozenset[str] = _NEGATION,
    *,
    subjects: bool = False,
    passive_subjects: bool = False,
) -> list[str]:
    """The words in the scope of a negation in ``reason``: up to six words after "never"/
    "not"/"no"/"missing the", or before a clause-final "missing". With ``subjects``, also the
    subject of a negated passive: "The combined MRR was never computed", "Aspirin interaction
    not addressed" (the words before "was never" name the thing, "computed" only the verb)."""
    reason = _LEFT_OUT_RE.sub(r"omitted \1", reason)
    # A word's closing stop ends its sentence: a scope never runs into the next one.
    tokens = [
        part
        for token in _TOKEN_RE.findall(reason.lower())
        for part in ((token[:-1], ".") if token.endswith(".") and len(token) > 1 else (token,))
    ]
    scoped: list[str] = []
    for i, token in enumerate(tokens):
        negation = token in negations or token.endswith(("n't", "n’t"))
        negation |= token in ("failed", "fails") and i + 1 < len(tokens) and tokens[i + 1] == "to"
        clause_end = i + 1 == len(tokens) or not tokens[i + 1][:1].isalnum()
        negates_verb = token in _VERB_NEGATION or token.endswith(("n't", "n’t"))
        if (subjects and negates_verb) or (passive_subjects and _negates_passive(tokens, i)):
            scoped.extend(_negation_subject(tokens, i))
        if token in _MISSING and clause_end:
            j = i
            while j > 0 and i - j < _SCOPE_WORDS and tokens[j - 1][:1].isalnum():
                j -= 1
            scoped.extend(tokens[j:i])
        elif negation or token in _MISSING:
            start = i + 1
            if token == "none" and tokens[start : start + 1] == ["of"]:
                # "none of the three were added to the roster": the words up to the verb
                # name who was not, the words after it what did not happen.
                verb = next(
                    (j for j in range(start, min(start + _SCOPE_WORDS, len(tokens)))
                     if tokens[j] in _AUXILIARY),
                    None,
                )  # fmt: skip
                start = start if verb is None else verb + 1
            while start < len(tokens) and tokens[start] in _FOREIGN_AUXILIARY:
                start += 1
            for word in tokens[start : start + _SCOPE_WORDS]:
                if not word[:1].isalnum() or word in _SCOPE_END:
                    break
                scoped.append(word)
    return scoped


# Verbs that say nothing at all was done to their subject. "Reviews were not summarised" names
# the missing work (summarising), not the reviews, which the run may well have found.
_UNTOUCHED = frozenset(
    "touched attempted started begun tried addressed handled tackled done".split()
)


def _negates_passive(tokens: list[str], i: int) -> bool:
    """The negation at ``i`` says nothing was done to the passive's subject: "the newsletter
    wasn't touched", "the refund was never attempted"."""
    token = tokens[i]
    negated_be = token in ("wasn't", "weren't", "isn't", "aren't", "wasn’t", "weren’t")
    after_be = i > 0 and tokens[i - 1] in ("was", "were", "is", "are")
    if not (negated_be or (token in ("not", "never") and after_be)):
        return False
    after = i + 1
    while after < len(tokens) and tokens[after] in ("been", "yet", "ever", "actually"):
        after += 1
    if after >= len(tokens):
        return False
    return tokens[after] in _UNTOUCHED


_RELATIVE = frozenset(("which", "who"))
_AUXILIARY = frozenset("was were is are be been being has have had wasn't weren't isn't".split())


def _negation_subject(tokens: list[str], i: int) -> list[str]:
    """The clause's words before the negation at ``i`` (and its auxiliaries): what a negated
    passive is about, "the invoice e-mail was never archived", "aspirin interaction not
    addressed"."""
    j = i
    while j > 0 and tokens[j - 1] in _AUXILIARY:
        j -= 1
    # "The remaining quota, which was half of the question, was never looked up": the
    # relative clause between the subject and its verb is skipped.
    if j > 1 and tokens[j - 1] == ",":
        k = j - 2
        while k > 0 and tokens[k] not in _RELATIVE and tokens[k][:1].isalnum():
            k -= 1
        if k > 1 and tokens[k] in _RELATIVE and tokens[k - 1] == ",":
            j = k - 1
    end = j
    while j > 0 and end - j < _SCOPE_WORDS and tokens[j - 1][:1].isalnum():
        if tokens[j - 1] in _SCOPE_END:
            break
        j -= 1
    return tokens[j:end]


def _negated(reason: str, *, subjects: bool = False) -> set[str]:
    return _content(" ".join(_negated_words(reason, subjects=subjects)))


# "No breakfast plan at all" says the thing was never made, where "No hub met the budget"
# only says none was found.
_NONE_AT_ALL_RE = re.compile(
    r"\bno\s+((?:[\w'’-]+\s+){1,5}?)at\s+all\b"
    # "No brine times were pulled and no wheel was checked"
    r"|(?:^|[.;:]\s+|\band\s+)no\s+((?:[\w'’-]+\s+){1,3}?)(?:was|were|got|has\s+been|have\s+been)"
    r"\s+(?:\w+\s+)?\w+(?:ed|en|ne|wn|t)\b",
    re.IGNORECASE,
)


def unmet_things(reason: str) -> set[str]:
    """Content keys of the things (not the verbs) the reason says the run did not do or use:
    "not the read replica" gives "replica". A request that keeps one asks for the failure."""
    none_at_all = [
        w for m in _NONE_AT_ALL_RE.finditer(reason) for w in (m.group(1) or m.group(2)).split()
    ]
    words = [
        w
        for w in [*_negated_words(reason, _VERB_NEGATION, passive_subjects=True), *none_at_all]
        if w not in ACTION_VERBS | PREPARATORY_VERBS
        and w not in _PAST_TO_BASE
        # An address's parts ("com" of "jordan.lee@fastmail.com") name nothing to do.
        and "@" not in w
        and not w.endswith(("ed", "en", "ing"))
    ]
    return _content(" ".join(words))


def kept_unmet_things(prompt: str, reason: str) -> list[str]:
    """Words of ``prompt`` naming what the reason says the run did not do."""
    unmet = unmet_things(reason)
    return sorted({w for w in WORD_RE.findall(prompt.lower()) if _key(w) in unmet})


_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
_MONTHS = {name[:3]: number for number, name in enumerate(_MONTH_NAMES.split(), 1)}
_ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?")


def kept_unmet_dates(prompt: str, reason: str) -> list[str]:
    """ISO dates of ``prompt`` that the reason says were not done, however it spells them:
    "The 12 September partition never loaded" against "for 2024-09-10 through 2024-09-12".
    A request that keeps such a date asks for the failure again."""
    words = _negated_words(reason, _VERB_NEGATION, subjects=True)
    named: set[tuple[int, int]] = set()
    for word in words:
        iso = _ISO_DATE_RE.fullmatch(word)
        if iso:
            named.add((int(iso[2]), int(iso[3])))
    for first, second in pairwise(words):
        for day, month in ((first, second), (second, first)):
            number = _DAY_RE.fullmatch(day)
            if number and month[:3] in _MONTHS and month.isalpha():
                named.add((_MONTHS[month[:3]], int(number[1])))
    return sorted({m[0] for m in _ISO_DATE_RE.finditer(prompt) if (int(m[2]), int(m[3])) in named})


# A clause of the reason that says a part was done ("Berliner Hütte is booked, but …", "Die
# Liste ist korrekt, aber …") names a kept action, not one that failed.
_DONE_CLAUSE_RE = re.compile(
    r"(?:^|(?<=[.;:,—–]\s))"
    # "no hotel search was done" says the opposite.
    r"(?![^.;:,—–]*\b(?:no|not|never|none|nothing|nie|nicht|kein\w*|pas|jamais|nunca|non|niet)\b)"
    r"(?:the\s+|die\s+|der\s+|das\s+|le\s+|la\s+|el\s+)?[^.;:,—–]{1,60}?"
    r"\s(?:is|was|are|were|ist|sind|wurde|est|es|está|è)\s+(?:correctly\s+|fine\s+and\s+)?"
    r"(?:booked|done|right|correct|fine|ok|okay|confirmed|reserved|in\s+place|korrekt|richtig"
    r"|gebucht|erledigt|fait|réservée?|correcte?|hecho|reservad[oa]|corrett[oa]|fatto)"
    r"(?=\s*(?:[.;:,—–]|\s(?:but|aber|mais|pero|ma)\b|$))",
    re.IGNORECASE,
)

# "Lesson booked for both kids, but the wetsuit hire was skipped": a clause that opens with
# a part done, up to the "but" that turns to what was not.
_DONE_BUT_RE = re.compile(
    r"(?:^|(?<=[.;]\s))(?![^.;:,—–]*\b(?:no|not|never|none|nothing)\b)[^.;:,—–]{1,40}?\s"
    r"(?:booked|done|sent|created|placed|confirmed|reserved|completed|updated|saved|changed"
    r"|published|added|scheduled)\b[^.;:—–]{0,40}?(?=,?\s+but\b)",
    re.IGNORECASE,
)
# "The reply covers the order and leaves the bookkeeping out": the part before a "leaves out"
# is the part that was done.
_COVERED_CLAUSE_RE = re.compile(
    r"\b(?:covers|handles|includes|reports|gives|mentions|does)\s+[^.;:,—–]{1,50}?"
    r"(?=\s+(?:and|but)\s+(?:then\s+)?(?:leaves|omits|skips|ignores|drops|forgets|misses)\b)",
    re.IGNORECASE,
)


def _pick_failed(actions: list[str], reason: str) -> tuple[int, list[int]] | None:
    """The index of the one later action the reason names, and every action's overlap with
    what it names. Words the reason negates decide when they name an action: the other
    words may be the failed action's object or a kept action's ("the chart was never emailed"
    after "plot a chart"); else every content word of the reason counts, but for those of a
    clause that says its part was done."""
    reason = _DONE_BUT_RE.sub(" ", _DONE_CLAUSE_RE.sub(" ", reason))
    reason = _COVERED_CLAUSE_RE.sub(" ", reason)
    # A word every action shares ("revenue" in "What was our revenue, and who were the top
    # customers by revenue?") tells none of them apart.
    contents = [_content(action) for action in actions]
    shared = set.intersection(*contents) if contents else set()
    contents = [words - shared for words in contents]
    inflected = not english(reason)
    request_words = set().union(*contents)

    def reason_keys(keys: set[str]) -> set[str]:
        return _with_inflections(keys, request_words) if inflected else keys

    named = reason_keys(_content(reason))
    everywhere = [len(words & named) for words in contents]
    negated = reason_keys(_negated(reason))
    overlap = [len(words & negated) for words in contents]
    if not any(overlap):  # the negated verb names no action: what it is about may
        negated = reason_keys(_negated(reason, subjects=True))
        overlap = [len(words & negated) for words in contents]
    if not any(overlap) or _PARTIAL_RE.search(reason):
        overlap = everywhere  # "only six months returned": a kept action may be partial too
    best = max(overlap)
    failed = [i for i, score in enumerate(overlap) if score == best]
    if not best or len(failed) != 1 or failed[0] == 0:
        return None
    if max(everywhere) > everywhere[failed[0]]:
        return None  # "Wen and Ruth were never emailed": the reason is more about another one
    return failed[0], overlap


# An inflected form in a language without a stemmer here: "testu" (Polish genitive) is the
# request's "test", "commita" its "commit". Only short endings on a word of some length, so
# that "samenvatting" (a summary) is not "samen" (together).
_MAX_ENDING = 2
_MIN_INFLECTED_STEM = 4


def _with_inflections(reason_keys: set[str], request_keys: set[str]) -> set[str]:
    """``reason_keys`` plus the request's keys that one of them inflects."""
    found = set(reason_keys)
    for key in request_keys - reason_keys:
        if len(key) < _MIN_INFLECTED_STEM:
            continue
        for word in reason_keys:
            short, long = sorted((key, word), key=len)
            if (
                len(short) >= _MIN_INFLECTED_STEM
                and long.startswith(short)
                and len(long) - len(short) <= _MAX_ENDING
            ) or _share_a_stem(key, word):
                found.add(key)
                break
    return found


# Two endings on one stem ("scaricami" and "scaricato"): a longer stem, since two endings
# leave more room for chance ("conta" and "conto" are a count and an account).
_MIN_SHARED_STEM = 6


def _share_a_stem(a: str, b: str) -> bool:
    for ending in range(_MAX_ENDING + 1):
        stem = a[: len(a) - ending]
        if len(stem) < _MIN_SHARED_STEM:
            return False
        if b.startswith(stem) and len(b) - len(stem) <= _MAX_ENDING:
            return True
    return False


_LEAD_IN_RE = re.compile(r"(?:then\s+)?(?:go\s+ahead|proceed|do\s+it|please|and\s+then)", re.I)
# "On the EPC register, what's the energy rating …" split at its comma: the part before the
# question only says where to look, and is no request of its own.
_SETTING_ONLY_RE = re.compile(
    r"^(?:on|in|at|from|using|via|through|with|for|according\s+to|en|sur|dans|auf|im|su|nel"
    r"|nella|em|no|na|op|w)\s+[^,;:!?]*$",
    re.IGNORECASE,
)


def without_failed_action(request: str, reason: str, answer: str, observed: str) -> str | None:
    """The request minus the one later action the failure reason names (with the actions
    right after it that act on its result), or None. Actions are read inside a sentence
    first; then a request of several sentences may lose a whole later one ("Please take the
    height from the official website.")."""
    if not reason.strip():
        return None
    request = request.strip()
    actions = split_actions(request.rstrip(".!?。！？"))
    kept = _without_failed(actions, reason, answer, observed)
    if kept is not None:
        # "Compare A and B this season — points and assists per game — and tell me …": the
        # aside's closing dash belongs to the part that was dropped.
        kept = [action.rstrip(" —–-,;:") for action in kept]
        # "What's the status of order 9042? If it's printed, book the courier …": the
        # condition belongs to the action it conditioned, and goes with it.
        kept = [_BARE_CONDITION_RE.sub("", action).rstrip() for action in kept]
        # "…, then go ahead and reserve it": "go ahead" only leads into the dropped action.
        kept = [action for action in kept if not _LEAD_IN_RE.fullmatch(action)]
        if not kept or not all(kept) or _SETTING_ONLY_RE.match(kept[0]):
            return None
    if not english(request):
        # One part kept reads as the user wrote it, and so do the first parts with their own
        # "and"; other choices would need the language's "and" put in. The checks on the answer
        # (failure words, back references) read English, so no sentence of a request in
        # another language is dropped.
        if not kept:
            return None
        if len(kept) > 1:
            joined = request[: request.find(kept[-1]) + len(kept[-1])]
            if kept != actions[: len(kept)] or not joined.startswith(kept[0]):
                return None
            # "… a data de início, o valor do aluguel e o valor da multa": the "and" closed a
            # list, whose last item went; a new clause after a list has its comma.
            if "," in kept[-1] and not request[len(joined) :].startswith(","):
                return None
            kept = [joined]
        return _closed(_list_closed(kept[0], request), request)
    if kept is not None:
        return _closed(" and ".join(kept), request)
    sentences = [s for s in _SENTENCE_BREAK_RE.split(request) if s.strip()]
    kept = _without_failed(sentences, reason, answer, observed)
    if kept is None:
        return None
    return " ".join(s if s[-1:] in ".!?" else s + "." for s in kept)


# "… de Lyon Part-Dieu, Marseille Saint-Charles, Lille Flandres et Nantes" without "Nantes":
# the joiner closed a list of short items, and now closes it one item earlier.
_LIST_ITEM_WORDS = 3
_JOINER_WORD_RE = re.compile(r"\s*,?\s*([^\W\d_]+)\s")


def _list_closed(kept: str, request: str) -> str:
    rest = request[request.find(kept) + len(kept) :]
    joiner = _JOINER_WORD_RE.match(rest)
    head, comma, last = kept.rpartition(", ")
    dropped = rest[joiner.end() :].rstrip(".!?。！？ ") if joiner else ""
    if (
        not comma
        or joiner is None
        or not dropped
        or len(dropped.split()) > _LIST_ITEM_WORDS
        or len(last.split()) > _LIST_ITEM_WORDS
        or any(c in dropped for c in ",;:")
    ):
        return kept
    return f"{head} {joiner.group(1)} {last}"


def _closed(kept: str, request: str) -> str:
    """``kept`` ending as the request does, unless a kept question already ends it."""
    if kept[-1:] in ".!?。！？" or (kept[-2:-1] in ".!?" and kept[-1:] in "\"”“»'’"):
        return kept  # (a kept quotation may close the sentence: "… kapelami.“")
    if kept[:1] in "¿¡":  # "¿Qué tiempo hará el sábado en Sevilla" asks, whatever came after
        return kept + ("?" if kept[0] == "¿" else "!")
    if request[-1:] in "。！？":
        return kept + ("？" if request.endswith("？") else "。")
    return kept + ("?" if request.endswith("?") else ".")


def _without_failed(
    actions: list[str], reason: str, answer: str, observed: str
) -> list[str] | None:
    """``actions`` without the failed one and those acting on its result, or None."""
    if len(actions) < 2:
        return None
    picked = _pick_failed(actions, reason)
    if picked is None:
        return None
    if _BARELY_STARTED_RE.search(reason):
        return None  # "Barely started. It listed a folder, then stopped": no action was done
    dropped, overlap = picked
    # Later actions that say "it" or "them" act on the dropped one's result ("kick off the
    # pipeline and tell me whether it passes"): they go with it.
    last = dropped + 1
    while last < len(actions) and _BACK_REFERENCE.search(actions[last]):
        last += 1
    # "…, then schedule a climb crew … and let the landlord know" when the reason says the
    # landlord was never contacted either: the later actions it names go too.
    later = [_content(action) & _content(reason) for action in actions[last:]]
    if later and all(later):
        last = len(actions)
    elif any(later):
        return None
    kept = actions[:dropped] + actions[last:]
    if any(_BACK_REFERENCE.search(action) for action in actions[last:]):
        return None
    if any(overlap[i] for i in range(len(actions)) if not dropped <= i < last):
        return None  # the reason also speaks of a kept action: it may have failed too
    if all(action.lower().split()[0] in _GETS_SOMEWHERE for action in kept):
        return None  # "Go through the PAY board backlog." asks for nothing
    dropped_only = set().union(*(_content(a) for a in actions[dropped:last])) - set().union(
        *(_content(a) for a in kept)
    )
    # The answer may name what the observations show ("the order held a blender", "the Sales
    # sheet"); any other word of the dropped action means it speaks of that action.
    if {word for word in dropped_only & _content(answer) if word not in _content(observed)}:
        return None
    # "A lavagem exterior não ficou incluída": even in the observations' words, an answer
    # saying the dropped part was not done speaks of it. (Two of its words: "Télésiège Rhodos :
    # ouvert, sans attente" names the piste only as a place.)
    if any(_denies(part, dropped_only) for part in _ANSWER_PART_RE.split(answer)):
        return None
    if _FAILURE_WORDS.search(answer) or _claims(actions[dropped:last], kept, answer):
        return None
    return kept


_IRREGULAR = {
    "send": "sent", "buy": "bought", "make": "made", "write": "wrote written", "pay": "paid",
    "run": "ran", "get": "got gotten", "find": "found", "tell": "told", "give": "gave given",
    "build": "built", "put": "put", "set": "set", "draw": "drew drawn", "pick": "picked",
}  # fmt: skip
_PAST_TO_BASE = {past: base for base, forms in _IRREGULAR.items() for past in forms.split()}


_ANSWER_PART_RE = re.compile(r"(?<=[.!?;])\s+|\s+[—–]\s+|\n")
# A negation this close to the dropped part's words is said of it ("… exterior não ficou").
_DENIAL_SPAN = 3


def _denies(part: str, dropped: set[str]) -> bool:
    """``part`` of the answer names two words of the dropped action and negates one."""
    words = part.lower().split()
    named = [i for i, word in enumerate(words) if _content(word) & dropped]
    if len({key for i in named for key in _content(words[i])}) < 2:
        return False
    return any(
        abs(i - j) <= _DENIAL_SPAN
        for i in named
        for j, word in enumerate(words)
        if word in _NEGATION
    )


def _claims(dropped: list[str], kept: list[str], answer: str) -> bool:
    """Whether ``answer`` uses the verb of a dropped action ("Sent." after "send it to Dana"),
    one that no kept action uses too ("Added the column" may speak of "add a column")."""
    words = set(WORD_RE.findall(answer.lower()))
    kept_words = set(WORD_RE.findall(" ".join(kept).lower()))
    for action in dropped:
        verb = action.split()[0].lower()
        if verb in kept_words:
            continue
        forms = {verb, verb + "s", verb + "ed", verb + "d", verb + "ing", verb + "es"}
        forms.update(_IRREGULAR.get(verb, "").split())
        if forms & words:
            return True
    return False


# "..., with the ingredient list and the calories per serving": details asked for on top of the
# main request, up to the end of its sentence.
_DETAIL_RE = re.compile(
    r",?\s+(?:together\s+with|along\s+with|as\s+well\s+as|including|plus|with)\s+"
    r"(?P<items>[^.;!?]+?)\s*(?=[.;!?]|$)",
    re.IGNORECASE,
)
_ITEM_SPLIT_RE = re.compile(r",\s*(?:and\s+)?|\s+and\s+")


def without_missing_detail(request: str, reason: str, answer: str, observed: str) -> str | None:
    """The request without the details the failure reason says are missing ("with the
    ingredient list and the calories per serving", failed because "calories per serving were
    never obtained", keeps "with the ingredient list"), or None.

    Only the last detail phrase of the request is read, and only when the reason names some of
    its items and nothing else of the request; the answer must not speak of a dropped item
    (unless an observation shows its words too) nor admit a failure."""
    if not reason.strip() or _FAILURE_WORDS.search(answer):
        return None
    request = request.strip()
    matches = list(_DETAIL_RE.finditer(request))
    if not matches:
        return None
    detail = matches[-1]
    named = _content(reason)
    items = [item for item in _ITEM_SPLIT_RE.split(detail.group("items")) if item.strip()]
    missing = [item for item in items if _content(item) & named]
    rest = request[: detail.start()] + request[detail.end() :]
    if not missing or _content(rest) & named or len(rest.split()) < 3:
        return None
    spoken = set().union(*(_content(item) for item in missing)) & _content(answer)
    if spoken - _content(observed):
        return None
    kept = [item for item in items if item not in missing]
    if kept:
        listed = kept[0] if len(kept) == 1 else ", ".join(kept[:-1]) + " and " + kept[-1]
        start = detail.start("items")
        text = request[:start] + listed + request[detail.end("items") :]
    else:
        text = rest
    text = text.strip()
    return text if text[-1:] in ".!?" else text + "."
