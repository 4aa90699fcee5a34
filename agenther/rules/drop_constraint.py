"""The ``drop_constraint`` strategy (constraint violations): the original request minus the
constraints the failure reason names.

In English the request then asks for the attributes those constraints were about ("...with
prices under $5" → "...and list the prices"). The other languages are
``agenther.rules.drop_foreign_constraint``'s; where a cut ends and what it leaves behind,
``agenther.rules.cut_repair``'s.
"""

from __future__ import annotations

import re

from agenther.constraints import Constraint
from agenther.demands import demanded_actions
from agenther.rules.cut_repair import (
    ASIDE_CLOSE,
    CLAUSE_BREAK_RE,
    SENTENCE_STOP_RE,
    aside_cut,
    condition_span,
    tidy,
    without_justification,
)
from agenther.rules.drop_foreign_constraint import drop_foreign_constraints
from agenther.rules.vocabulary import COMMAND_VERBS, word_set
from agenther.words import english

# What may stand between a constraint and the thing it constrains ("with prices under $5").
# Not "for": "suppliers for copper wire under $5/kg" and "an appointment for tomorrow after 3
# pm" limit the suppliers and the appointment, not the wire or the day.
_ATTRIBUTE_BEFORE_RE = re.compile(
    r"(?:^|(?<=[\s,;(]))(?P<conn>with|that|which|whose|where|having|and|costing|priced)\s+"
    # "papers for traffic where citations under 4,000": the attribute is "citations".
    # A place or a time after the attribute is the request's own ("for rent in Austin").
    r"(?P<attr>(?:(?!(?:with|that|which|whose|where|having|for|in|on|near|from|to|by|around)\s)"
    r"[\w'-]+\s+){0,3}?)"
    r"(?:(?:is|are|was|were|be|of|at)\s+)?(?:not\s+)?$",
    re.IGNORECASE,
)
_COMMAND_BEFORE_RE = re.compile(
    rf"(?:^|[.!?]\s+)(?:please\s+)?(?:{'|'.join(sorted(COMMAND_VERBS))})\s+(?:me\s+|us\s+)?$",
    re.IGNORECASE,
)
# The bound of a count and the space after it, when a word follows: "up to 10 " of "up to 10
# vendors" (not "at least 200 sets," nor a unit of measure, which have no object to keep).
_COUNTED_OBJECT_RE = re.compile(r"[^\d]*\d+\s+(?=[A-Za-z][\w'-]*$|[A-Za-z][\w'-]*\s)")
# A verb on the request itself, not an attribute of its object: "keep it", "make them".
_ACTION_ON_WHOLE_RE = re.compile(
    r"^(?:keep|make|leave|have|get|stay|be)\b|\b(?:it|them|this|that|these|those)$",
    re.IGNORECASE,
)
_EXCLUDED_BEFORE_RE = re.compile(
    r"(?:,?\s+and\s+|,\s*|\s+)(?:nobody|no\s+one|no-one|none|no\s+[\w-]+)"
    r"\s+(?:with|who\s+(?:has|have|had))\s+$",
    re.IGNORECASE,
)
_NONE_RE = re.compile(r"(?:no|any|none|not\s+a|not\s+one)\b", re.IGNORECASE)
_ARTICLE_RE = re.compile(r"^(?:the|a|an|its|their)\s+", re.IGNORECASE)
# A clause whose verb bounds the request itself ("Keep it", ", keeping the answer"), up to the
# constraint it introduces.
_WHOLE_BOUND_BEFORE_RE = re.compile(
    r"(?:(?<=^)|(?<=[.!?;:]\s)|,?\s+and\s+|,\s*|\s*[—–]\s*)"
    r"(?:(?:keep(?:ing)?|mak(?:e|ing)|limit(?:ing)?|hold(?:ing)?)"
    r"\s+(?:it|them|this|that|everything|(?:the|your|each|every)\s+[\w-]+(?:\s+[\w-]+)?)"
    r"(?:\s+to)?"
    # "Don't spend more than $60."
    r"|(?:(?:and\s+)?(?:don't|do\s+not|never)\s+(?:spend|pay|go|exceed))"
    # "They need to arrive before 1 May."
    r"|(?:(?<=^)|(?<=[.!?;:—–]\s))(?:they|it|this|these|everything|(?:the|our|my)\s+[\w-]+)"
    r"\s+(?:needs?|has|have|must|should)(?:\s+to)?\s+(?:arrive|ship|get\s+here"
    # "— it must weigh under 20 kg so the crew can rig it"
    r"|weigh|cost|last|measure|be(?:\s+(?:delivered|here|ready|done|finished|shipped))?)"
    # "…, and the total has to be under £7,000."
    r"|(?:(?<=^)|(?<=[.!?;:]\s)|,?\s*\band\s+|,\s*)(?:the|its|my|our|your|their)\s+[\w-]+"
    r"(?:\s+[\w-]+)?\s+(?:has|have|needs?|must|should)(?:\s+to)?\s+(?:be|stay|remain|come\s+in))"
    r"\s*$",
    re.IGNORECASE,
)
_RADIUS_OF_PLACE_RE = re.compile(
    r"(?:within|under|less\s+than|no\s+more\s+than|up\s+to)\s+\d[\d.,]*\s*"
    r"(?:miles?|mi|km|kilomet(?:re|er)s?)\s+(?:of|from)\s+"
    # "within 5 km of 10115 Berlin": a postcode opens the place.
    r"(?P<place>(?:\d{4,5}\s+)?[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)"
)
_PAID_RE = re.compile(
    r"\b(?:transactions?|payments?|invoices?|claims?|expenses?|charges?|refunds?|transfers?"
    r"|bills?|donations?|deposits?|withdrawals?|purchases?)\b",
    re.IGNORECASE,
)
_CLAUSE_WORDS = r"(?:(?!\band\b)[^,;.!?])*?"
_CONDITIONAL_ACTION_RE = re.compile(
    rf"(?:,\s*|\s+)and\s+{_CLAUSE_WORDS}\b(?:any|every|each|all)\s+{_CLAUSE_WORDS}"
    rf"\b(?:that|which|who|whose|where)\b{_CLAUSE_WORDS}$",
    re.IGNORECASE,
)
_NEGATION_BEFORE_RE = re.compile(r"(?:,\s*|\s+)(?:(?:but|and|or)\s+)?not\s+$", re.IGNORECASE)
_PREPOSITION_BEFORE_RE = re.compile(
    r"\s(?:until|till|in|by|before|after|within|to|for|of)\s+$", re.IGNORECASE
)
# What a whole bound counts in ("Keep the order total under €600 including delivery"): without
# the bound it qualifies nothing.
_BOUND_QUALIFIER_RE = re.compile(
    r",?\s*(?:including|incl\.|inclusive\s+of|excluding|exclusive\s+of|plus|all[- ]in"
    r"|in\s+total)\b[^.!?;,]*?(?=\s*(?:[.!?;,]|$))",
    re.IGNORECASE,
)
_PURPOSE_RE = re.compile(
    r"\s*(?:in\s+time\s+)?for\s+[^.!?;,]*?(?=\s*(?:[.!?;]|$))"
    # "Keep it under 160 characters so it goes as a single SMS, and …"
    r"|,?\s*so\s+(?:that\s+)?[^.!?;,]*?(?=\s*(?:[.!?;,]|$))",
    re.I,
)
_WITH = word_set("with having")
_AND_NEXT_RE = re.compile(r"\s+and\s+(?=(?:an?|some|free|no)\s)", re.I)
_AND_AFTER_RE = re.compile(r"\s+and\s+(?=[a-z])")
_JOINED_AFTER_RE = re.compile(r"(?:\s*[,:;]\s*|\s+)(?:and\s+)?(?=[a-z])")


def _opens_sentence(text: str, position: int) -> bool:
    before = text[:position].rstrip()
    return not before or before[-1] in ".!?:;"


_LISTS_THEM_RE = re.compile(r"\b(?:list|show)\s+(?:them|those|these)\s*$", re.IGNORECASE)


def drop_constraints(original: str, unmet: list[Constraint], answer: str = "") -> str | None:
    """``original`` without the ``unmet`` constraints, asking for what they were about instead;
    None if too little is left. A place a radius was around stays when ``answer`` names it."""
    if not english(original):
        return _complete(drop_foreign_constraints(original, unmet), original)
    text = original
    attributes: list[str] = []
    insert_at = len(original)
    cut_from = len(original)  # where a whole clause went: the constraints after it went too
    for constraint in sorted(unmet, key=lambda c: c.start, reverse=True):
        start, end = constraint.start, constraint.end
        if start >= cut_from:
            continue
        if condition := condition_span(text, start, end):
            cut_from, cut_end = condition
            text = text[:cut_from].rstrip() + " " + text[cut_end:].lstrip()
            continue
        # "…, and nobody with fewer than 2 seasons' experience on Black 2": who the limit
        # excludes goes with it, to the clause's end.
        if excluded := _EXCLUDED_BEFORE_RE.search(text, 0, start):
            after = CLAUSE_BREAK_RE.search(text, end)
            cut_from = excluded.start()
            text = text[:cut_from] + text[after.start() if after else len(text) :]
            continue
        # "within 20 miles of Crediton" answered "34.5 miles from Crediton": the answer
        # measures from the place, which stays; only the radius goes.
        if (near := _RADIUS_OF_PLACE_RE.match(text, start)) and re.search(
            rf"(?<!\w){re.escape(near.group('place'))}(?!\w)", answer
        ):
            text = f"{text[:start]}near {near.group('place')}{text[near.end() :]}"
            continue
        # "List up to 10 vendors at …": a count right after the command bounds its object,
        # which stays ("List vendors at …"); only the bound goes.
        if _COMMAND_BEFORE_RE.search(text, 0, start) and (
            counted := _COUNTED_OBJECT_RE.match(constraint.text)
        ):
            text = text[:start] + text[start + counted.end() :].lstrip()
            continue
        # "at least 16 GB of RAM", "within 2 km of me": what the amount measures goes with it.
        measured = _MEASURED_AFTER_RE.match(text, end)
        if measured:
            end = measured.end()
        if aside := aside_cut(text, start, end):
            text = aside
            continue
        bound_end = end
        end = without_justification(text, end)
        match = _ATTRIBUTE_BEFORE_RE.search(text[:start])
        if match and match.group("attr")[:1].isdigit():
            # "for 2025 under 6 kr/kg": a year or a count qualifies the request, it names no
            # attribute and stays.
            match = None
        attribute = ""
        if match:
            attribute = _ARTICLE_RE.sub("", match.group("attr").strip())
            if match.group("conn").lower() in _RELATIVE_PRONOUNS and attribute:
                attribute = _clause_attribute(attribute, constraint)
            if _NONE_RE.match(attribute):
                # "with no track over 5 minutes" excludes, it names nothing to list.
                attribute = ""
            if _ACTION_ON_WHOLE_RE.search(attribute):
                # "..., and keep it under 300 characters" bounds the whole request: the clause
                # goes, and there is nothing to list instead.
                attribute = ""
            start = match.start()
            if match.group("conn").lower() in _WITH and (joined := _AND_NEXT_RE.match(text, end)):
                # "a laptop with at least 16 GB of RAM and a 14-inch screen": the next
                # feature takes the "with", or the request would ask for a screen as well.
                start, end = match.end("conn"), joined.end()
        # "open until at least 10pm tonight": a preposition right before the bound is its own.
        if not match and (preposition := _PREPOSITION_BEFORE_RE.search(text[:start])):
            start = preposition.start()
        # "…, and flag any cow that gave less than 15 litres": an action on whichever items
        # meet the limit goes with it; without it the action is on nothing in particular.
        if conditional := _CONDITIONAL_ACTION_RE.search(text[: constraint.start]):
            start, match, attribute = conditional.start(), None, ""
        # "…, but not after 4pm": a negated bound goes with its "not" and its "but".
        if not match and (negation := _NEGATION_BEFORE_RE.search(text[:start])):
            start = negation.start()
        # "..., something under $60": the stand-in noun goes with its constraint.
        orphan = _ORPHAN_BEFORE_RE.search(text[:start])
        if orphan and not attribute:
            start = orphan.start()
        # "Keep it under 200 words and leave the code blocks as they are": a clause that only
        # bounds the whole request goes with its bound, and so does the "and" after it.
        whole = None if match else _WHOLE_BOUND_BEFORE_RE.search(text[:start])
        # "…, total runtime no more than 60 minutes.": the phrase names only what the limit
        # was on, and goes with it.
        absolute = None if match or whole else _ABSOLUTE_BEFORE_RE.search(text[:start])
        if (
            absolute
            and _ENDS_SENTENCE_RE.match(text, end)
            and not (word_set(absolute.group("words").lower()) & _PHRASE_OPENERS)
        ):
            start = absolute.start()
        if (
            whole
            and whole.group(0).lstrip()[:1] in ("—", "–")
            and not ASIDE_CLOSE["—"].match(text, bound_end)
            and not ASIDE_CLOSE["–"].match(text, bound_end)
        ):
            # "… on Thursday — it has to be before 9 am, the chiller's being serviced after
            # that.": the bound a dash opens runs to the sentence's end, as above.
            sentence_end = SENTENCE_STOP_RE.search(text, end)
            text = text[: whole.start()] + (text[sentence_end.start() :] if sentence_end else "")
            continue
        if whole:
            start = whole.start()
            if qualifier := _BOUND_QUALIFIER_RE.match(text, end):
                end = qualifier.end()
            elif _opens_sentence(text, start) and (purpose := _PURPOSE_RE.match(text, end)):
                end = purpose.end()  # "… before 1 May for the spring extraction."
            opens = _opens_sentence(text, start)
            joined = (_JOINED_AFTER_RE if opens else _AND_AFTER_RE).match(text, end)
            if joined:
                end = joined.end()
                if opens:
                    text = text[:end] + text[end : end + 1].upper() + text[end + 1 :]
        if not attribute and constraint.currency and not whole:
            # What was bought is priced; what was paid or charged has an amount.
            attribute = "amounts" if _PAID_RE.search(original) else "prices"
        if attribute:
            attributes.insert(0, attribute)
        text = text[:start].rstrip() + " " + text[end:].lstrip()
        insert_at = min(insert_at, start)
    text = tidy(text)
    if len(text.split()) < 2:
        return None
    # "...and add it to my cart and list the prices": an action asked for is answered by doing
    # it, so nothing is added to list.
    # "…, and tell me what it costs": a request that asks the price already is not also told
    # to list it.
    if _ASKS_COST_RE.search(text):
        attributes = [a for a in attributes if a not in ("prices", "amounts")]
    if attributes and not demanded_actions(text):
        unique = list(dict.fromkeys(attributes))
        # Clauses ("how long it takes") go after the nouns, which share one "the".
        nouns = [a for a in unique if not a.startswith("how ")]
        items = ([f"the {nouns[0]}"] if nouns else []) + nouns[1:]
        items += [a for a in unique if a.startswith("how ")]
        listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        end = _sentence_end(text, min(insert_at, len(text)))
        if _LISTS_THEM_RE.search(text, 0, end) and nouns:
            # "… prints sold in the last 12 months and list them with their hammer prices."
            theirs = [n if n.endswith("s") else n + "s" for n in nouns]
            theirs = [*theirs, *(a for a in unique if a.startswith("how "))]
            said = theirs[0] if len(theirs) == 1 else ", ".join(theirs[:-1]) + " and " + theirs[-1]
            text = f"{text[:end].rstrip()} with their {said}{text[end:]}"
        elif text.split(maxsplit=1)[0].lower() in COMMAND_VERBS:
            text = f"{text[:end].rstrip()} and list {listed}{text[end:]}"
        else:  # "I need suppliers for nitrile gloves and list …" joins a wish to a command
            stop = "?" if text[end : end + 1] == "?" else "."
            text = f"{text[:end].rstrip()}{stop} List {listed}.{text[end + 1 :]}"
    if any(_LENGTH_LIMIT_RE.search(c.text) for c in unmet):
        # "a short notice — 80 words max —": without its limit, "short" still asks for it.
        text = _SHORT_RE.sub("", text, count=1)
    if text[-1:] not in ".!?":
        text += "."
    if _QUESTION_RE.match(text) and "." not in text[:-1] and text.endswith("."):
        text = text[:-1] + "?"  # "Which flights go Madrid to Rome, only ones with …." asked
    return _complete(text, original)


_ENDS_SENTENCE_RE = re.compile(r"\s*(?:[.!?]|$)")
_ABSOLUTE_BEFORE_RE = re.compile(r",\s*(?P<words>(?:[\w'-]+\s+){0,2}[\w'-]+)\s*$")
# Words that open a phrase of the request's own, not the name of what a limit was on.
_PHRASE_OPENERS = word_set(
    "in at on from to for near by with into after before between during around and or but "
    "if only not please i we you it them me us my our"
)
_LENGTH_LIMIT_RE = re.compile(
    r"\b(?:words?|characters?|chars|pages?|lines?|sentences?|paragraphs?|points?|bullets?)\b",
    re.IGNORECASE,
)
_SHORT_RE = re.compile(r"\b(?:short|brief)\s+(?=[a-z])")


_QUESTION_RE = re.compile(
    r"(?:which|what|how|who|when|where|is|are|do|does|did|can|could)\b", re.IGNORECASE
)


# A sentence may not end on a word that needs what was cut: "…, but only if the price is."
_NEEDS_COMPLEMENT = frozenset(
    """
    is are was were be been being costs cost if than está están es son ist sind liegt liegen
    est sont è sono é são cuesta cuestan kostet coûte coûtent costa costano custa custam si
    wenn se als de di da du von van sein
    aan op af uit mee toe
    """.split()  # the last line: Dutch separable particles ("… en bied haar aan.")
)


# "…leave every code block exactly as it is." and "…, and tell me what it costs." need
# nothing more.
_AS_IT_IS_RE = re.compile(
    r"\b(?:as|what|how\s+much)\s+(?:it|they|this|that|each)\s+(?:is|are|was|were|costs?)[.!?]?$",
    re.I,
)


# A later sentence the cut left this short ("Precisa caber.", "It needs to seat.", "Er muss
# fassen.") only carried the bound: it goes whole.
_MAX_STUB_WORDS = 4
# A stop then a space ends a sentence, unless it closes a title ("Dr. Albers", "St. Pauli").
_SENTENCE_BREAK_RE = re.compile(r"(?<![\s(][A-Z][a-z]\.)(?<![\s(][A-Z][a-z]{2}\.)(?<=[.!?])\s+")


def _without_stubs(text: str, original: str) -> str:
    sentences = [s for s in _SENTENCE_BREAK_RE.split(text) if s]
    opening = {s.split(maxsplit=1)[0] for s in _SENTENCE_BREAK_RE.split(original) if s.strip()}
    # Only a sentence that still opens as it did lost its end; "Sin mencionar al patrocinador."
    # once "Máximo 80 palabras y" went is a whole requirement of its own.
    kept = sentences[:1] + [
        s
        for s in sentences[1:]
        if len(s.split()) > _MAX_STUB_WORDS
        or s in original
        # "Lieferung." once "spätestens am Freitag, 14. Juni" went opens as it did, stop aside.
        or s.split()[0].rstrip(".!?") not in opening
    ]
    return " ".join(kept)


def _complete(text: str | None, original: str) -> str | None:
    if text is None:
        return None
    text = _without_stubs(text, original)
    words = text.rstrip(".!?").split()
    if not words:
        return None
    if words[-1].lower() in _NEEDS_COMPLEMENT and not _AS_IT_IS_RE.search(text):
        return None
    return text


_ASKS_COST_RE = re.compile(
    r"\b(?:what\s+(?:it|they|that|this|each)\s+costs?|how\s+much|prices?|costs?|fees?|rates?)\b",
    re.IGNORECASE,
)
_RELATIVE_PRONOUNS = word_set("that which who")
_MODALS = word_set("can could will would should must may might")
_AUXILIARIES = word_set("have has had is are was were")
_VERB_FORM_RE = re.compile(r"\s*(?:been|being|\w+ing|\w+ed)\b", re.IGNORECASE)
# "within 500 m of Hotel Adlon", "within 5 km of Graz main station": a name goes whole, with
# the nouns after it when they close the clause.
_MEASURED_AFTER_RE = re.compile(
    # "at least 12 years old", "under 2 m tall": the dimension the amount is of.
    r"\s+(?:old|long|wide|tall|high|deep|thick|heavy)\b"
    r"|\s+(?i:of)\s+(?:(?i:the|my|your)\s+)?"
    r"(?:(?:\d{4,5}\s+)?[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*"
    r"(?:(?:\s+[a-z][\w'-]*){1,2}(?=\s*(?:[.,;!?]|$)))?"
    r"|[\w'-]+)"
)
_ORPHAN_BEFORE_RE = re.compile(r",?\s*\b(?:something|anything|one|ones)\s*$", re.IGNORECASE)
_TIME_UNIT_RE = re.compile(r"\b(?:sec|second|min|minute|hr|hour|day|week|month|year)s?\b", re.I)
_MASS_UNIT_RE = re.compile(r"\d\s*(?:kg|g|lbs?|pounds?|kilo(?:gram)?s?|grams?|tons?)\b", re.I)


def _clause_attribute(clause: str, constraint: Constraint) -> str:
    """What a relative clause before a constraint asks for, as a noun or a "how" clause: its
    verb opens it ("that takes", "which has a rating"), and a verb is no attribute."""
    verb, _, rest = clause.partition(" ")
    # "that can mobilise within 7 days", "that have been waiting more than 14 days": a verb
    # follows, nothing to list ("which has a rating" names one).
    if verb.lower() in _MODALS or (verb.lower() in _AUXILIARIES and _VERB_FORM_RE.match(rest)):
        return ""
    noun = _ARTICLE_RE.sub("", rest.strip())
    if noun:
        return noun
    # "takes" asks about one thing, "take" about several.
    pronoun = "it" if verb.lower().endswith("s") else "they"
    if _TIME_UNIT_RE.search(constraint.text):
        return f"how long {pronoun} {verb}"
    if constraint.currency or _MASS_UNIT_RE.search(constraint.text):
        return f"how much {pronoun} {verb}"
    return ""


_STOP_RE = re.compile(r"[.!?](?:\s|$)")


def _sentence_end(text: str, position: int) -> int:
    match = _STOP_RE.search(text, max(0, position - 1))
    return match.start() if match else len(text)
