"""Stage 1's keyword lexicons: the phrases that signal each failure type in the agent's own
text, destructive tool use and comparators, and the one scan that finds them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from agenther.models import FailureType

# Every phrase counts once per occurrence; patterns run over lower-cased agent text.
_LEXICONS: dict[FailureType, tuple[str, ...]] = {
    FailureType.TOOL_ERROR: (
        r"errors?",
        r"exceptions?",
        r"traceback",
        r"time[ds]?\s*out",
        r"timeouts?",
        r"unavailable",
        r"unable\s+to\s+(?:reach|connect|access)",
        r"connection\s+(?:refused|reset|failed|error)",
        r"[45]\d\d\s+(?:service|bad|internal|not|forbidden|unauthori[sz]ed|too)",
        r"rate[-\s]limit(?:ed)?",
        r"permission\s+denied",
        r"api\s+(?:issues?|is\s+down|failure)",
        r"(?:is|was|went)\s+down",
        r"crash(?:ed|es)?",
        r"tool\s+(?:call\s+)?fail(?:ed|ure|s)",
        r"search\s+failed",
    ),
    FailureType.CONSTRAINT_VIOLATION: (
        r"constraints?",
        r"criteria",
        r"requirements?",
        r"as\s+requested",
        r"limit\s+(?:was|is)",
        r"(?:excluded|forbade|forbidden|prohibited|disallowed)",
        r"not\s+allowed",
        r"ignored\s+the",
        r"outside\s+the\s+(?:requested|allowed|required|given)",
        r"(?:above|below|over|under)\s+the\s+(?:required|allowed|requested|maximum|minimum)",
        r"(?:longer|shorter|later|earlier|older|heavier|more\s+expensive|costlier)\s+than",
        r"predates?",
        r"no\s+(?:\w+\s+){0,2}(?:meets|met|satisfies|matches)\s+(?:both|all|the|any|every)",
        r"(?:does\s+not|doesn't|did\s+not|didn't|do\s+not|don't|not)\s+(?:meet|satisfy|comply)",
        r"(?:not\s+)?meeting\s+(?:both|all|the|any)",
        r"exceed(?:s|ed|ing)?",
        r"over\s+(?:the\s+)?(?:budget|limit)",
        r"violat(?:es|ed|ion|ing)",
        r"wrong\s+(?:file\s+)?format",
        r"(?:above|below|under|over)\s+(?:the|our|your)\s+(?:limit|budget|maximum|minimum)",
        r"budget",
        r"(?:was|were)\s+(?:ignored|disregarded|skipped)",
        r"despite\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+){0,2}(?:requirement|request|constraint|limit|"
        r"deadline|rule|ban|restriction|instruction)",
        r"although\s+(?:the\s+)?user\s+(?:asked|wanted|requested|specified)",
        r"deadlines?",
        r"required",
        r"(?:filter|condition|restriction)s?\s+(?:was\s+|were\s+)?(?:not\s+applied|omitted|"
        r"missing|ignored|dropped)",
        r"omit(?:s|ted)?\s+the\s+(?:[\w-]+\s+){0,2}(?:filter|condition|required|requirement)",
        r"not\s+(?:applied|excluded|respected|honou?red|enforced)",
    ),
    FailureType.WRONG_RESULT: (
        r"incorrect(?:ly)?",
        r"wrong\s+(?:answer|result|value|number|output|total|calculation)",
        r"mismatch(?:es|ed)?",
        r"(?:does\s+not|doesn't|did\s+not)\s+match",
        r"inaccura(?:te|cy)",
        r"miscalculat\w*",
        r"expected\s+\S+(?:\s+\S+)?\s+(?:but\s+)?got",
        r"off\s+by",
        r"not\s+(?:the\s+)?correct",
        r"contradict\w*",
        r"correct\s+(?:answer|total|value|figure|amount|result|number)\s+(?:is|was|would\s+be)",
        r"meaningless",
        r"misread",
        r"should\s+(?:be|have\s+been)",
        r"not\s+the\s+(?:median|mean|average|sum|total|maximum|minimum|latest|last|first|"
        r"cheapest|largest|highest|lowest|most)",
        r"(?:is|was)\s+(?:only\s+)?the\s+(?:first|original|previous|sunrise|author)",
    ),
    FailureType.INCOMPLETE: (
        r"incomplete",
        r"partial(?:ly)?",
        r"only\s+(?:found|managed|completed|got|processed|returned)",
        r"(?:not|never)\s+(?:finished|completed)",
        r"did\s+not\s+(?:finish|complete)",
        r"ran\s+out\s+of",
        r"(?:max(?:imum)?|step)\s+(?:steps?|limit|iterations?)",
        r"gave\s+up",
        r"missing",
        r"remaining",
        r"not\s+all",
        r"truncated",
        r"stopped\s+(?:early|before|after)",
        r"unfinished",
        r"only\s+(?:\w+\s+){0,2}(?:of|out\s+of)\s+(?:the\s+)?(?:\w+\s+)?(?:\d+|two|three|four|"
        r"five|six|seven|eight|nine|ten|required)",
        r"never\s+(?!touched|addressed|attempted|answered)(?:\w+ed|sent|run|done|made|written|built|read|begun|drawn)",
        r"(?:was|were)\s+not\s+(?:yet\s+)?(?:\w+ed|sent|done|run|made|written|built|read)",
        r"no\s+(?:\w+\s+){0,2}(?:was|were)\s+(?:made|produced|given|written|sent|created)",
        r"no\s+(?:\w+\s+){0,1}(?:sent|created|made|produced|scheduled|booked|saved|written)",
        r"not\s+(?:updated|produced|created|sent|saved|scheduled|retrieved|tracked|deleted|"
        r"added|included|generated|uploaded|posted|installed|fixed|merged)",
        r"skipped",
    ),
    FailureType.HALLUCINATION: (
        r"training\s+data",
        r"may\s+not\s+reflect",
        r"fabricat\w*",
        r"made[-\s]up",
        r"hallucinat\w*",
        r"from\s+(?:my\s+)?memory",
        r"my\s+(?:own\s+)?knowledge",
        r"(?:can(?:not|'t)|could\s+not|unable\s+to)\s+verify",
        r"unverified",
        r"not\s+supported\s+by",
        r"invented",
        r"outdated",
        r"not\s+in\s+(?:any|the)\s+(?:\w+\s+)?(?:observations?|tickets?|contracts?|filings?|"
        r"documents?|results?|outputs?|pages?|sources?|statements?|data|records?)",
        r"appears?\s+in\s+no",
        r"(?:answer|reply|response)\s+(?:claims|says|states|asserts)",
    ),
    FailureType.OFF_TOPIC: (
        r"off[-\s]topic",
        r"unrelated",
        r"irrelevant",
        r"not\s+relevant",
        r"(?:a\s+)?different\s+(?:question|topic|task|request)",
        r"misunderst(?:ood|anding)",
        r"instead\s+(?:answered|addressed|talked|discussed|wrote\s+about)",
        r"never\s+(?:touched|addressed|attempted|answered)",
        r"(?:did|does)\s+not\s+(?:address|answer|touch|attempt)",
        # The run did another task: "reformatted the codebase instead of fixing parse_date".
        r"instead\s+of\s+(?:\w+ing)",
        r"(?:injected|embedded|hidden|planted|malicious)\s+(?:[\w-]+\s+){0,2}instructions?",
        r"instructions?\s+(?:[\w-]+\s+){0,2}(?:injected|embedded|hidden|planted)",
    ),
}

# Tool use that destroyed something: the paper's "catastrophic tool misuse".
_DESTRUCTIVE = (
    r"rm\s+-rf",
    r"drop(?:ped)?\s+(?:the\s+)?(?:table|database)",
    r"deleted\s+(?:all|every|the\s+(?:production|database|repository))",
    r"wiped",
    r"overwr(?:o|i)te\s+(?:the\s+)?production",
    r"force[-\s]push(?:ed)?",
    r"data\s+loss",
    r"irreversibl[ey]",
    r"truncate\s+table",
)
DESTRUCTIVE_GROUP = "destructive"
# A comparator before a quantity in the agent's own words ("nothing under $5") is a
# constraint_violation signal; inside a content observation ("within 5 working days") it is
# only what the environment said.
_COMPARATOR = (
    r"(?:under|below|over|above|within|less\s+than|more\s+than|at\s+(?:most|least)|"
    r"no\s+more\s+than)\s+[$€£¥]?\d+",
)
COMPARATOR_GROUP = "comparator"

# One pass finds every phrase. The word-start test sits outside the alternation so that
# positions inside words fail at once instead of trying every phrase (about 3x faster than a
# \b per phrase).
_LEXICON_RE = re.compile(
    r"(?<![a-z0-9_])(?=[a-z])(?:"
    + "|".join(
        f"(?P<{name}>(?:{'|'.join(patterns)})\\b)"
        for name, patterns in [
            (DESTRUCTIVE_GROUP, _DESTRUCTIVE),
            (COMPARATOR_GROUP, _COMPARATOR),
            *((kind.value, phrases) for kind, phrases in _LEXICONS.items()),
        ]
    )
    + ")"
)

# The literal start of every phrase above (and of "a different ..."). Trying the lexicon only
# where one of these opens a word finds what finditer finds, about 2.5x faster: at each word
# start sre tries all ~90 phrases one after the other, while a trie of the starts fails on the
# first letter or two. The text scanned starts with "\n" so that a phrase at the very start
# has a separator before it. tests/test_rule_scans.py checks every phrase against this list.
_PHRASE_STARTS_TEXT = """
    error exception traceback time unavailable unable connection rate permission api is was
    went crash tool search constraint criteria requirement instead as do di not meeting exceed
    over violat wrong above below under budget within less more at no incorrect mismatch
    inaccura miscalculat expected off contradict bug incomplete partial only never ran max step
    gave missing remaining truncate stopped unfinished training may fabricat made hallucinat
    from my can could unverified invented outdated unrelated irrelevant different misunderst rm
    drop deleted wiped force data irreversibl limit excluded forbade forbidden prohibited
    disallowed ignored outside longer shorter later earlier older heavier costlier predate
    correct meaningless misread should were appear answer reply response despite although
    deadline required filter condition restriction omit injected embedded hidden planted
    malicious skipped instruction
"""
_PHRASE_STARTS = _PHRASE_STARTS_TEXT.split()


def _trie(words: list[str]) -> str:
    """An alternation of ``words`` that branches one letter at a time; a word that is a prefix
    of others stands for them all."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        by_first.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in by_first.items():
        if "" in rests:
            parts.append(re.escape(first))
        elif len(rests) == 1:
            parts.append(re.escape(first + rests[0]))
        else:
            parts.append(f"{re.escape(first)}(?:{_trie(rests)})")
    return "|".join(parts)


STARTS_TRIE = _trie(_PHRASE_STARTS)

# The trie is a lookahead behind a separator: sre skips ahead on the separator class and tries
# the ~90 phrases only where the trie passes, with no Python loop over candidate starts (a
# loop that matched the lexicon at each candidate took ~15% longer). A match includes the
# separator before its phrase; the phrase is the named group.
_SEPARATED_LEXICON_RE = re.compile(
    rf"[^a-z0-9_](?=(?:{STARTS_TRIE}|a\s))"
    + _LEXICON_RE.pattern.removeprefix(r"(?<![a-z0-9_])(?=[a-z])")
)


class LexiconMatch(NamedTuple):
    """One phrase found: its group (a failure type's value, "destructive" or "comparator")."""

    group: str
    start: int
    text: str


def lexicon_matches(agent_text: str) -> Iterator[LexiconMatch]:
    """The phrases ``_LEXICON_RE.finditer(agent_text)`` finds, for a text that starts with "\n"."""
    for match in _SEPARATED_LEXICON_RE.finditer(agent_text):
        group = match.lastgroup
        assert group is not None  # every alternative is a named group
        yield LexiconMatch(group, match.start(group), match.group(group))


# A failure reason's cue words in the languages graders write, as the English word whose
# weight the type model learned: most reasons are English, so "stattdessen", "au lieu de" and
# "yerine" borrow what "instead" taught it. One distinctive word per phrase ("lieu", "vez").
_REASON_CUE_WORDS = {
    "instead": "stattdessen statt anstatt anstelle lieu vez invece anziché ao invés plaats"
    " zamiast istället stället stedet yerine místo sijaan helyett malah",
    "asked": "gefragt fragte erfragt demandé demandait pidió preguntó pedía chiesto chiedeva"
    " pediu perguntou gevraagd vroeg pytał zapytał frågade spurgte spurte sordu sorulmuştu"
    " sorulmuş ptal zeptal kysyi kérdezte bertanya",
    "wanted": "wollte voulait quería voleva queria wilde chciał ønsket ønskede istedi chtěl"
    " halusi akart ingin",
    "question": "frage question pregunta domanda pergunta vraag pytanie fråga spørgsmål"
    " spørsmål soru otázka kysymys kérdés pertanyaan",
    "answered": "antwortete beantwortete répondu respondió contestó risposto respondeu"
    " antwoordde odpowiedział svarade svarede svarte cevapladı odpověděl vastasi válaszolt"
    " menjawab",
    "reported": "berichtet berichtete geliefert rapporté informó riportato relatou"
    " rapporteerde podał rapporterade rapporterte rapporterede bildirdi uvedl raportoi"
    " melaporkan",
    "never": "nie niemals jamais nunca mai nooit nigdy aldrig aldri asla nikdy koskaan soha"
    " tidak belum",
    "not": "nicht pas não niet inte ikke değil ne ei nem bukan",
    "wrong": "falsch falsche falschen faux fausse mauvais mauvaise equivocado equivocada"
    " incorrecto incorrecta erróneo sbagliato sbagliata errato errata errado errada verkeerd"
    " verkeerde fout błędny błędne zły złe fel felaktig feil forkert yanlış špatný špatně"
    " väärä väärin rossz salah keliru",
    "different": "andere anderen anderes autre différent différente otro otra diferente"
    " altro altra diverso diversa outro outra inny inna annan annat anden andet annen annet"
    " farklı başka jiný jiná toinen eri másik lain berbeda",
    "error": "fehler erreur errore erro błąd fejl hata chyba virhe hiba galat",
    "missing": "fehlt fehlen fehlte manque manquant manquante falta faltan faltaba manca"
    " mancano mancava ontbreekt ontbreken brakuje brak saknas mangler eksik chybí puuttuu"
    " hiányzik hilang",
    "only": "nur seulement solo sólo apenas só alleen tylko bara kun sadece jen vain csak hanya",
    "stopped": "abgebrochen arrêté detuvo interrotto interrompeu gestopt przerwał avbröt"
    " stoppet durdu zastavil keskeytti abbahagyta berhenti",
    "invented": "erfunden erfand inventé inventó inventato inventou verzonnen wymyślił"
    " uydurdu vymyslel keksi kitalált mengarang",
    "failed": "fehlgeschlagen gescheitert échoué échec falló fallido fallito fallita falhou"
    " mislukt nieudane misslyckades mislyktes mislykkedes başarısız selhal selhalo"
    " epäonnistui sikertelen gagal",
    "exceeds": "überschreitet übersteigt überschritten dépasse dépassé supera superó excede"
    " excedeu overschrijdt overschreden przekracza przekroczono överskrider överstiger"
    " overskrider overstiger aşıyor aştı překračuje překročil ylittää ylitti meghaladja"
    " túllépi melebihi",
    "budget": "presupuesto orçamento budżet budsjett budsjettet bütçe rozpočet budjetti"
    " költségvetés anggaran",
    "limit": "grenze obergrenze limite límite grens limiet gräns gränsen grænse grænsen grense"
    " grensen sınır sınırı raja batas",
    "late": "spät verspätet tard tarde tardi laat późno sent sen geç pozdě myöhään késő terlambat",
    "incomplete": "unvollständig incomplet incomplète incompleto incompleta onvolledig"
    " niekompletny niekompletne ofullständig ufullstendig ufuldstændig neúplný neúplná"
    " keskeneräinen hiányos",
    "exist": "existiert existe esiste bestaat istnieje finns finnes findes mevcut neexistuje"
    " olemassa létezik",
}
REASON_CUES = {
    word: english for english, words in _REASON_CUE_WORDS.items() for word in words.split()
}
