"""Words the rule relabeler's modules share: word lists, phrase matching, and the filler of any
request."""

from __future__ import annotations

import re

from agenther.words import is_cjk


def word_set(text: str) -> frozenset[str]:
    """The words of ``text``, for membership tests."""
    return frozenset(text.split())


def word_list(text: str) -> tuple[str, ...]:
    """Argument names in order of preference."""
    return tuple(text.split())


def join_parts(*parts: str) -> str:
    """The non-empty ``parts``, joined by spaces."""
    return " ".join(p for p in parts if p)


def contains_words(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` on word boundaries; a plain ``find`` loop, because a regex
    per phrase would be compiled afresh for every run. As ``agenther.words.tokens`` reads
    text, a Chinese, Japanese or Korean character is a word of its own: "2024" stands on its
    own in "查一下2024年"."""
    if not phrase:
        return False
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if _bounded(before, phrase[0]) and _bounded(after, phrase[-1]):
            return True
        start = text.find(phrase, start + 1)
    return False


def _bounded(neighbour: str, edge: str) -> bool:
    return not (neighbour.isalnum() or neighbour == "_") or is_cjk(neighbour) or is_cjk(edge)


# Words any request uses ("find", "list", "please"): they never say what a run was about.
REQUEST_WORDS = word_set(
    """
    find list show report search tell give get run write their them what you the and then
    output confirm when done matching results result for from with that this into about all
    please can could would find me your its are was were has have had will also each any
    which where who how out over per one both
    """
)


# The verbs a request's actions start with ("send the report", "book a table").
ACTION_VERBS = word_set(
    """
    add send book email e-mail create list tell give save include attach schedule invite reply
    forward post update delete remove set mark check notify share export download upload write
    summarize summarise compare sort filter put print show report calculate compute convert
    translate reserve order buy cancel open move copy rename run test deploy restart install
    commit push tag assign label confirm apply submit find get make draft return highlight flag
    note cc let rate review pick select choose archive close merge book change edit modify
    adjust increase reduce raise lower replace fix start stop pause resume restore enable
    disable turn request refund track verify fetch retrieve pull search plot chart draw
    generate build register subscribe unsubscribe pin follow accept decline approve reject
    remind configure rotate scale rollback revert backup attach kick trigger publish
    backfill migrate populate seed index clean dedupe refactor lint format drop
    regenerate rebuild rerun resend redo recompute recalculate reschedule rebook reassign
    rent hire lease collect arrange purchase pay transfer renew reorder restock
    resize crop compress trim zip unzip resample
    text message phone ring
    point aim slew steer tilt switch sign enrol enroll
    """
)
# Imperatives that cut no request into actions ("… and record it" may be a noun's), so the
# action verbs do not have them; a request that opens with one still asks for something.
OTHER_IMPERATIVES = word_set(
    """
    plan screen shortlist terminate record recommend suggest explain describe estimate analyse
    analyze identify outline prepare organise organize determine evaluate assess investigate
    diagnose debug resolve process import sync upgrade provision launch kill work
    """
)
# Actions that only get somewhere: a request left with nothing else asks for nothing.
PREPARATORY_VERBS = word_set("go open navigate visit log sign access browse look read load")
# The same in the other languages requests come in ("Entra en la web del Ayuntamiento", "Geh
# auf die Seite …"), kept apart so that they never cut an English request.
FOREIGN_PREPARATORY_VERBS = word_set(
    """
    entra entre ve vete abre abra accede acede aceda acesse inicia ingresa visita visite navega
    navegue va vai vá allez ouvre ouvrez accède accédez rends-toi rendez-vous connecte-toi
    connectez-vous geh gehe öffne öffnen besuche navigiere apri accedi naviga ga bezoek
    navigeer wejdź otwórz zaloguj przejdź odwiedź gå öppna logga besök otevři jdi přihlas aç git
    """
)
# The first words of a request that is a command ("Find …", "Look for …"), not a wish ("I need
# …") or a question.
COMMAND_VERBS = (
    ACTION_VERBS
    | PREPARATORY_VERBS
    | word_set("survey shortlist source screen recommend")
    # The same in the languages requests come in: "Schrijf Bo in …" names Bo, not "Schrijf Bo".
    | word_set(
        """
        schrijf zoek boek bestel stuur maak geef zet plan reserveer controleer verleng
        schreib such suche buch buche bestell bestelle schick schicke mach gib zeig plane setz
        leg prüf prüfe reservier reserviere
        trouve réserve envoie cherche inscris commande vérifie donne
        busca reserva compra envía inscribe comprueba revisa dame pide
        trova prenota cerca invia iscrivi ordina controlla dammi
        encontre reserve envie procure inscreva compre verifique
        boka hitta skicka beställ kolla bestill finn send sjekk book bestil find
        znajdź zarezerwuj wyślij sprawdź pokaż zamów zapisz
        """
    )
)


# "Elm Street has collected $3,120.00 so far in 2024": a period the run covered only in part.
# A request restated to that period asks for all of it, which the answer does not give.
PARTIAL_PERIOD_RE = re.compile(
    r"\b(?:so\s+far|to\s+date|(?:year|month|quarter)[-\s]to[-\s]date|ytd|mtd|qtd)\b",
    re.IGNORECASE,
)

# "(dziś jest czwartek, 21 maja)", "today is Thursday 21 May": the date a relative one ("last
# Tuesday") counts from. Swapping it for the date the run used moves "today", not the day asked
# about, and leaves the relative one asking for something else.
_TODAY_RE = re.compile(
    r"(?<!\w)(?:today|heute|aujourd['’]hui|hoy|oggi|hoje|vandaag|dziś|dzisiaj|idag|i\s+dag"
    r"|tänään|täna|dnes|bugün|сегодня)(?!\w)",
    re.IGNORECASE,
)
_CLAUSE_OPEN_RE = re.compile(r".*[.;!?(]", re.DOTALL)


def is_reference_date(text: str, start: int) -> bool:
    """The date at ``start`` of ``text`` is the one "today" is said to be."""
    before = text[:start]
    opening = _CLAUSE_OPEN_RE.match(before)
    return _TODAY_RE.search(before[opening.end() if opening else 0 :]) is not None


def _calendar(english_names: str, *names_by_language: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for names in names_by_language:
        for english_name, name in zip(english_names.split(), names.split(), strict=True):
            for form in name.split("/"):
                table[form] = english_name
    return table


# Months and weekdays of the languages requests come in, by their English names: a reason in
# English about a request in another language ("the comparison with April was never done"
# after "Depois compara com abril") names them in English.
CALENDAR = _calendar(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre "
    "lunes martes miércoles jueves viernes sábado domingo",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro "
    "segunda terça quarta quinta sexta sábado domingo",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre "
    "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "januar februar märz april mai juni juli august september oktober november dezember "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre lunedì martedì mercoledì giovedì venerdì sabato domenica",
    "januari februari maart april mei juni juli augustus september oktober november december "
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
    "styczeń/stycznia luty/lutego marzec/marca kwiecień/kwietnia maj/maja czerwiec/czerwca "
    "lipiec/lipca sierpień/sierpnia wrzesień/września październik/października "
    "listopad/listopada grudzień/grudnia poniedziałek wtorek środa/środę czwartek piątek "
    "sobota/sobotę niedziela/niedzielę",
    "januari februari mars april maj juni juli augusti september oktober november december "
    "måndag tisdag onsdag torsdag fredag lördag söndag",
)
