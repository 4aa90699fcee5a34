"""The request without the part the run left out, as an action or as a detail.

An action: "Reserve a compact car at Denver airport from June 12 to June 15 and add a child
seat", failed because "the child seat was never added", becomes "Reserve a compact car at
Denver airport from June 12 to June 15." A detail: "Find a chicken tikka masala recipe for 4,
with the ingredient list and the calories per serving", failed because "calories per serving
were never obtained", becomes "Find a chicken tikka masala recipe for 4, with the ingredient
list."

The request is cut into its actions (``agenther.rules.actions``); the failure reason names the
failed one by its words, above all the words it negates (``agenther.rules.negation``). Only a later
action is dropped, and only when the reason points at it alone: an earlier action may be what
the later ones act on, and a kept action that says "it" or "them" may mean the dropped one.
The final answer must not speak of the dropped action at all (neither its failure nor a claim
that it was done): it is paired with the shorter request as its answer. Its words count as
speaking of it unless a usable observation shows them too (the blender in an order whose
return failed is still an item of the order).
"""

from __future__ import annotations

import re

from agenther.rules.actions import IRREGULAR_PAST, SENTENCE_BREAK_RE, content_keys, split_actions
from agenther.rules.negation import NEGATIONS, negated_keys
from agenther.rules.vocabulary import ACTION_VERBS, FOREIGN_PREPARATORY_VERBS, PREPARATORY_VERBS
from agenther.words import WORD_RE, english

# A sentence that is only a condition, once the action it conditioned is gone.
_BARE_CONDITION_RE = re.compile(
    # "…, and if any group is under 3 days' supply" once its action went.
    r"(?:^|(?<=[.!?])\s+|,\s*(?:and\s+|but\s+)?)(?:if|unless|once|in\s+case|as\s+soon\s+as|provided|assuming|wenn"
    r"|falls|si|se|als|jeśli|jeżeli|om|eğer)\s[^.!?]*$",
    re.IGNORECASE,
)
_BACK_REFERENCE = re.compile(r"\b(?:it|them|they|those|these|this|that one|its|their)\b", re.I)
_GETS_SOMEWHERE = PREPARATORY_VERBS | FOREIGN_PREPARATORY_VERBS
# "Open a fault ticket …" makes something; "Open the PAY board" only gets somewhere.
_OPENS_NEW_RE = re.compile(r"open\s+(?:a|an|new)\s", re.IGNORECASE)


def _gets_somewhere(action: str) -> bool:
    """``action`` only gets somewhere ("Go through the PAY board backlog"), unless it opens
    something new or a colon leads to what to do there ("Go through the unread emails:
    reply to the appointment requests …")."""
    words = action.lower().split()
    after_colon = action.partition(":")[2].split()
    does_there = bool(after_colon) and after_colon[0].lower() in ACTION_VERBS
    return (
        bool(words)
        and words[0] in _GETS_SOMEWHERE
        and not _OPENS_NEW_RE.match(action)
        and not does_there
    )


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
    r"|published|added|scheduled)\b[^.;:—–]{0,40}?(?=,?\s+but\b)"
    # "The agent retrieved the Leuven recital schedule but never signed the user up": any
    # past verb before a "but" that turns to what was never done, unless the part done was
    # wrong ("booked the wrong date but never …").
    r"|(?:^|(?<=[.;]\s))(?!(?:(?!\bbut\b)[^.;:,—–])*\b(?:no|not|never|none|nothing|wrong"
    r"|incorrect\w*|instead|mistaken\w*)\b)[^.;:,—–]{0,40}?\b(?:\w{3,}ed|found|got|made|built|gave|wrote|ran|took"
    r"|read|saw|paid|bought|kept|told)\b[^.;:,—–]{0,60}?"
    r"(?=,?\s+but\s+(?:\w+\s+)?(?:never|not|didn't|did\s+not|failed|no)\b)",
    re.IGNORECASE,
)
# "The reply covers the order and leaves the bookkeeping out": the part before a "leaves out"
# is the part that was done.
_COVERED_CLAUSE_RE = re.compile(
    r"\b(?:covers|handles|includes|reports|gives|mentions|does)\s+[^.;:,—–]{1,50}?"
    r"(?=\s+(?:and|but)\s+(?:then\s+)?(?:leaves|omits|skips|ignores|drops|forgets|misses)\b)",
    re.IGNORECASE,
)


def _pick_failed(actions: list[str], reason: str) -> tuple[int, list[set[str]]] | None:
    """The index of the one later action the reason names, and every action's words among
    those it names. Words the reason negates decide when they name an action: the other
    words may be the failed action's object or a kept action's ("the chart was never emailed"
    after "plot a chart"); else every content word of the reason counts, but for those of a
    clause that says its part was done."""
    reason = _DONE_BUT_RE.sub(" ", _DONE_CLAUSE_RE.sub(" ", reason))
    reason = _COVERED_CLAUSE_RE.sub(" ", reason)
    # A word every action shares ("revenue" in "What was our revenue, and who were the top
    # customers by revenue?") tells none of them apart.
    contents = [content_keys(action) for action in actions]
    shared = set.intersection(*contents) if contents else set()
    contents = [words - shared for words in contents]
    inflected = not english(reason)
    request_words = set().union(*contents)

    def reason_keys(keys: set[str]) -> set[str]:
        return _with_inflections(keys, request_words) if inflected else keys

    named = reason_keys(content_keys(reason))
    everywhere = [words & named for words in contents]
    # The negated verb's scope first; then, when it names no later action alone, what the
    # negated verb is about ("The Tuesday evening aqua-fit class was never booked" after
    # "Book me a lane swim …, and sign me up for Tuesday evening's aqua-fit class").
    readings = [reason_keys(negated_keys(reason)), reason_keys(negated_keys(reason, subjects=True))]
    overlap = [words & readings[0] for words in contents]
    for negated in readings:
        overlap = [words & negated for words in contents]
        if _one_later(overlap) is not None:
            break
    if not any(overlap) or _PARTIAL_RE.search(reason):
        overlap = everywhere  # "only six months returned": a kept action may be partial too
    failed = _one_later(overlap)
    if failed is None:
        return None
    if max(len(words) for words in everywhere) > len(everywhere[failed]):
        return None  # "Wen and Ruth were never emailed": the reason is more about another one
    return failed, overlap


def _one_later(overlap: list[set[str]]) -> int | None:
    """The one later action with the most words named, or None."""
    best = max(len(words) for words in overlap)
    failed = [i for i, words in enumerate(overlap) if len(words) == best]
    if not best or len(failed) != 1 or failed[0] == 0:
        return None
    return failed[0]


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
    if kept is None and len(actions) == 1 and english(request):
        # "check Block 7's latest Brix readings and the rainfall forecast for the next 3
        # days": one action on two things, of which the run did the first.
        kept = _without_last_object(actions[0], reason, answer, observed)
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
    sentences = [s for s in SENTENCE_BREAK_RE.split(request) if s.strip()]
    kept = _without_failed(sentences, reason, answer, observed)
    if kept is None:
        return None
    return " ".join(s if s[-1:] in ".!?" else s + "." for s in kept)


# The last of the things one action is on: "…, plus the return on 26 July", "… and the
# rainfall forecast". A determiner opens it; a bare noun or a count ("a car and 2 adults")
# more often lists parts of one thing.
_LAST_OBJECT_RE = re.compile(
    r",?\s+(?:and|plus|as\s+well\s+as)\s+(?=(?:the|a|an|any|some|our|their|its|my)\s)"
    r"(?!.*\s(?:and|plus)\s+(?:the|a|an|any|some|our|their|its|my)\s)",
    re.IGNORECASE,
)


def _without_last_object(action: str, reason: str, answer: str, observed: str) -> list[str] | None:
    """``action`` without its last object, when the reason names that one alone and the
    answer does not speak of it, or None. A request of one sentence only."""
    if SENTENCE_BREAK_RE.search(action):
        return None
    joint = _LAST_OBJECT_RE.search(action)
    if joint is None:
        return None
    parts = [action[: joint.start()], action[joint.end() :]]
    return _without_failed(parts, reason, answer, observed)


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
    later = [content_keys(action) & content_keys(reason) for action in actions[last:]]
    if later and all(later):
        last = len(actions)
    elif any(later):
        return None
    kept = actions[:dropped] + actions[last:]
    if any(_BACK_REFERENCE.search(action) for action in actions[last:]):
        return None
    # The reason also speaks of a kept action: it may have failed too. Not when it names the
    # kept action's words only inside what it says of the dropped one, and the answer
    # reports them from an observation ("did not say which lighthouse grew the most" after
    # the lighthouses' figures were given).
    dropped_words = set().union(*(overlap[i] for i in range(dropped, last)))
    incidental = _said_with(dropped_words, reason) & content_keys(answer) & content_keys(observed)
    if any(overlap[i] - incidental for i in range(len(actions)) if not dropped <= i < last):
        return None
    # "The agent booked the wrong day but never sent the invite": a kept action the reason
    # calls wrong was done, but not as asked.
    wrong = set().union(
        *(content_keys(c) for c in _REASON_CLAUSE_RE.split(reason) if _WRONG_RE.search(c))
    )
    if any(
        content_keys(actions[i]) & wrong for i in range(len(actions)) if not dropped <= i < last
    ):
        return None
    if all(_gets_somewhere(action) for action in kept):
        return None  # "Go through the PAY board backlog." asks for nothing
    dropped_only = set().union(*(content_keys(a) for a in actions[dropped:last])) - set().union(
        *(content_keys(a) for a in kept)
    )
    # The answer may name what the observations show ("the order held a blender", "the Sales
    # sheet"); any other word of the dropped action means it speaks of that action.
    if {word for word in dropped_only & content_keys(answer) if word not in content_keys(observed)}:
        return None
    # "A lavagem exterior não ficou incluída": even in the observations' words, an answer
    # saying the dropped part was not done speaks of it. (Two of its words: "Télésiège Rhodos :
    # ouvert, sans attente" names the piste only as a place.)
    if any(_denies(part, dropped_only) for part in _ANSWER_PART_RE.split(answer)):
        return None
    if _FAILURE_WORDS.search(answer) or _claims(actions[dropped:last], kept, answer):
        return None
    return kept


# The clauses of a reason: a negation's scope ends at one.
_REASON_CLAUSE_RE = re.compile(r"[,;.:!?]\s|\s(?:and|but|so|while)\s", re.IGNORECASE)


_WRONG_RE = re.compile(
    r"\b(?:wrong|incorrect\w*|mistaken\w*|instead\s+of|rather\s+than|not\s+the\s+right)\b",
    re.IGNORECASE,
)


def _said_with(words: set[str], reason: str) -> set[str]:
    """The keys the reason negates in the clauses whose negation takes in one of ``words``."""
    said: set[str] = set()
    for clause in _REASON_CLAUSE_RE.split(reason):
        negated = negated_keys(clause, subjects=True)
        if negated & words:
            said |= negated
    return said


_ANSWER_PART_RE = re.compile(r"(?<=[.!?;])\s+|\s+[—–]\s+|\n")
# A negation this close to the dropped part's words is said of it ("… exterior não ficou").
_DENIAL_SPAN = 3


def _denies(part: str, dropped: set[str]) -> bool:
    """``part`` of the answer names two words of the dropped action (or their inflections:
    "SMS-bekreftelsen … sendt" for "send … SMS-bekreftelse") and negates one."""
    words = part.lower().split()
    said = [_with_inflections(dropped, content_keys(word)) & content_keys(word) for word in words]
    named = [i for i, keys in enumerate(said) if keys]
    if len({key for keys in said for key in keys}) < 2:
        return False
    return any(
        abs(i - j) <= _DENIAL_SPAN
        for i in named
        for j, word in enumerate(words)
        if word in NEGATIONS
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
        forms.update(IRREGULAR_PAST.get(verb, "").split())
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
_QUOTE_RE = re.compile(r"[\"“”«»]|(?<!\w)'|'(?!\w)")
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
    if _QUOTE_RE.search(detail.group("items")):
        return None  # 'fails with "Cannot find module …"' quotes what happened: no detail asked
    named = content_keys(reason)
    items = [item for item in _ITEM_SPLIT_RE.split(detail.group("items")) if item.strip()]
    missing = [item for item in items if content_keys(item) & named]
    rest = request[: detail.start()] + request[detail.end() :]
    if not missing or content_keys(rest) & named or len(rest.split()) < 3:
        return None
    spoken = set().union(*(content_keys(item) for item in missing)) & content_keys(answer)
    if spoken - content_keys(observed):
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
