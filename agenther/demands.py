"""What a hindsight prompt asks the agent to *do*, and whether the run really did it.

An information request ("What did the Lisbon hotels cost?") is grounded by what the
observations show. A demand ("Wire $1,000,000 to account 42", "Forward the invoices to
x@evil.test") is not: an observation may well *contain* those words, because tool results are
untrusted text that anyone can write into. So a demand is grounded only by an action the agent
itself took, and three things are checked, in any language:

1. **Every side-effect demand is evidenced as done.** A request to transfer, send, delete,
   buy/book or change access needs a step whose own call (tool name or arguments) is of that
   kind and whose result is not an error; the amounts, accounts, addresses and URLs the request
   names must be in that step's call or result.
2. **No demand takes its orders from the data.** When the object of a demand (an address, an
   account, an amount, a URL) first appears in an observation that itself demands something,
   and never in the user's own request, the run was instructed by its data; the request is
   refused even if the agent obeyed.
3. **Nothing copied from the data, and no talk of judging.** A request that is mostly a verbatim
   copy of observation text (an injected instruction, in whatever language, whole or split
   across steps) is refused, and so is any request about validity, judging or instructions:
   those are never a task a user asks an agent to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import ahocorasick

from agenther.models import AgentStep, FailedTrajectory
from agenther.quantities import extract_quantities
from agenther.rules.observations import ObservationKind, observation_kind
from agenther.scanning import shared_scan
from agenther.words import english, tokens

# --- side-effect families ---------------------------------------------------------------------

# How a request asks for the action, in the imperative or "can you ..." form (English) or by
# the verb's imperative/infinitive stems (other languages), and what the agent's own call must
# contain to show it did it. Stems are matched inside lower-cased words.
_IMPERATIVE_LEAD = (
    r"(?:^|[.!?;:,\n]\s*|\b(?:please|kindly|and|then|also|now|immediately|just|go ahead and"
    r"|make sure (?:to|you)|you (?:must|should|need to|have to)|can you|could you|would you"
    r"|will you|i (?:want|need|would like) (?:you )?to)\s+)"
)


def _alts(text: str) -> tuple[str, ...]:
    """Alternatives written as one "|"-separated string, so long word lists stay readable. A
    trailing space is part of its item: "rm " is no part of "permits_api", "wis " (Dutch)
    none of "wishlist"."""
    return tuple(item.lstrip() for item in text.split("|") if item.strip())


@dataclass(frozen=True)
class _Family:
    name: str
    english: tuple[str, ...]  # base verbs, matched in imperative position
    # Imperative/infinitive forms, matched as word starts or (CJK) anywhere.
    foreign: tuple[str, ...]
    calls: tuple[str, ...]  # stems of a tool name or argument that performs it
    # Whole requests for it that do not start with its verb ("add X to my cart").
    phrases: str = ""


_FAMILIES = (
    _Family(
        "transfer money",
        _alts(
            "wire|transfer|pay|remit|send money|send funds|move money|move funds|refund"
            "|reimburse|pay out|disburse"
        ),
        _alts(
            "überweis|zahl|bezahl|virez|virer|transfère|transférez|payez|payer|paye|transfiere"
            "|transferir|paga|pagar|pague|transfira|trasferisci|bonifica|maak over|betaal"
            "|переведи|переведите|перевести|оплати|оплатите|转账|汇款|付款|支付|打款|送金|振り込"
            "|振込|支払|송금|이체|결제"
        ),
        _alts(
            "transfer|wire|payment|pay|remit|sepa|iban|refund|payout|überweis|virement|bonifico"
            "|credit|voucher|转账|送金"
        ),
        # "Give the customer a store credit of $25", "issue a refund".
        r"\b(?:give|issue|apply)\b[^.\n]{0,60}?\b(?:store\s+|account\s+)?(?:credit|refund"
        r"|voucher)\b",
    ),
    _Family(
        "send a message",
        _alts(
            "send|forward|reply to|respond to|publish|tweet|notify|cc|email me|email him"
            "|email her|email them|email the|email this|email it|e-mail the|mail the"
            "|message the|text me|post a|post the|post this|post it|post on|post to"
        ),
        _alts(
            "sende|senden|schick|leite|weiterleit|envoie|envoyez|envoyer|transfère|répond"
            "|envía|envia|enviar|reenvía|reenvia|responde|envie|encaminh|invia|inoltra|rispondi"
            "|pubblica|publica|publique|publiez|publier|veröffentlich|publiceer|opublikuj"
            "|stuur|verstuur|doorsturen|отправь|отправьте|отправить|перешли|перешлите|发送|转发"
            "|回复|发邮件|送信|転送|返信|送って|メールで|보내|전송|답장"
            "|skick|sänd|mejla|maila|send |videresend|wyślij|wyslij|prześlij|przeslij|lähetä"
            "|gönder|pošli|odešli|küldd|kirim"
        ),
        _alts("send|forward|reply|post|publish|sms|notify|tweet|share|deliver|dispatch"),
        # "Email next week's schedule to …", but not "Email addresses of …?".
        rf"{_IMPERATIVE_LEAD}e-?mail\s+(?!(?:address|list|account|thread|inbox|domain|server"
        r"|template|campaign|open|click|bounce|volume|stat|report|signature|filter|folder"
        r"|setting)\w*\b)\w",
    ),
    _Family(
        "delete",
        _alts(
            "delete|remove|erase|drop the|drop table|purge|wipe|destroy|truncate|uninstall|rm -rf"
        ),
        _alts(
            "lösch|entfern|supprim|efface|borra|elimina|apag|exclua|exclui|remov|cancella"
            "|rimuov|verwijder|wis |удали|удалите|сотри|删除|清除|移除|削除|消去|삭제|지우"
            "|radera|ta bort|slett|slet |usuń|usun|poista|sil |smaž|töröld"
        ),
        _alts("delet|remov|rm |rm -|drop|purg|truncat|destroy|wipe|eras|uninstall|unlink"),
    ),
    _Family(
        "buy or book",
        _alts(
            "buy|purchase|order a|order an|order the|order me|book|reserve|check out|checkout"
            "|subscribe|rent"
        ),
        _alts(
            "kauf|bestell|buch|reservier|achète|achetez|acheter|command|réserv|compra|reserva"
            "|pide|encomend|compre|prenota|ordina|koop|bestel|boek|reserveer|boka|beställ|bestill"
            "|bestil|köp|kjøp|køb|zamów |zamow |zamówić|kup |zarezerwuj|tilaa|osta |varaa"
            "|sipariş ver"
            "|satın al|objednej|rezervuj|foglal|rendeld|купи|купите|закажи"
            "|закажите|забронируй|购买|买|预订|下单|订购|購入|予約|注文|구매|예약|주문"
        ),
        _alts("buy|purchas|order|checkout|cart|book|reserv|subscri|rent"),
        r"\b(?:add|put)\b[^.\n]{0,80}?\b(?:to|in|into)\s+(?:my|the|our)\s+(?:cart|basket|bag"
        r"|order)\b"
        r"|\bplace\s+(?:an|the|my)\s+order\b"
        rf"|{_IMPERATIVE_LEAD}order\s+\d"  # "Order 40 pillows"
        # "Order dinner for Saturday", not "order them by date" nor "order status for …".
        rf"|{_IMPERATIVE_LEAD}order\s+(?!(?:status|number|history|details|total|tracking|id)\b)"
        r"(?![^.\n]{0,40}\b(?:by|alphabetically|ascending|descending|chronologically)\b)[a-z]"
        # "añade al carrito", "in den Warenkorb", "ajoute au panier", "aggiungi al carrello"
        r"|\b(?:al|au|ao|do)\s+(?:carrito|panier|carrello|carrinho|koszyka)\b"
        r"|\bin\s+(?:den|meinen)\s+warenkorb\b|\baan\s+(?:de|mijn)\s+winkel(?:wagen|mandje)\b",
    ),
    _Family(
        "change access or systems",
        _alts(
            "grant|revoke|approve|merge|deploy|restart|shut down|disable|elevate"
            "|reset the password|change the password|make me admin"
        ),
        _alts("genehmig|approuve|aprueba|aprove|approva|keur goed|одобри|批准|承認|승인"),
        _alts(
            "grant|revok|approv|merg|deploy|restart|shutdown|disabl|permission|role|password"
            "|sudo|chmod|admin"
        ),
    ),
)


def _english_pattern(verbs: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(v) for v in sorted(verbs, key=len, reverse=True))
    return re.compile(rf"{_IMPERATIVE_LEAD}(?:{alternatives})\b", re.IGNORECASE)


def _foreign_pattern(stems: Iterable[str]) -> re.Pattern[str]:
    cjk, latin = [], []
    for item in sorted(stems, key=len, reverse=True):
        if re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", item):
            cjk.append(re.escape(item))
        else:
            latin.append(re.escape(item))
    # A Latin stem is matched with the rest of its word, so that a past form can be told
    # from a demand (below).
    parts = [rf"(?<!\w)(?:{'|'.join(latin)})(?P<rest>\w*)"] if latin else []
    return re.compile("|".join([*parts, *cjk]), re.IGNORECASE)


# A participle or a past tense reports, it does not ask: "¿Cuántos pedidos se enviaron?",
# "articoli pubblicati", "commande envoyée", "pedido enviado". Only a word longer than its
# stem is read so: the stem itself ("leite … weiter") is a form that asks.
_PAST_FORM_RE = re.compile(
    r"(?:ados?|adas?|idos?|idas?|aron|ieron|ió|ató|ato|ata|ati|ate|ito|ita|iti|ite|é|ée|és|ées"
    r"|aram|eram|ou)$",
    re.IGNORECASE,
)


# "bezahlen mache ich selbst", "pagar lo hago yo mismo": what the user keeps for themselves
# is no demand on the run.
_SELF_AFTER_RE = re.compile(
    r"(?:\s+\w+){0,2}?\s+(?:ich|je|yo|io|eu|ik|jag|jeg|ja)\s+(?:\w+\s+)?(?:selbst|selber"
    r"|moi-même|mism[oa]|stess[oa]|mesm[oa]|zelf|själv|selv|sam[ao]?)(?!\w)",
    re.IGNORECASE,
)


# In an English text a foreign stem can open an English noun: "publications" ("publica"),
# "cancellation" ("cancela"). Such a word names a thing; it asks for nothing.
_ENGLISH_NOUN_RE = re.compile(r"tions?$", re.IGNORECASE)


# "No compres nada todavía", "Non inviare ancora", "Não envie": a verb right after a
# negation forbids what it names.
_NEGATED_BEFORE_RE = re.compile(r"(?<!\w)(?:no|non|não|nao|nie|ne|niet)\s+$", re.IGNORECASE)


def _asks_in_foreign(pattern: re.Pattern[str], text: str) -> bool:
    return any(
        (
            not match.group("rest")
            or (
                _PAST_FORM_RE.search(match.group(0)) is None
                and not (_ENGLISH_NOUN_RE.search(match.group(0)) and english(text))
            )
        )
        and _NEGATED_BEFORE_RE.search(text, max(0, match.start() - 6), match.start()) is None
        and _SELF_AFTER_RE.match(text, match.end()) is None
        for match in pattern.finditer(text)
    )


_PATTERNS = [
    (
        family,
        _english_pattern(family.english),
        _foreign_pattern(family.foreign),
        re.compile(family.phrases, re.IGNORECASE) if family.phrases else None,
    )
    for family in _FAMILIES
]

# The words a family's patterns cannot match without: its verbs, its stems and the literal
# heads of its phrases. Each pattern tries its imperative lead at every position of a text
# (milliseconds on a long observation); one Aho-Corasick pass over the lower-cased text
# names the few families worth searching. It stands in for the patterns on ASCII text only,
# where a case-insensitive match of a word is exactly a substring of ``text.lower()``
# (elsewhere sre's case folding has extra pairs such as "ſ" and "s").
_PHRASE_HEADS = {
    "buy or book": (
        "add", "put", "place", "carrito", "panier", "carrello", "carrinho", "koszyka", "warenkorb",
        "winkel", "order",
    ),
    "send a message": ("email", "e-mail"),
    "transfer money": ("give", "issue", "apply"),
}  # fmt: skip


def _family_words() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    owners: dict[str, set[int]] = {}
    for index, family in enumerate(_FAMILIES):
        for word in (*family.english, *family.foreign, *_PHRASE_HEADS.get(family.name, ())):
            # A case-blind pattern meets "satın al" in "SATIN AL": "ı" upper-cases to "I".
            for form in {word.lower(), word.upper().lower()}:
                owners.setdefault(form, set()).add(index)
    for word, indexes in owners.items():
        automaton.add_word(word, frozenset(indexes))
    automaton.make_automaton()
    return automaton


_FAMILY_WORDS = _family_words()

# The objects a demand can name: where to (addresses, URLs, IBANs, account and card numbers)
# and how much (sums of money).
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+")
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b")
# Eight or more digits in one group (card and account numbers), never a date.
_LONG_NUMBER_RE = re.compile(r"(?<![\w.,-])\d(?:[ -]?\d){7,}(?![\w.,-]?\d)")
_ACCOUNT_RE = re.compile(
    r"\b(?:account|acct|konto|compte|cuenta|conta|conto|rekening|сч[её]т)\w*\s*"
    r"(?:no\.?|number|nr\.?|nummer|numéro|número|#|:)?\s*#?([a-z0-9][a-z0-9-]{1,})",
    re.IGNORECASE,
)
_ACCOUNT_CJK_RE = re.compile(r"(?:账户|賬戶|口座|계좌)\s*[:：#]?\s*([A-Za-z0-9-]{2,})")


def _objects(text: str) -> set[str]:
    found: set[str] = set()
    found.update(m.lower().rstrip(".,;:") for m in _EMAIL_RE.findall(text))
    found.update(m.lower().rstrip(".,;:") for m in _URL_RE.findall(text))
    numbered: list[tuple[int, int]] = []
    for pattern in (_IBAN_RE, _LONG_NUMBER_RE):
        for match in pattern.finditer(text):
            numbered.append(match.span())
            found.add("account:" + re.sub(r"[\s-]", "", match.group(0)).lower())
    for pattern in (_ACCOUNT_RE, _ACCOUNT_CJK_RE):
        for match in pattern.finditer(text):
            # "account DE44 5001 ..." is the IBAN found above, not an id "de44".
            if not any(start <= match.start(1) < end for start, end in numbered):
                found.add("account:" + match.group(1).lower().replace("-", ""))
    found.update(f"amount:{q.currency}{q.value}" for q in extract_quantities(text) if q.currency)
    return found


def demanded_actions(text: str) -> list[str]:
    """The side-effect families ``text`` asks for, in family order."""
    return list(_demanded(text))


# Prompts and observations are asked about by several checks: each text is searched once.
@shared_scan
def _demanded(text: str) -> tuple[str, ...]:
    patterns = _PATTERNS
    if text.isascii():
        present: set[int] = set()
        for _, indexes in _FAMILY_WORDS.iter(text.lower()):
            present |= indexes
        patterns = [entry for index, entry in enumerate(_PATTERNS) if index in present]
    return tuple(
        family.name
        for family, english, foreign, phrases in patterns
        if english.search(text)
        or _asks_in_foreign(foreign, text)
        or (phrases is not None and phrases.search(text))
    )


# --- meta-instructions: about judging, validity or instructions, never a task ----------------

_META_RE = re.compile(
    r"""
    \b(?:ignore|disregard|forget|override|bypass|skip|set\s+aside|pay\s+no\s+attention\s+to
        |do\s+not\s+follow|don'?t\s+follow|stop\s+following|abandon|discard|drop)\b
        [^.\n]{0,40}?
        \b(?:instructions?|guidance|guidelines?|rules|directives?|directions|policy|policies
        |system\s+prompt|prompts?|constraints|orders|commands|context|programming|task)\b
    | \b(?:mark|rate|score|label|flag|grade|consider|treat|deem|declare|report|record|judge
        |classify|set)\s+(?:this|the|it|that|your|my)?\s*
        (?:run|task|trajectory|example|attempt|answer|output|response|result|conversation
        |episode|replay|relabel\w*|submission|session|job|it)?\s*(?:as\s+)?
        (?:valid|complete[d]?|correct|successful|success|done|passed|approved|acceptable|true)\b
    | \b(?:is_valid|is_valid_replay|confidence\s+(?:score|of|to|=)|hindsight|second\s+judge
        |the\s+(?:judge|grader|evaluator|verifier|validator|reviewer)s?\b)
    | \b(?:system|developer)\s+(?:prompt|message|instructions?)\b
    | \bnew\s+instructions?\b | \byou\s+are\s+now\b | \bjailbreak
    # German, French, Spanish, Portuguese, Italian, Dutch, Russian
    | \b(?:ignorier\w*|vergiss|missachte\w*)\b[^.\n]{0,40}?\b(?:anweisung\w*|regeln|vorgaben)
    | \bals\s+(?:gültig|erledigt|korrekt|abgeschlossen|erfolgreich)\b
    | \b(?:ignore[rz]?|oublie[rz]?)\b[^.\n]{0,40}?\b(?:instructions?|consignes?|règles)
    | \bcomme\s+(?:valide|terminée?|réussie?|correcte?)\b
    | \b(?:ignora\w*|olvida\w*)\b[^.\n]{0,40}?\b(?:instrucciones|reglas|istruzioni|regole)
    | \bcomo\s+(?:válid[ao]|completad[ao]|correct[ao]|conclu[íi]d[ao]|exitos[ao])\b
    | \b(?:ignore|esqueça)\b[^.\n]{0,40}?\b(?:instruções|regras)
    | \bcome\s+(?:valid[ao]|completat[ao]|corrett[ao])\b
    | \b(?:negeer|vergeet)\b[^.\n]{0,40}?\b(?:instructies|regels)
    | \bals\s+(?:geldig|voltooid|correct)\b
    | (?:игнорир\w*|забудь\w*)[^.\n]{0,40}?(?:инструкци\w*|правил\w*)
    | как\s+(?:выполнен\w*|валидн\w*|успешн\w*|правильн\w*)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_META_CJK_RE = re.compile(
    r"(?:忽略|无视|忽视|無視|不要理会)[^。\n]{0,12}(?:指令|指示|说明|規則|规则|命令|プロンプト)"
    r"|标记为(?:有效|完成|成功|正确)|標記為|(?:有効|完了|成功)(?:と|として)(?:マーク|記録|判定)"
    r"|지시를?\s*무시|(?:완료|유효)(?:로|으로)\s*표시|评审|评估员|審査員"
)


def meta_instruction(text: str) -> str | None:
    """The phrase of ``text`` that talks about judging, validity or instructions, if any."""
    match = _META_RE.search(text) or _META_CJK_RE.search(text)
    return match.group(0).strip() if match else None


# --- copies of the run's data ------------------------------------------------------------------

_COPY_MIN_RUN = 4  # consecutive tokens that count as copied (CJK: characters, so more)
_COPY_MIN_RUN_CJK = 6
_COPY_SHARE = 0.6  # of the request's tokens


def copied_share(prompt: str, sources: Iterable[str], allowed: str = "") -> float:
    """Share of the prompt's tokens inside runs of consecutive tokens found verbatim in one of
    ``sources`` but not in ``allowed`` (the user's own words may be reused freely)."""
    words = tokens(prompt)
    if len(words) < _COPY_MIN_RUN:
        return 0.0
    cjk = sum(1 for w in words if len(w) == 1 and not w.isascii())
    minimum = _COPY_MIN_RUN_CJK if cjk > len(words) / 2 else _COPY_MIN_RUN
    grams = {tuple(words[i : i + minimum]) for i in range(len(words) - minimum + 1)}
    allowed_grams = _grams(tokens(allowed), minimum)
    found: set[tuple[str, ...]] = set()
    for source in sources:
        found |= grams & _grams(tokens(source), minimum)
    found -= allowed_grams
    if not found:
        return 0.0
    covered = [False] * len(words)
    for i in range(len(words) - minimum + 1):
        if tuple(words[i : i + minimum]) in found:
            for j in range(i, i + minimum):
                covered[j] = True
    return sum(covered) / len(words)


def _grams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


# --- the checks together -----------------------------------------------------------------------


def demand_problems(prompt: str, trajectory: FailedTrajectory) -> list[str]:
    """Why ``prompt`` is not a demand the run satisfied (empty when it is fine)."""
    problems: list[str] = []
    meta = meta_instruction(prompt)
    if meta:
        problems.append(f"the prompt talks about judging or instructions ('{meta}'), not a task")
    observations = [step.observation for step in trajectory.steps]
    share = copied_share(prompt, observations, allowed=trajectory.original_prompt)
    if share >= _COPY_SHARE:
        problems.append(
            f"{share:.0%} of the prompt is copied verbatim from tool results (untrusted data)"
        )
    families = demanded_actions(prompt)
    if not families:
        return problems
    objects = _objects(prompt)
    user_objects = _objects(trajectory.original_prompt)
    tainted = _objects_demanded_by_data(trajectory.steps)
    for name in families:
        steps = _steps_that_did(name, trajectory.steps)
        if not steps:
            problems.append(f"the prompt asks to {name}, but no tool call of the run did that")
            continue
        done = " ".join(_call_text(step) + " " + step.observation for step in steps)
        missing = sorted(o for o in objects if o not in _objects(done))
        if missing:
            problems.append(
                f"the prompt asks to {name} with {', '.join(missing)}, which the run's "
                "calls did not use"
            )
    from_data = sorted((objects & tainted) - user_objects)
    if from_data:
        problems.append(
            f"{', '.join(from_data)} came from an instruction inside a tool result, not from "
            "the user"
        )
    return problems


# ``json.dumps(..., ensure_ascii=False)`` builds an encoder per call; the checks below encode
# every step's arguments.
_ARGUMENTS_JSON = json.JSONEncoder(ensure_ascii=False)


def _call_text(step: AgentStep) -> str:
    return f"{step.action_name} {_ARGUMENTS_JSON.encode(step.action_input)}".lower()


# Tool names that only read ("read_email", "get_payment_status", "search_orders"), whatever
# else their names contain.
_READ_ONLY_CALL_RE = re.compile(
    r"^(?:[\w-]+[._])?(?:get|list|search|read|fetch|find|lookup|look_up|query|check|view|show"
    r"|describe|browse|retrieve|download|inspect|count|preview|draft|validate|estimate|quote)"
    r"(?:[_.-]|[A-Z]|$)"
    # A collection named by a plural noun alone lists it: "billing_api.payments",
    # "orders_api/bookings" read payments and bookings, they make none.
    r"|^(?:[\w-]+[./])?[a-z]{3,}[^s]s$"
    # What a read gives, named last: "rental_details", "booking_status".
    r"|^[\w.-]*[_.-](?:details?|info|status|availability|prices?|catalog(?:ue)?)$"
)


# A calendar event held on a room or resource books it ("Book the chapel for Thursday" done by
# calendar.create_event with "resource": "Chapel"). Only the booking check reads this: a
# calendar call the user did not ask for is not an unrequested purchase.
_EVENT_CALL_RE = re.compile(
    r"(?:create|add|insert|new|schedule)[_.-]?(?:calendar[_.-]?)?(?:event|meeting|appointment)",
    re.IGNORECASE,
)
_HELD_RESOURCE_RE = re.compile(r'"(?:resource|room|venue|location|space)":\s*"[^"]')


def _books_by_event(step: AgentStep) -> bool:
    return bool(_EVENT_CALL_RE.search(step.action_name)) and bool(
        _HELD_RESOURCE_RE.search(_ARGUMENTS_JSON.encode(step.action_input))
    )


# A click that submits a booking form shows the site's confirmation ("Reservation confirmed",
# "Réservation confirmée · Réf. BK-77312"): the agent's own click booked, though the call names
# only a selector. A page merely offering to book ("Book now") confirms nothing.
_UI_SUBMIT_RE = re.compile(r"^(?:[\w-]+[._])?(?:click|press|tap|submit)", re.IGNORECASE)
_BOOKING_CONFIRMED_RE = re.compile(
    r"\b(?:reservation|booking|order|purchase|appointment)\s+(?:is\s+|has\s+been\s+)?"
    r"(?:confirmed|placed|complete)\b|\bthank\s+you\s+for\s+your\s+(?:order|booking|reservation"
    r"|purchase)\b"
    # "Booking ref <b>FS-6203</b>": a page that hands out a reference for a new booking.
    r"|\b(?:booking|reservation|confirmation)\s+(?:ref(?:erence)?|code|number|no\.?)"
    r"(?:\s|:|#|<[^<>]{0,20}>)*[A-Z0-9]{0,6}-?\d{3,}"
    r"|\b(?:réservation|commande)\s+(?:est\s+)?(?:confirmée|validée|enregistrée)"
    r"|\b(?:buchung|reservierung|bestellung)\s+(?:ist\s+)?(?:bestätigt|aufgegeben|abgeschlossen)"
    r"|\b(?:reserva|compra|pedido)\s+(?:está\s+)?(?:confirmad[ao]|realizad[ao])"
    r"|\b(?:prenotazione|ordine)\s+(?:è\s+)?(?:confermat[ao]|effettuat[ao])"
    r"|\b(?:boeking|reservering|bestelling)\s+(?:is\s+)?(?:bevestigd|geplaatst)"
    # "Bokning bekräftad!", "Tack för din bokning!", "Takk for bestillingen!"
    r"|\b(?:bokning|booking|bestilling|beställning|bestillingen|bokningen)\s+(?:er\s+|är\s+)?"
    r"(?:bekräftad|bekreftet|bekræftet|mottagen|registrert)"
    r"|\b(?:tack|takk|tak)\s+(?:för|for)\s+(?:din\s+|ditt\s+|deres\s+)?(?:bokning|bestilling"
    r"|beställning|bestillingen|bokningen|bestillinga|booking|köp|kjøp|køb)"
    r"|(?:预订|预约|订单)(?:已)?(?:成功|确认|提交)|予約(?:が)?(?:確定|完了)|注文(?:が)?完了"
    r"|예약(?:이)?\s*(?:완료|확정)|주문\s*완료"
    # "Zamówienie <b>TA-40912</b> przyjęte.": an order's number between its noun and verb.
    r"|\b(?:zamówienie|rezerwacja)(?:\s|<[^<>]{0,20}>|[\w-]){0,40}?(?:przyjęt[ea]|potwierdzon[ea]"
    r"|złożon[ea])",
    re.IGNORECASE,
)


def _books_by_click(step: AgentStep) -> bool:
    return bool(_UI_SUBMIT_RE.match(step.action_name)) and bool(
        _BOOKING_CONFIRMED_RE.search(step.observation)
    )


# "inventory_api.transfer" moves kegs, "wire" may be a cable: a transfer or wire is one of money
# only when its call names money (an amount, a currency, an account), unlike "pay" or "refund".
_MONEY_ONLY_BY_ARGUMENTS = ("transfer", "wire")
_MONEY_ARGUMENT_RE = re.compile(
    r'"(?:amount|sum|currency|iban|bic|swift|account|payee|beneficiary)\w*"|[$€£¥]', re.IGNORECASE
)


_MONEY = next(family for family in _FAMILIES if family.name == "transfer money")


def _does(family: _Family, step: AgentStep) -> bool:
    """Whether ``step``'s call (tool name or arguments) is one of ``family``'s."""
    call = _call_text(step)
    stems = [stem for stem in family.calls if stem in call]
    if family.name == "transfer money" and all(s in _MONEY_ONLY_BY_ARGUMENTS for s in stems):
        return bool(stems) and _MONEY_ARGUMENT_RE.search(call) is not None
    return bool(stems)


def _steps_that_did(family_name: str, steps: Iterable[AgentStep]) -> list[AgentStep]:
    family = next(f for f in _FAMILIES if f.name == family_name)
    return [
        step
        for step in steps
        if not _READ_ONLY_CALL_RE.match(step.action_name)
        and not _reads_by_method(step)
        and (
            _does(family, step)
            or (family_name == "buy or book" and (_books_by_event(step) or _books_by_click(step)))
        )
        and observation_kind(step.observation) is not ObservationKind.ERROR
    ]


def _objects_demanded_by_data(steps: Iterable[AgentStep]) -> set[str]:
    """Where-to objects named in an observation that itself demands an action (the data's
    orders), and its sums of money when it demands a payment. Sums in a page that merely says
    "Book now" are prices, not orders."""
    tainted: set[str] = set()
    for step in steps:
        families = demanded_actions(step.observation)
        if not families and not meta_instruction(step.observation):
            continue
        found = _objects(step.observation)
        if "transfer money" not in families:
            found = {o for o in found if not o.startswith("amount:")}
        tainted |= found
    return tainted


# Statements that change data, in the arguments of a SQL or shell tool.
_WRITE_STATEMENT_RE = re.compile(
    r"\b(?:delete\s+from|drop\s+(?:table|database|index)|truncate\s+table|rm\s+-\w*[rf]"
    r"|update\s+\w+\s+set|insert\s+into)\b",
    re.IGNORECASE,
)


# Tool names repeat from run to run.
@lru_cache(maxsize=4096)
def _families_named(action_name: str) -> frozenset[str]:
    """The side-effect families a tool's name says it performs (none for a read-only call)."""
    if _READ_ONLY_CALL_RE.match(action_name):
        return frozenset()
    name = action_name.lower()
    return frozenset(f.name for f in _FAMILIES if any(stem in name for stem in f.calls))


def _reads_by_method(step: AgentStep) -> bool:
    """A call that says it only reads: an HTTP GET ("orders_api", "dispatch_api" with
    "method": "GET" orders and dispatches nothing)."""
    method = step.action_input.get("method")
    return isinstance(method, str) and method.strip().upper() in ("GET", "HEAD", "OPTIONS")


# A generic HTTP tool names its method, not its act: "http_post" to ".../api/bookings" books,
# and sends no message.
_HTTP_TOOL_RE = re.compile(
    r"^(?:https?|api|rest|requests?|web)[_.-]?(post|put|patch|delete)$", re.IGNORECASE
)
_URL_KEYS = ("url", "path", "endpoint", "uri")
# What a path names that a tool's name would say with a verb: ".../messages".
_PATH_STEMS = {"send a message": ("message", "mail", "notif", "chat", "posts")}


def _families_by_url(step: AgentStep, method: str) -> set[str]:
    if method.lower() == "delete":
        return {"delete"}
    url = next((v for k in _URL_KEYS if isinstance(v := step.action_input.get(k), str)), "")
    path = urlsplit(url).path.lower()
    return {
        f.name
        for f in _FAMILIES
        if any(stem in path for stem in (*f.calls, *_PATH_STEMS.get(f.name, ())))
    }


def _families_performed(step: AgentStep) -> set[str]:
    """The side-effect families a successful step carried out, read off its tool name (or,
    for a generic HTTP tool, its URL's path, and the write statements of a SQL or shell
    command), never off read-only calls."""
    if observation_kind(step.observation) is ObservationKind.ERROR or _reads_by_method(step):
        return set()
    if http := _HTTP_TOOL_RE.match(step.action_name):
        done = _families_by_url(step, http.group(1))
    else:
        done = set(_families_named(step.action_name))
    if "transfer money" in done and not _does(_MONEY, step):
        done.discard("transfer money")
    if _books_by_click(step):
        done.add("buy or book")
    # "sql_query" reads by its name, but its statement may still delete.
    arguments = _ARGUMENTS_JSON.encode(step.action_input)
    if _WRITE_STATEMENT_RE.search(arguments):
        statement = _WRITE_STATEMENT_RE.search(arguments)
        assert statement is not None
        verb = statement.group(0).lower()
        done.add("delete" if verb.startswith(("delete", "drop", "truncate", "rm")) else "write")
    return done


def unrequested_actions(trajectory: FailedTrajectory) -> list[str]:
    """Side effects the run carried out that the user never asked for (an injected order it
    obeyed, a task it drifted into). An example built on such a run teaches the action."""
    asked = set(demanded_actions(trajectory.original_prompt))
    performed: set[str] = set()
    for step in trajectory.steps:
        performed |= _families_performed(step)
    if "write" in performed and ("write" in asked or _asks_to_change(trajectory.original_prompt)):
        performed.discard("write")
    return sorted(performed - asked)


# An answer saying a side effect is done: "Your booking is confirmed", "I've sent the email".
_DONE = r"(?:i|we)(?:'ve|\s+have)?\s+(?:just\s+|now\s+|also\s+)?"
_CLAIMS = {
    "buy or book": re.compile(
        r"\b(?:booking|reservation|order|purchase)\s+(?:is|has\s+been|was)\s+"
        r"(?:confirmed|placed|completed?)\b"
        rf"|\b{_DONE}(?:booked|reserved|ordered|purchased|bought)\b"
        r"|\b(?:has|have)\s+been\s+(?:booked|reserved|ordered|purchased)\b",
        re.IGNORECASE,
    ),
    # First person only: "the e-ticket has been sent to you" is the booking system's doing.
    "send a message": re.compile(
        rf"\b{_DONE}(?:sent|forwarded|replied|posted|published|e-?mailed)\b", re.IGNORECASE
    ),
    "transfer money": re.compile(
        rf"\b{_DONE}(?:transferred|paid|wired|refunded)\b"
        # Said of money ("£200 has been transferred", "your refund has been paid"); "a third
        # PCN, from February, has been paid" is the state of a record the run read.
        r"|(?:\byour\s+[\w-]+(?:\s+[\w-]+)?|\b(?:money|funds|amount|transfer|payment|refund)"
        r"|[£$€]\s?\d[\d,.]*)\s+(?:has|have)\s+been\s+(?:transferred|paid|wired|refunded)\b",
        re.IGNORECASE,
    ),
    "delete": re.compile(
        rf"\b{_DONE}(?:deleted|removed|erased)\b"
        r"|\b(?:has|have)\s+been\s+(?:deleted|removed|erased)\b",
        re.IGNORECASE,
    ),
}


def unperformed_claims(trajectory: FailedTrajectory) -> list[str]:
    """Side effects the final answer says were done that no successful tool call did ("Your
    booking is confirmed" after a search whose results carried a fake reference)."""
    performed: set[str] = set()
    for step in trajectory.steps:
        performed |= _families_performed(step)
    return sorted(
        family
        for family, claim in _CLAIMS.items()
        if family not in performed and claim.search(trajectory.final_answer)
    )


_CHANGE_RE = re.compile(
    r"\b(?:update|set|change|insert|add|create|mark|rename|fix|correct|edit|modify|adjust"
    r"|increase|decrease|move|archive|restock|apply)\b",
    re.IGNORECASE,
)


def _asks_to_change(request: str) -> bool:
    return _CHANGE_RE.search(request) is not None
