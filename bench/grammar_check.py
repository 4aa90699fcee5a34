"""Detect requests that were damaged by rule-based cutting.

A hindsight prompt is usually the user's original request with the unmet
part cut out (a limit, a later action, a detail, a name).  Naive cuts leave
sentences no person would write: a preposition without its object, a
comparator without its value, a doubled word, a dangling dash, a space before
a colon, English glue words inside a Norwegian request, ...

Public API::

    grammar_problems(prompt, original=None) -> list[str]

Every check is tuned for precision: a well-formed request in any of the
supported languages must produce an empty list.  Checks that need the
original request (to see where something was cut) only run when it is given.

Standard library only.
"""

from __future__ import annotations

import difflib
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["detect_language", "grammar_problems"]

# ---------------------------------------------------------------------------
# Character classes and tokenisation
# ---------------------------------------------------------------------------

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_WORDCH = rf"[^\W{_CJK}]"
_TOKEN_RE = re.compile(
    rf"{_WORDCH}+(?:['’\-.]{_WORDCH}+)*['’]?"  # words, numbers, 2.4.1, l'e-mail, po'
    rf"|[{_CJK}]"  # one CJK character per token
    r"|\S"  # any other single symbol or punctuation mark
)
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_HANGUL_RE = re.compile(r"[\uac00-\ud7af]")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_HEBREW_RE = re.compile(r"[\u0590-\u05ff]")
_GREEK_RE = re.compile(r"[\u0370-\u03ff]")
_DEVANAGARI_RE = re.compile(r"[\u0900-\u097f]")
_THAI_RE = re.compile(r"[\u0e00-\u0e7f]")

_SENT_END = {".", "!", "?", "。", "！", "？", "…", ";", "；"}
_CURRENCY = {"$", "€", "£", "¥", "₹", "₽", "₺", "₩", "元", "円", "원", "zł", "kr", "kč"}
_UNITS = {
    "%",
    "€",
    "$",
    "£",
    "¥",
    "km",
    "kg",
    "mm",
    "cm",
    "m",
    "m²",
    "m2",
    "ml",
    "mg",
    "g",
    "l",
    "kwh",
    "kw",
    "mw",
    "mwh",
    "gb",
    "tb",
    "mb",
    "usd",
    "eur",
    "gbp",
    "chf",
    "nok",
    "sek",
    "dkk",
    "pln",
    "czk",
    "jpy",
    "cny",
    "brl",
    "mxn",
    "try",
    "元",
    "円",
    "万円",
    "원",
    "만원",
}

# Abbreviations after which "." does not end a sentence.
_ABBREVIATIONS = {
    "e.g",
    "i.e",
    "etc",
    "vs",
    "approx",
    "ca",
    "no",
    "nr",
    "nº",
    "st",
    "dr",
    "mr",
    "mrs",
    "ms",
    "inc",
    "ltd",
    "co",
    "corp",
    "jr",
    "sr",
    "p",
    "pp",
    "z.b",
    "bzw",
    "usw",
    "ggf",
    "inkl",
    "u.a",
    "vgl",
    "s",
    "str",
    "tel",
    "kl",
    "ul",
    "al",
    "av",
    "pl",
    "nos",
    "min",
    "max",
    "incl",
    "excl",
    "dept",
    "fig",
    "vol",
    "ed",
    "rev",
    "sq",
    "ft",
    "oz",
    "lb",
    "lbs",
    "hr",
    "hrs",
    "sec",
    "mt",
    "mo",
    "yr",
    "yrs",
    "est",
    "ref",
    "cf",
    "abs",
    "art",
    "obs",
    "tj",
    "np",
    "tzn",
    "itd",
    "itp",
    "г",
    "ул",
    "д",
    "т.е",
    "т.д",
    "sa",
    "s.a",
    "s.p.a",
    "gmbh",
    "ag",
    "bv",
}


@dataclass(frozen=True)
class Tok:
    """One token of a prompt: its text and character offsets."""

    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower().replace("’", "'")

    @property
    def is_word(self) -> bool:
        return bool(re.match(rf"{_WORDCH}", self.text)) and not self.is_value

    @property
    def is_cjk(self) -> bool:
        return bool(re.fullmatch(rf"[{_CJK}]", self.text))

    @property
    def is_value(self) -> bool:
        return (
            any(ch.isdigit() for ch in self.text)
            or self.text in _CURRENCY
            or self.low in _NUMBER_WORDS
        )

    @property
    def is_punct(self) -> bool:
        return (
            len(self.text) == 1 and unicodedata.category(self.text)[0] in "PS" and not self.is_cjk
        )


def tokenize(text: str) -> list[Tok]:
    """Split text into words, numbers, single CJK characters and punctuation marks."""
    return [Tok(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


# Code spans, URLs, e-mail addresses and paths are opaque: replace each by a
# neutral proper-noun-like placeholder so that grammar around them still reads.
_OPAQUE_RE = re.compile(
    r"`[^`]*`"
    r"|https?://\S+?(?=[.,;:!?)]*(?:\s|$))"
    r"|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?<!\w)(?:~|\.{1,2})?/[\w./\-*]+"
    r"|\b\w+\(\)"
)


def _mask_opaque(text: str) -> str:
    return _OPAQUE_RE.sub("Xcode", text)


# ---------------------------------------------------------------------------
# Language identification (small function-word model)
# ---------------------------------------------------------------------------

_LANG_WORDS: dict[str, set[str]] = {
    "en": set(
        """the and of to for with my me our your is are what which how please from this that
        all it by find show give list tell get book send check can you do does did was were have
        has i we an on in at be any each every between under latest last next when where who much
        many there their them these those its than or if should would could make add create""".split()
    ),
    "de": set(
        """der die das und ist für mit von den dem des ein eine einen einem einer nicht auf zu
        im am wie was welche welcher welches mir mich bitte ich wir unsere unser meine mein bei nach
        aus auch oder sind gibt es vom zum zur über seit bis alle wann wo wer noch wieviel wie viele
        hat haben kannst können soll sich dich uns zeige zeig finde such suche erstelle schick schicke
        gib fasse prüfe buche sende liste trag zusammen ruf rufe frau herr""".split()
    ),
    "fr": set(
        """le la les des du de et un une est pour dans avec sur que qui quel quelle quels quelles
        mon ma mes nous vous moi au aux en pas combien ce cette ces il elle sont leur leurs par chez
        peux-tu pouvez-vous donne-moi trouve-moi quand où comment entre depuis jusqu'à""".split()
    ),
    "es": set(
        """el la los las del de y en para con por que qué cuál cuáles un una es son mi mis me
        nuestro nuestra al cuánto cuántos cuántas cuánta dónde cómo busca dame está hay sobre entre
        desde hasta este esta muy puedes cuándo tengo más lo se sus les tiene tienen hoy mañana
        dime quiero búscame encuentra""".split()
    ),
    "pt": set(
        """o a os as do da dos das de e em no na nos nas para com por que qual quais um uma é são
        meu minha meus minhas ao à pelo pela quanto quantos quantas onde como está há você não
        quando até tenho mais seu sua se tem têm hoje amanhã diga quero""".split()
    ),
    "it": set(
        """il lo la i gli le di del della dei delle e in nel nella per con che quale quali un una è
        sono mio mia miei mie al alla quanto quanti quante dove come mi dammi trova non ci da dal
        dalla su sul sulla quando ho""".split()
    ),
    "nl": set(
        """de het een en van voor naar met op in is zijn wat welke hoeveel mijn ons onze bij aan uit
        niet ook je ik we deze dit die dat er om tot hoe wanneer waar zoek geef stuur boek maak plan
        het""".split()
    ),
    "pl": set(
        """w z i na do dla jest są się jak ile jaki jaka jakie mi mnie moje mój moja nasz nasza
        nie od po przez o że czy to ten ta tego znajdź pokaż""".split()
    ),
    "cs": set(
        """a v ve na s se z do pro je jsou jak kolik který která které mi mně můj moje naše náš
        není od po o že k u najdi ukaž""".split()
    ),
    "sv": set(
        """och att för med på av till är en ett det den de som vad hur mig min mitt mina vi vår
        våra om från inte hitta finns vilka vilken kan du jag ge visa""".split()
    ),
    "no": set(
        """og å for med på av til er en et det den de som hva hvor hvordan meg min mitt mine vi
        vår våre om fra ikke finn finnes hvilke hvilken kan du jeg gi vis""".split()
    ),
    "da": set(
        """og at for med på af til er en et det den de som hvad hvor hvordan mig min mit mine vi
        vores om fra ikke find findes hvilke hvilken kan du jeg giv vis""".split()
    ),
    "tr": set(
        """ve bir bu için ile mi mı mu mü ne kaç nedir nerede hangi bana benim da de olan en daha
        gibi kadar var mı misin""".split()
    ),
}
_DIACRITIC_HINTS: dict[str, str] = {
    "ñ": "es",
    "¿": "es",
    "¡": "es",
    "ã": "pt",
    "õ": "pt",
    "ß": "de",
    "ł": "pl",
    "ś": "pl",
    "ż": "pl",
    "ź": "pl",
    "ą": "pl",
    "ę": "pl",
    "ń": "pl",
    "ř": "cs",
    "ů": "cs",
    "ě": "cs",
    "ı": "tr",
    "ğ": "tr",
    "ş": "tr",
    "ø": "no",
    "æ": "no",
    "å": "sv",
    "ä": "de",
    "ö": "de",
    "ü": "de",
    "è": "fr",
    "ê": "fr",
    "ç": "fr",
    "ì": "it",
    "ò": "it",
}
_SUFFIX_HINTS: tuple[tuple[str, str], ...] = (
    ("ción", "es"),
    ("ciones", "es"),
    ("ção", "pt"),
    ("ções", "pt"),
    ("zione", "it"),
    ("zioni", "it"),
    ("ung", "de"),
    ("ungen", "de"),
    ("heid", "nl"),
    ("lijk", "nl"),
    ("ość", "pl"),
    ("ów", "pl"),
    ("mente", "es"),
    ("ment", "fr"),
    ("ness", "en"),
    ("ing", "en"),
    ("ly", "en"),
    ("eux", "fr"),
    ("ais", "fr"),
    ("aient", "fr"),
    ("ado", "es"),
    ("ados", "es"),
    ("ato", "it"),
    ("ati", "it"),
    ("isch", "de"),
    ("lich", "de"),
    ("keit", "de"),
    ("ları", "tr"),
    ("leri", "tr"),
    ("ník", "cs"),
)
# Languages that are too close to tell apart reliably on one sentence.
_LANG_GROUP = {"no": "nordic", "da": "nordic", "sv": "nordic"}


def _lang_scores(text: str) -> dict[str, float]:
    words = [t.low for t in tokenize(text) if t.is_word]
    scores = {lang: float(sum(w in vocab for w in words)) for lang, vocab in _LANG_WORDS.items()}
    lowered = text.lower()
    for ch, lang in _DIACRITIC_HINTS.items():
        if ch in lowered:
            scores[lang] += 1.5
    for word in words:
        for suffix, lang in _SUFFIX_HINTS:
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                scores[lang] += 1
                break
    return scores


def detect_language(text: str) -> str | None:
    """Best-guess language code of ``text`` (None when unsure).

    Scripts decide for CJK, Cyrillic, Arabic, ...; Latin-script text is
    scored by function words and a few diacritics.
    """
    if _KANA_RE.search(text):
        return "ja"
    if _HANGUL_RE.search(text):
        return "ko"
    if _HAN_RE.search(text):
        return "zh"
    for regex, lang in (
        (_CYRILLIC_RE, "ru"),
        (_ARABIC_RE, "ar"),
        (_HEBREW_RE, "he"),
        (_GREEK_RE, "el"),
        (_DEVANAGARI_RE, "hi"),
        (_THAI_RE, "th"),
    ):
        if regex.search(text):
            return lang
    scores = _lang_scores(text)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, s1), (_, s2) = ranked[0], ranked[1]
    if s1 >= 2 and s1 > s2:
        return best
    return None


def _confident_language(text: str) -> str | None:
    """Like detect_language, but only when the margin is large."""
    lang = detect_language(text)
    if lang is None or not re.fullmatch(r"[a-z]{2}", lang):
        return lang
    if lang not in _LANG_WORDS:
        return lang
    scores = _lang_scores(text)
    best = scores[lang]
    runner = max(
        (s for k, s in scores.items() if _LANG_GROUP.get(k, k) != _LANG_GROUP.get(lang, lang)),
        default=0,
    )
    return lang if best >= 3 and best >= 2 * runner and best - runner >= 2 else None


# ---------------------------------------------------------------------------
# Function-word tables
# ---------------------------------------------------------------------------

_NUMBER_WORDS = set(
    """one two three four five six seven eight nine ten eleven twelve twenty thirty
    forty fifty hundred thousand million""".split()
)


@dataclass(frozen=True)
class Lex:
    """Words of one language that cannot end a clause.

    articles: determiners that always need a noun after them.
    conjunctions: need a second conjunct (a comma after them is fine).
    prepositions: need an object and are never stranded in that language.
    particles: prepositions that double as verb particles (may end a clause).
    """

    articles: frozenset[str]
    conjunctions: frozenset[str]
    prepositions: frozenset[str]
    particles: frozenset[str] = frozenset()


def _fs(words: str) -> frozenset[str]:
    return frozenset(words.split())


_LEX: dict[str, Lex] = {
    "de": Lex(
        _fs("den dem des"),
        _fs("und oder aber sondern sowie bzw"),
        _fs(
            "für von vom seit bis zwischen ohne gegen wegen während trotz innerhalb außerhalb "
            "unter im zum zur beim ins pro als in mindestens höchstens maximal"
        ),
        _fs(
            "an auf aus ab zu mit vor nach durch um ein bei her hin weg zurück über fest "
            "zusammen hinzu weiter dar bereit los teil vorbei fort heraus herunter hoch"
        ),
    ),
    "fr": Lex(
        _fs(
            "le la les des du au aux mon ma mes ton ta tes son sa ses notre nos votre vos "
            "ce cet cette ces"
        ),
        _fs("et ou mais car"),
        _fs(
            "de d' à pour par avec sans chez dans sur sous entre vers depuis jusqu'à jusqu'au "
            "jusque pendant via parmi dès envers malgré en"
        ),
    ),
    "es": Lex(
        _fs("el la los las un mi mis tu tus su sus nuestro nuestra nuestros nuestras del al"),
        _fs("y e o u pero ni sino"),
        _fs("de a en para por con sin sobre entre hasta desde hacia bajo tras mediante durante"),
    ),
    "pt": Lex(
        _fs(
            "o a os as do da dos das no na nas ao à aos às pelo pela pelos pelas "
            "meu minha meus minhas seu sua seus suas nosso nossa"
        ),
        _fs("e ou mas nem"),
        _fs("de em para pra por com sem sobre entre até desde durante perante sob via"),
    ),
    "it": Lex(
        _fs(
            "il lo la i gli le un del dello della dei degli delle al allo alla ai agli "
            "alle nel nello nella nei negli nelle sul sulla sui sugli sulle dal dalla dai dagli "
            "dalle"
        ),
        _fs("e ed o od ma né"),
        _fs("di a da in con per tra fra entro verso senza presso tramite fino"),
    ),
    "nl": Lex(
        _fs("de een"),
        _fs("en maar of want"),
        _fs("van naar met tot tussen zonder per vanaf sinds tijdens volgens via"),
        _fs("op aan in uit om door over af mee toe na voor bij binnen onder terug"),
    ),
    "pl": Lex(
        frozenset(),
        _fs("i oraz lub albo ale"),
        _fs(
            "w we z ze na do dla od przez przy o u pod nad przed między bez około poniżej "
            "powyżej ponad niż według podczas wobec dzięki oprócz"
        ),
    ),
    "cs": Lex(
        frozenset(),
        _fs("a i nebo ale"),
        _fs(
            "v ve z ze na do pro od přes při o u pod nad před mezi bez k ke s kolem během podle "
            "kromě než"
        ),
    ),
    "ru": Lex(
        frozenset(),
        _fs("и или но либо"),
        _fs(
            "в во на с со к ко по о об обо от до из для без под над при через между около "
            "среди перед чем за"
        ),
    ),
    "sv": Lex(frozenset(), _fs("och eller men samt"), _fs("mellan")),
    "no": Lex(frozenset(), _fs("og eller men samt"), _fs("mellom enn")),
    "da": Lex(frozenset(), _fs("og eller men samt"), _fs("mellem end")),
    "tr": Lex(frozenset(), _fs("ve veya ile ama fakat ancak"), frozenset()),
}

# English needs finer rules: prepositions may be stranded in questions and
# relative clauses ("What is it for?"), and many double as particles.
_EN_ARTICLES = _fs("the a an my your our their its every")
_EN_CONJ = _fs("and or but nor whereas although because unless whether as")
_EN_NEVER_STRANDED = _fs(
    "than per via between among until till including excluding except versus "
    "within during towards toward"
)
_EN_COMPARATORS = _fs("under below above over")
_EN_STRANDABLE = _fs("of to for from with at about into onto")
_EN_PARTICLES = _fs(
    "in on up out off down over back around through along away across by before "
    "after since without behind inside outside"
)
_EN_WH = _fs(
    "what which who whom whose where when how that whatever whichever wherever whoever why"
)
_EN_TO_OK_BEFORE = _fs(
    "want wants need needs have has had like love able going supposed allowed "
    "ought got try trying plan planning used meant forward"
)
_EN_SEE_ABOVE = _fs(
    "see as listed mentioned shown described stated noted given outlined detailed "
    "quoted attached above below"
)
# English function words that are also common words of other languages
# (German particle "an", Czech "to", Romance "a", Nordic "for", Polish "by").
_EN_AMBIGUOUS = _fs("a an to in on for by at per i o e de den die en")
_EN_PREPS = _EN_STRANDABLE | _EN_NEVER_STRANDED | _EN_COMPARATORS | _fs("in on at by")

# Words that introduce a numeric bound; their value directly follows.
_COMPARATORS = _fs("""under below above over less more fewer least most max maximum min minimum within
    cheaper lower higher exceeding beyond unter über bis ab maximal höchstens mindestens weniger
    mehr sous moins plus jusqu'à menos más hasta máximo mínimo até mais máximo mínimo sotto sopra meno
    più entro massimo minimo onder boven minder meer maximaal hoogstens minstens tot under över mindre
    mer högst minst maks høyst minst poniżej powyżej ponad mniej więcej maksymalnie najwyżej pod nad
    méně více maximálně nejvýše до менее более меньше больше ниже выше свыше дороже дешевле""")
# "than/de/als/..." after a comparator head ("less than", "moins de").
_COMPARATOR_LINKS = _fs("than de di als dan än enn end niż než чем da of que")

_LABEL_NOUNS = _fs("""magnitude magnitud magnitudo size level version grade room gate platform floor
    page chapter section step stage tier zone row seat lane track terminal rating score priority
    severity phase no nr nº n° # größe stufe raum zimmer gleis seite kapitel ebene stock klasse taille
    niveau salle chambre quai chapitre étage pointure talla nivel versión sala habitación andén
    página capítulo planta tamanho nível versão quarto andar taglia livello versione camera binario
    pagina capitolo piano maat versie zaal kamer spoor hoofdstuk verdieping rozmiar poziom wersja
    pokój peron strona rozdział piętro размер уровень версия зал платформа страница глава этаж
    магнитуды магнитудой году roku storlek nivå sal rum spår sida kapitel våning størrelse""")

_CONSTRAINT_STARTERS = _fs("""keep stay limit cap budget max maximum halte halten bleib bleibe bleiben
    begrenze garde gardez reste restez limite limitez mantén mantenga limita mantenha mantém fique
    mantieni resta limita massimo houd blijf maximaal håll hold trzymaj zmieść""")

_SEPARABLE_DE = _LEX["de"].particles
_DE_PREP_BEFORE_PARTICLE = _fs(
    "in im für von vom seit bis unter zwischen gegen ohne zum zur am ins pro"
)

_DOUBLING_NEVER_OK = _fs("""the a an to of at for with from and or und oder et ou y für mit von pour avec
    para con per van voor met och og и в на""")

_PARTICIPLE_RE: dict[str, re.Pattern[str]] = {
    "en": re.compile(
        r"^(published|released|dated|priced|posted|created|filed|opened|issued|listed|"
        r"scheduled|registered|located|based|rated|updated|modified|built|founded|"
        r"approved|signed|submitted|recorded|reported|closed|delivered|shipped|placed)$"
    ),
    "es": re.compile(r"^\w{3,}(ados|adas|idos|idas)$"),
    "pt": re.compile(r"^\w{3,}(ados|adas|idos|idas)$"),
    "it": re.compile(r"^\w{3,}(ati|ate|iti|ite|uti|ute)$"),
    "fr": re.compile(r"^\w{3,}(és|ées|ies|is|us|ues)$"),
    "de": re.compile(r"^ge\w{3,}(t|en)$"),
    "nl": re.compile(r"^ge\w{3,}(d|t|en)$"),
}

_EN_MARKERS = _fs("""the and of to for with my me our your is are what which how please from this that
    all it by find show give list tell get book send check can you does did was were have has
    should would could make add create them their these those then also only""")
_EN_IMPERATIVES = _fs("""list find show give get book send check tell add make create compare keep
    please order reserve email pull draft post""")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _lex(lang: str | None) -> Lex | None:
    return _LEX.get(lang or "")


def _is_sentence_end(tokens: list[Tok], i: int) -> bool:
    """True when tokens[i] is a sentence-ending mark (not an abbreviation dot)."""
    tok = tokens[i]
    if tok.text not in _SENT_END:
        return False
    if tok.text == ".":
        if i > 0 and tokens[i - 1].end == tok.start and tokens[i - 1].low in _ABBREVIATIONS:
            return False
        if (
            i > 0
            and tokens[i - 1].end == tok.start
            and len(tokens[i - 1].text) == 1
            and tokens[i - 1].text.isupper()
        ):
            return False  # initials: "J. Smith"
        if i + 1 < len(tokens):
            nxt = tokens[i + 1]
            if nxt.start == tok.end:  # "3.5" or "file.csv" split oddly
                return False
            if nxt.text[:1].islower() or nxt.is_value:
                return False
    return True


def _sentences(tokens: list[Tok]) -> list[list[Tok]]:
    """Group tokens into sentences (the closing mark stays with its sentence)."""
    out: list[list[Tok]] = [[]]
    for i, tok in enumerate(tokens):
        out[-1].append(tok)
        if _is_sentence_end(tokens, i):
            out.append([])
    return [s for s in out if any(t.is_word or t.is_cjk or t.is_value for t in s)]


def _boundary_after(tokens: list[Tok], i: int) -> str | None:
    """Kind of clause boundary right after tokens[i]: 'end', '.', '?', ',', ':', 'dash' or None."""
    if i + 1 >= len(tokens):
        return "end"
    nxt = tokens[i + 1]
    if nxt.text in {"?", "？"}:
        return "?"
    if nxt.text in {"!", "！", ";", "；", "…", "。"}:
        return "."
    if nxt.text == ".":
        return "." if _is_sentence_end(tokens, i + 1) else None
    spaced_after = i + 2 >= len(tokens) or tokens[i + 2].start > nxt.end
    if nxt.text in {"，", "、"} or (nxt.text == "," and spaced_after):
        return ","
    if nxt.text == "：" or (nxt.text == ":" and spaced_after):
        return ":"
    if nxt.text in {"—", "–"} or (nxt.text == "-" and nxt.start > tokens[i].end and spaced_after):
        return "dash"
    return None


def _prev_word(tokens: list[Tok], i: int) -> str:
    return tokens[i - 1].low if i > 0 else ""


def _next_word(tokens: list[Tok], i: int) -> str:
    return tokens[i + 1].low if i + 1 < len(tokens) else ""


def _sentence_of(tokens: list[Tok], i: int) -> list[Tok]:
    start = i
    while start > 0 and not _is_sentence_end(tokens, start - 1):
        start -= 1
    end = i
    while end + 1 < len(tokens) and not _is_sentence_end(tokens, end):
        end += 1
    return tokens[start : end + 1]


# ---------------------------------------------------------------------------
# Checks that need only the prompt
# ---------------------------------------------------------------------------


def check_space_before_punctuation(text: str, lang: str | None) -> list[str]:
    """A space before , or . (and, outside French, before : ; ? !).

    Catches "Keep it : we accept ..." and "in Paris , and".  French typography
    puts a (thin) space before : ; ? ! and inside « », so those are allowed
    in French and in text whose language is unknown (short French requests
    are often undetected); ratios like "3 : 1" are allowed everywhere.
    """
    problems = []
    for m in re.finditer(r"(\S)([ \t\u00a0\u202f]+)(,|[.;:?!](?=\s|$))", text):
        before, mark = m.group(1), m.group(3)
        if mark in ":;?!" and (lang in ("fr", None) or before in "«»"):
            continue
        after = text[m.end() : m.end() + 3].strip()
        if mark == ":" and before.isdigit() and after[:1].isdigit():
            continue
        if mark == "." and before in ".…":
            continue
        problems.append(
            f"space before '{mark}': …{text[max(0, m.start() - 15) : m.end() + 10].strip()}…"
        )
    return problems


def check_doubled_punctuation(text: str) -> list[str]:
    """Two clause marks in a row (", ." ",," ": ," "、。"): the leftover of a cut between them."""
    problems = []
    for m in re.finditer(r"([,;:，、；：])\s*([,;:.!?，、。；：！？])", text):
        if m.group(1) == ":" and m.group(2) == ":" and m.end() - m.start() == 2:
            continue  # C++/Rust path "a::b" outside backticks
        problems.append(f"doubled punctuation '{m.group(0)}'")
    for m in re.finditer(r"[。！？]\s*[，、。；：]|(?<!\.)\.\s*[,;:](?!\d)", text):
        prev = text[: m.start()].split()[-1:] or [""]
        if m.group(0).startswith(".") and prev[0].lower().strip(".") in _ABBREVIATIONS | {
            "e.g",
            "i.e",
        }:
            continue
        if m.group(0).startswith(".") and re.search(r"\w\.\w+$", text[: m.start()]):
            continue  # "e.g.," written as one word
        problems.append(f"doubled punctuation '{m.group(0)}'")
    return problems


def check_edges(text: str) -> list[str]:
    """The request starts with punctuation or a lowercase conjunction, or ends with a comma/colon.

    "and book the cheapest one." or ", then email it" is what is left when the
    first action was cut off the front; "Find hotels in Paris," when the end was.
    """
    problems = []
    stripped = text.strip()
    if re.match(r"^[,;:.)\]}»”、，。]", stripped):
        problems.append(f"starts with punctuation: {stripped[:20]}…")
    if re.match(r"^(and|or|but|und|oder|et|og|och|oraz)\s", stripped):
        problems.append(f"starts with a lowercase conjunction: {stripped[:25]}…")
    if re.search(r"[,;:，、：；]\s*$", stripped):
        problems.append(f"ends with '{stripped[-1]}'")
    return problems


def check_dangling_dash(text: str) -> list[str]:
    """A dash clause that leads nowhere: "…, but only —" or "— ." or "— keep it."."""
    problems = []
    if re.search(r"[—–]\s*$|\s-\s*$", text):
        problems.append("ends with a dash")
    for m in re.finditer(r"[—–]\s*[.,;:!?。，]", text):
        problems.append(f"dash followed by punctuation '{m.group(0)}'")
    for m in re.finditer(
        r"(?:^|[—–:;,.]\s*)(keep|make)\s+(it|them|this|that)\s*(?=[.:;—–!]|$)",
        text,
        flags=re.IGNORECASE,
    ):
        if m.group(1).lower() == "make" and not re.match(r"[—–]", m.group(0).strip()):
            continue
        problems.append(f"clause lost its object: '{m.group(0).strip(' .,;:')}'")
    for m in re.finditer(r"\b(but|and) only\s*(?=[.;:—–!?]|$)", text, flags=re.IGNORECASE):
        problems.append(f"'{m.group(0).strip()}' with nothing after it")
    return problems


def check_brackets_and_quotes(text: str) -> list[str]:
    """Empty or unbalanced brackets and quotes: what remains when their content was cut."""
    problems = []
    if re.search(r"(?:^|\s)\(\s*\)|\[\s*\]|\(\s*[,;:.]|[,;:]\s*\)|«\s*»|“\s*”|„\s*“|\"\s*\"", text):
        problems.append("empty brackets or quotes")
    if not _parentheses_balanced(text):
        problems.append("unbalanced parentheses")
    if text.count("«") != text.count("»") or text.count("“") > text.count("”") + text.count("„"):
        problems.append("unbalanced quotation marks")
    if text.count('"') % 2 and re.sub(r"(?<=\d)\"", "", text).count('"') % 2:  # 14" is inches
        problems.append("unbalanced quotation marks")
    return problems


def _parentheses_balanced(text: str) -> bool:
    """True when every "(" is closed; list markers "1)" / "a)" and smileys ":)" are ignored."""
    depth = 0
    for m in re.finditer(r"[()]", text):
        if m.group() == "(":
            depth += 1
        elif depth:
            depth -= 1
        elif re.search(r"(?:^|\s)(?:\d{1,2}|[a-zA-Z])$|[:;]-?$", text[: m.start()]):
            continue
        else:
            return False
    return depth == 0


def check_doubled_words(tokens: list[Tok]) -> list[str]:
    """The same function word twice in a row ("List the the suppliers").

    Only words that are never legitimately repeated are flagged (German
    "die die" and English "that that" are grammatical).
    """
    problems = []
    for a, b in itertools.pairwise(tokens):
        if (
            a.is_word
            and b.is_word
            and a.low == b.low
            and a.low in _DOUBLING_NEVER_OK
            and not b.text[:1].isupper()
            and b.start > a.end
        ):
            problems.append(f"doubled word '{a.text} {b.text}'")
    return problems


def check_elision(text: str) -> list[str]:
    """A French/Italian elided article left standing alone ("l' ." / "dell' e").

    Elided forms must attach to the next word, so a space after them means
    the word they belonged to was cut.
    """
    m = re.search(
        r"(?<![\w'’])(l|d|qu|j|n|c|jusqu|lorsqu|puisqu|dell|all|nell|dall|sull|quest|quell)"
        r"['’](?=\s|[.,;:!?]|$)",
        text,
        flags=re.IGNORECASE,
    )
    return [f"elided article without its word: '{m.group(0)}'"] if m else []


def _english_end_problem(tokens: list[Tok], i: int, boundary: str) -> str | None:
    """Why an English word cannot stand before this boundary (None when it can)."""
    w = tokens[i].low
    prev = _prev_word(tokens, i)
    stranding_ok = _wh_before(tokens, i)
    if w in _EN_ARTICLES and tokens[i].text != "A":
        return "article"
    if boundary == ":":
        return None
    clause_has_value = any(t.is_value for t in _clause_of(tokens, i))
    if (
        w in ("least", "most")
        and prev == "at"
        and boundary not in ("?", ",")
        and not clause_has_value
    ):
        return "bound without its value"
    if w == "to" and prev == "up" and boundary != "?" and not stranding_ok:
        return "bound without its value"
    if w == "as" and prev == "such":
        return "'such as' without examples"
    if boundary == ",":
        if w in _EN_COMPARATORS - {"over", "above", "below"} or w == "than":
            return "comparator without its value"
        if (
            w in _EN_STRANDABLE - {"about"}
            and not stranding_ok
            and not _after_subject_pronoun(tokens, i)
            and not (w == "to" and prev in _EN_TO_OK_BEFORE)
        ):
            return "preposition without its object"
        return None
    if w in _EN_CONJ:
        if w == "as" and prev in ("just", "same", "well"):
            return None
        return "conjunction"
    if w in _EN_NEVER_STRANDED:
        if w == "between" and prev == "in":
            return None
        return "preposition without its object"
    if w in _EN_COMPARATORS - {"over"}:
        if w in ("above", "below") and prev in _EN_SEE_ABOVE:
            return None
        return "comparator without its value"
    if w in _EN_STRANDABLE and boundary != "?":
        if (
            stranding_ok
            or (w == "to" and prev in _EN_TO_OK_BEFORE)
            or _after_subject_pronoun(tokens, i)
        ):
            return None
        return "preposition without its object"
    return None


def _wh_before(tokens: list[Tok], i: int) -> bool:
    """Is there a wh-word, relative "that" or "if" earlier in the sentence (licensing a stranded preposition)?"""
    sentence = _sentence_of(tokens, i)
    before = {t.low.split("'")[0] for t in sentence if t.start < tokens[i].start}
    return bool(before & (_EN_WH | {"if"}))


def _after_subject_pronoun(tokens: list[Tok], i: int) -> bool:
    """A relative clause without "that" ends here: "the card she paid with", "the team it was sent to",
    "someone to talk to"."""
    if i >= 1 and (tokens[i - 1].low.endswith("ed") or tokens[i - 1].low in _IRREGULAR_PARTICIPLES):
        return True
    window = tokens[max(0, i - 3) : i - 1]
    if any(t.is_punct for t in window):
        return False
    # "someone to talk to", "restaurants to choose from": an infinitival relative
    return any(
        t.low in _fs("i you he she we they this to") or (t.low == "it" and t is not tokens[i - 1])
        for t in window
    )


_IRREGULAR_PARTICIPLES = _fs("""sent given paid made built held told sold bought shown written known taken
    done gone been got gotten brought kept left lent spent put set""")


def _other_end_problem(tokens: list[Tok], i: int, boundary: str, lex: Lex) -> str | None:
    """Why a word of a non-English language cannot stand before this boundary."""
    w = tokens[i].low
    if w in lex.particles:
        return None
    if w in lex.articles:
        return "article"
    if boundary == ",":
        return "preposition without its object" if w in lex.prepositions else None
    if boundary == ":":
        return None
    if w in lex.conjunctions:
        return "conjunction"
    if w in lex.prepositions:
        return "preposition without its object"
    return None


def check_dangling_function_word(tokens: list[Tok], lang: str | None) -> list[str]:
    """A clause that ends on an article, conjunction, preposition or comparator.

    "Find the cheapest flights to.", "open until.", "Find hotels under.",
    "… y.", "… de ?".  English prepositions may be stranded in questions and
    wh-/relative clauses ("What is it for?"), and particles may end a clause
    ("Log in."), so those are let through.
    """
    problems = []
    lex = _lex(lang)
    for i, tok in enumerate(tokens):
        if not tok.is_word or (tok.text[:1].isupper() and i > 0 and tok.low not in _EN_ARTICLES):
            continue
        boundary = _boundary_after(tokens, i)
        if boundary is None:
            continue
        if i > 0 and tokens[i - 1].text in {"'", '"', "«", "“", "„"}:
            continue  # quoted word
        reason = None
        if lang is None and tok.low in _EN_AMBIGUOUS:
            continue  # "an" ends German clauses, "to" is Czech for "it": need to know the language
        if lang in (None, "en"):
            reason = _english_end_problem(tokens, i, boundary)
        elif lex is not None:
            reason = _other_end_problem(tokens, i, boundary, lex)
        if reason:
            problems.append(f"clause ends on {reason} '{tok.text}': {_snippet_tokens(tokens, i)}")
    return problems


def _snippet_tokens(tokens: list[Tok], i: int) -> str:
    lo = max(0, i - 4)
    hi = min(len(tokens), i + 2)
    return "…" + " ".join(t.text for t in tokens[lo:hi])


_EN_PAIR_LEFT = (_EN_STRANDABLE | _EN_NEVER_STRANDED | _EN_COMPARATORS | {"at", "since"}) - {
    "over",
    "including",
    "about",
    "towards",
    "toward",
}
_EN_PAIR_RIGHT = _fs("of to for from with at per via into than between during until in on")


def check_preposition_pile_up(tokens: list[Tok], lang: str | None) -> list[str]:
    """A preposition, comparator or article followed by something that cannot be its object.

    "at per month", "under and list them", "report for on the portal",
    "the and": the object in between was cut.  Coordinated prepositions
    ("to and from", "at or below"), "for at least", and prepositions stranded
    in a wh-clause ("which zone is it for and when") are fine.
    """
    if lang not in (None, "en"):
        return _preposition_pile_up_other(tokens, lang)
    problems = []
    for i in range(len(tokens) - 1):
        a, b = tokens[i], tokens[i + 1]
        if not (a.is_word and b.is_word) or b.text[:1].isupper():
            continue
        if i > 0 and tokens[i - 1].text == "-" and tokens[i - 1].end == a.start:
            continue  # command-line flag "-a"
        if lang is None and (a.low in _EN_AMBIGUOUS or b.low in _EN_AMBIGUOUS):
            continue
        reason = _english_pair_problem(tokens, i)
        if reason:
            problems.append(reason)
    return problems


def _english_pair_problem(tokens: list[Tok], i: int) -> str | None:
    """Why English tokens[i], tokens[i+1] cannot stand next to each other (None if they can)."""
    a, b = tokens[i].low, tokens[i + 1].low
    after = _next_word(tokens, i + 1)
    pair = f"'{tokens[i].text} {tokens[i + 1].text}'"
    if (
        a in _EN_ARTICLES
        and (a != "a" or tokens[i].text == "a")
        and b in _EN_PAIR_RIGHT | _fs("and or but")
    ):
        return f"article followed by {pair}: its noun was cut"
    if (
        a in ("least", "most", "than")
        and b in ("of", "per")
        and _prev_word(tokens, i) in _fs("at more less fewer")
    ):
        return f"'{_prev_word(tokens, i)} {a} {b}': bound without its value"
    if a not in _EN_PAIR_LEFT:
        return None
    if a in _EN_STRANDABLE and _wh_before(tokens, i):
        return None  # stranded in a question: "which zone is it for and when"
    if b == "per":
        return f"{pair}: the value between them was cut"
    if b in ("and", "or", "but"):
        if after and after not in _EN_PREPS | _EN_PARTICLES | {"not", "without"}:
            return f"'{tokens[i].text} {tokens[i + 1].text} {tokens[i + 2].text}': preposition without object"
        return None
    if b in _EN_PAIR_RIGHT and a != "than":
        if b == "at" and after in ("least", "most", "all"):
            return None
        return f"{pair}: preposition without object"
    return None


# "la de Juan", "el del fondo", "quella di": an article may head a pronoun-like phrase.
_ARTICULATED_PREPS = _fs("""al allo alla ai agli alle nel nello nella nei negli nelle sul sulla sui sugli sulle
    dal dalla dai dagli dalle au aux ao aos às no na nos nas pelo pela pelos pelas""")
_GENITIVE_LINKS = _fs("de di da del della dello dei degli delle do da dos das du des que")


def _preposition_pile_up_other(tokens: list[Tok], lang: str | None) -> list[str]:
    """Non-English: "prep + per", "prep + conj + verb", German "in zusammen." (prep + final particle)."""
    problems = []
    lex = _lex(lang)
    if lex is None:
        return problems
    for i in range(len(tokens) - 1):
        a, b = tokens[i], tokens[i + 1]
        if not (a.is_word and b.is_word) or b.text[:1].isupper():
            continue
        if (
            (a.low in lex.prepositions | lex.articles or a.low in _COMPARATORS)
            and b.low in ("per", "pro", "je")
            and a.low not in ("als", "ab", "pro")
        ):
            problems.append(f"'{a.text} {b.text}' has lost the value between them")
        if (
            lang == "de"
            and a.low in _DE_PREP_BEFORE_PARTICLE
            and b.low in _SEPARABLE_DE
            and _boundary_after(tokens, i + 1) in ("end", ".", "?")
        ):
            problems.append(f"preposition '{a.text}' right before the verb particle '{b.text}'")
        if (
            lang in ("es", "fr", "it", "pt")
            and a.low in lex.articles - _fs("a o à")
            and b.low in (lex.prepositions | _ARTICULATED_PREPS) - _GENITIVE_LINKS
        ):
            problems.append(f"article '{a.text}' followed by '{b.text}': its noun was cut")
        if (
            lang in ("ru", "pl", "cs")
            and a.low in lex.prepositions
            and b.low in lex.prepositions
            and b.start > a.end
        ):
            problems.append(f"'{a.text} {b.text}': preposition without object")
        if (
            a.low in _COMPARATOR_LINKS
            and i > 0
            and tokens[i - 1].low in _COMPARATORS
            and (b.low in lex.conjunctions | lex.prepositions)
            and a.start > tokens[i - 1].end
        ):
            problems.append(f"'{tokens[i - 1].text} {a.text} {b.text}': bound without its value")
            continue
        if a.low in lex.prepositions and b.low in lex.conjunctions and a.low not in lex.particles:
            after = _next_word(tokens, i + 1)
            if (
                after
                and after not in lex.prepositions | lex.particles | lex.articles
                and not tokens[i + 2].is_value
                and len(tokens[i + 1].text) > 1
            ):
                problems.append(
                    f"'{a.text} {b.text} {tokens[i + 2].text}': preposition without object"
                )
    return problems


def check_orphan_magnitude(tokens: list[Tok]) -> list[str]:
    """ "earthquakes of magnitude hit": the magnitude noun after "of/de/di" lost its number."""
    problems = []
    magn = {"magnitude", "magnitud", "magnitudo", "magnitudy", "магнитуды", "магнитудой"}
    for i, tok in enumerate(tokens):
        if tok.low not in magn or i == 0:
            continue
        prev = tokens[i - 1].low
        if prev not in {"of", "de", "di", "da", "do", "z", "с"}:
            continue
        if i >= 2 and tokens[i - 2].low in {
            "order",
            "orders",
            "ordre",
            "ordres",
            "ordem",
            "orden",
            "ordine",
        }:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is None or not (
            nxt.is_value or nxt.low in _COMPARATORS | {"≥", ">", "of", "de", "from"}
        ):
            problems.append(f"'{tokens[i - 1].text} {tok.text}' without its value")
    return problems


def check_language_mix(tokens: list[Tok], lang: str | None) -> list[str]:
    """An English sentence glued into a request written in another language.

    "Finn tre tilbud på leie av NVG-sildekvote. List the 2025 til." Only
    lowercase English words (plus an English imperative opening the sentence)
    count, so product names and titles do not trigger it.
    """
    if lang in (None, "en"):
        return []
    native = _LANG_WORDS.get(lang, set())
    problems = []
    for sent in _sentences(tokens):
        words = [t for t in sent if t.is_word]
        if len(words) < 2:
            continue
        en_hits = 0
        native_hits = 0
        for k, t in enumerate(words):
            counted_en = (
                (t.text.islower() or (k == 0 and t.low in _EN_IMPERATIVES))
                and t.low in _EN_MARKERS
                and t.low not in native
            )
            en_hits += counted_en
            native_hits += t.low in native or bool(_CJK_OR_SCRIPT_RE.search(t.text))
        native_hits += sum(t.is_cjk for t in sent)
        if en_hits >= 2 and en_hits > native_hits:
            problems.append(
                f"English words inside a {lang} request: '{' '.join(t.text for t in sent).strip()}'"
            )
    return problems


_CJK_OR_SCRIPT_RE = re.compile(
    r"[\u0400-\u04ff\u0600-\u06ff\u0590-\u05ff\u0370-\u03ff\uac00-\ud7af]"
)


def check_cjk(text: str) -> list[str]:
    """CJK-specific leftovers.

    Japanese: the object particle を right before the end of a sentence, or a
    particle doubled ("をを").  Chinese: a comparator (低于, 不超过, ...) or a
    preposition/conjunction (从, 把, 和, 以及) right before punctuation.
    """
    problems = []
    if re.search(r"を\s*(?:[。！？!?]|$)|をを|がが|にに|でで|へへ", text):
        problems.append("Japanese particle without what it governs")
    if re.search(r"[をにでがと]\s*(?:以下|未満|以内|以上)(?!の)", text):
        problems.append("Japanese bound (以下/未満/以内/以上) without its value")
    if re.search(
        r"(?:低于|高于|少于|多于|不超过|不低于|不少于|不高于|小于|大于|至少)\s*(?:[，。？！、,.?!；;的]|$)",
        text,
    ):
        problems.append("Chinese comparator without its value")
    if re.search(r"(?:从|把|以及|并且|而且|或者)\s*(?:[，。？！、,.?!；;]|$)", text):
        problems.append("Chinese preposition/conjunction without what follows")
    if re.search(r"[在从于]以内", text):
        problems.append("Chinese bound (以内) without its value")
    if re.search(r"(?:^|\s)(?:을|를|에서|으로|에게)(?=[\s.,?!]|$)", text):
        problems.append("Korean particle standing alone")
    if re.search(r"[\uac00-\ud7af](?:에|에서|을|를|은|는|의)\s+(?:이하|미만|초과|이내)", text):
        problems.append("Korean bound (이하/미만/초과/이내) without its value")
    return problems


# ---------------------------------------------------------------------------
# Checks that compare with the original request
# ---------------------------------------------------------------------------


@dataclass
class Seam:
    """A place in the prompt where material of the original was removed."""

    left: Tok | None
    right: Tok | None
    left_index: int
    removed: list[Tok]


def _seams(prompt_tokens: list[Tok], orig_tokens: list[Tok]) -> list[Seam]:
    a = [t.low for t in orig_tokens]
    b = [t.low for t in prompt_tokens]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    seams = []
    for op, i1, i2, j1, _j2 in matcher.get_opcodes():
        if op not in ("delete", "replace"):
            continue
        left = prompt_tokens[j1 - 1] if j1 > 0 else None
        right = prompt_tokens[j1] if j1 < len(prompt_tokens) else None
        seams.append(Seam(left, right, j1 - 1, orig_tokens[i1:i2]))
    return seams


_ALL_PREPOSITIONS = (
    frozenset().union(*(lex.prepositions | lex.particles for lex in _LEX.values())) | _EN_PREPS
)
_ALL_FUNCTION = frozenset().union(
    *(lex.prepositions | lex.particles | lex.conjunctions for lex in _LEX.values())
)
_COMPLEMENTIZERS = _fs("que qui che dass som který která které что który która które ki")


def _is_function_word(tok: Tok | None, lang: str | None) -> bool:
    """Punctuation, end of text, or a word that cannot start a noun phrase."""
    if tok is None or tok.is_punct:
        return True
    low = tok.low
    if low in _COMPLEMENTIZERS and lang not in (None, "en"):
        return True
    if low in _EN_PREPS | _EN_CONJ | {"per"} and (lang in (None, "en") or low == "per"):
        return True
    lex = _lex(lang)
    if lex is not None and low in lex.prepositions | lex.conjunctions | lex.particles:
        return True
    if lang is None and low in _ALL_FUNCTION | _COMPLEMENTIZERS:
        return True
    return low in _UNITS


def _starts_object(tok: Tok, lang: str | None) -> bool:
    """Could ``tok`` have been the start of a preposition's object in the original?"""
    if tok.is_value or tok.text[:1].isupper() or tok.is_cjk:
        return True
    lex = _lex(lang)
    arts = _EN_ARTICLES | (lex.articles if lex else frozenset())
    return tok.low in arts


def _is_comparator_left(prompt_tokens: list[Tok], idx: int) -> bool:
    tok = prompt_tokens[idx]
    if tok.low in _COMPARATORS:
        return True
    if tok.low == "to" and idx > 0 and prompt_tokens[idx - 1].low == "up":
        return True
    return bool(
        tok.low in _COMPARATOR_LINKS and idx > 0 and prompt_tokens[idx - 1].low in _COMPARATORS
    )


def check_seam_preposition(
    prompt_tokens: list[Tok], seams: list[Seam], lang: str | None
) -> list[str]:
    """A preposition or comparator whose object (in the original) was cut.

    "Reserve … at per month" (was "at €400 per month"), "under and list"
    (was "under $120 and list"), "…til." (was "til 2025").  A comparator
    that lost its number is flagged whatever follows; a plain preposition
    only when what now follows cannot be its object.
    """
    problems = []
    lex = _lex(lang)
    preps = _EN_PREPS | (lex.prepositions | lex.particles if lex else frozenset())
    if lang in ("no", "da", "sv"):
        preps |= _fs("til på av fra för från om med i for")
    arts = _EN_ARTICLES | (lex.articles if lex else frozenset())
    for seam in seams:
        left, right = seam.left, seam.right
        if left is None or not left.is_word or not seam.removed:
            continue
        first = seam.removed[0]
        if not _starts_object(first, lang):
            continue
        replaced = right is not None and right.is_value
        if _is_comparator_left(prompt_tokens, seam.left_index) and first.is_value and not replaced:
            problems.append(f"comparator '{left.text}' lost its value ({_join(seam.removed)})")
        elif (left.low in preps or left.low in arts) and _is_function_word(right, lang):
            problems.append(f"'{left.text}' lost its object ({_join(seam.removed)})")
        elif left.low in arts and right is not None and right.low in arts:
            problems.append(f"article '{left.text}' lost its noun ({_join(seam.removed)})")
    return problems


def check_seam_label_noun(seams: list[Seam]) -> list[str]:
    """A noun that only makes sense with its number lost it.

    "of magnitude hit" (was "magnitude 6+ hit"), "w roku" (was "w 2024 roku").
    """
    problems = []
    for seam in seams:
        if seam.left is None or not seam.removed or not seam.removed[0].is_value:
            continue
        if not all(t.is_value or t.is_punct or t.low in _UNITS for t in seam.removed):
            continue
        if seam.left.low in _LABEL_NOUNS and not (seam.right and seam.right.is_value):
            problems.append(f"'{seam.left.text}' lost its number ({_join(seam.removed)})")
        elif (
            seam.right is not None
            and seam.right.low in _LABEL_NOUNS
            and seam.left.low in _ALL_PREPOSITIONS
        ):
            problems.append(
                f"'{seam.left.text} {seam.right.text}' lost its number ({_join(seam.removed)})"
            )
    return problems


def check_seam_participle(seams: list[Seam], lang: str | None) -> list[str]:
    """A participle left at the end after its complement was cut ("… en salud publicados.")."""
    regex = _PARTICIPLE_RE.get(lang or "en")
    if regex is None:
        return []
    problems = []
    lex = _lex(lang)
    preps = _EN_PREPS if lang in (None, "en") else (lex.prepositions if lex else frozenset())
    for seam in seams:
        if seam.left is None or not seam.removed or not regex.match(seam.left.low):
            continue
        if seam.right is not None and seam.right.text not in _SENT_END:
            continue
        first = seam.removed[0]
        if first.is_value or first.low in preps or first.low in _COMPARATORS:
            problems.append(
                f"participle '{seam.left.text}' lost its complement ({_join(seam.removed)})"
            )
    return problems


def check_seam_doubled_word(seams: list[Seam], original: str) -> list[str]:
    """A cut that brings two copies of one word together ("List the the suppliers")."""
    problems = []
    for seam in seams:
        left, right = seam.left, seam.right
        if left and right and left.is_word and right.is_word and left.low == right.low:
            pair = f"{left.text} {right.text}"
            if pair.lower() not in original.lower():
                problems.append(f"doubled word at a cut '{pair}'")
    return problems


def check_seam_orphan_unit(seams: list[Seam]) -> list[str]:
    """A unit or currency left without its amount ("… km", "$ and")."""
    problems = []
    for seam in seams:
        if not seam.removed:
            continue
        if (
            seam.removed[-1].is_value
            and seam.right is not None
            and seam.right.low in _UNITS
            and seam.right.low not in ("m", "g", "l", "try")
        ):
            problems.append(f"unit '{seam.right.text}' lost its amount")
        if (
            seam.left is not None
            and seam.left.text in {"$", "€", "£", "¥", "₹"}
            and seam.removed[0].is_value
            and not (seam.right is not None and seam.right.is_value)
        ):
            problems.append(f"currency sign '{seam.left.text}' lost its amount")
    return problems


# Characters that govern a following value (left of a cut) or need a preceding
# one (right of a cut) in Chinese and Japanese.
_CJK_GOVERNORS = set("在从于到至比约共每低高超过のにをでがとへや")
_CJK_DEPENDENTS = set("以的元块円个件人名日月年号のにをでがはとへもまより、。，？！")


def check_seam_cjk(seams: list[Seam]) -> list[str]:
    """Chinese/Japanese: a particle or preposition now touches a particle or bound whose value was cut.

    "6月12日のに" (was "6月12日の13:00〜17:00に"), "预算在以内" (was "预算在500元以内").
    """
    problems = []
    for seam in seams:
        left, right = seam.left, seam.right
        if left is None or right is None or not (left.is_cjk or right.is_cjk):
            continue
        if (
            any(t.is_value for t in seam.removed)
            and left.text in _CJK_GOVERNORS
            and right.text in _CJK_DEPENDENTS
        ):
            problems.append(
                f"'{left.text}{right.text}': the value between them was cut ({_join(seam.removed)})"
            )
    return problems


def check_seam_constraint_clause(prompt_tokens: list[Tok], seams: list[Seam]) -> list[str]:
    """A clause whose only point was the cut bound ("Keep the order total including delivery.")."""
    problems = []
    for seam in seams:
        if seam.left is None or not any(t.is_value for t in seam.removed):
            continue
        clause = _clause_of(prompt_tokens, seam.left_index)
        words = [t for t in clause if t.is_word]
        if words and words[0].low in _CONSTRAINT_STARTERS and not any(t.is_value for t in clause):
            problems.append(
                f"clause '{' '.join(t.text for t in clause)}' lost the bound it was about"
            )
    return problems


def _clause_of(tokens: list[Tok], i: int) -> list[Tok]:
    stops = _SENT_END | {":", "：", "—", "–", ";"}
    start = i
    while start > 0 and tokens[start - 1].text not in stops:
        start -= 1
    end = i
    while end + 1 < len(tokens) and tokens[end + 1].text not in stops:
        end += 1
    return tokens[start : end + 1]


def check_language_switch(prompt: str, original: str, prompt_tokens: list[Tok]) -> list[str]:
    """The prompt is not in the original's language, or gained English glue words it did not have."""
    problems = []
    p_lang, o_lang = _confident_language(prompt), _confident_language(original)
    if p_lang and o_lang and _LANG_GROUP.get(p_lang, p_lang) != _LANG_GROUP.get(o_lang, o_lang):
        problems.append(f"language changed from {o_lang} to {p_lang}")
    o_lang = o_lang or detect_language(original)
    if o_lang and o_lang != "en":
        orig_words = {t.low for t in tokenize(original)}
        native = _LANG_WORDS.get(o_lang, set())
        new_en = [
            t.text
            for t in prompt_tokens
            if t.is_word
            and t.low not in orig_words
            and t.low in _EN_MARKERS
            and t.low not in native
        ]
        if len(new_en) >= 2:
            problems.append(f"English words added to a {o_lang} request: {' '.join(new_en)}")
    return problems


def _join(tokens: Iterable[Tok]) -> str:
    return " ".join(t.text for t in tokens)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def grammar_problems(prompt: str, original: str | None = None) -> list[str]:
    """Reasons why ``prompt`` does not read as a well-formed request (empty list if it does).

    ``original`` is the request the prompt was cut from; when given, the
    places where material was removed are inspected as well.
    """
    if not prompt or not prompt.strip():
        return ["empty request"]
    text = _mask_opaque(prompt.strip())
    tokens = tokenize(text)
    lang = detect_language(text)
    if original and lang is None:
        lang = detect_language(
            _mask_opaque(original)
        )  # short prompts: borrow the original's language
    problems: list[str] = []
    problems += check_space_before_punctuation(text, lang)
    problems += check_doubled_punctuation(text)
    problems += check_edges(text)
    problems += check_dangling_dash(text)
    problems += check_brackets_and_quotes(text)
    problems += check_doubled_words(tokens)
    problems += check_elision(text)
    problems += check_dangling_function_word(tokens, lang)
    problems += check_preposition_pile_up(tokens, lang)
    problems += check_orphan_magnitude(tokens)
    problems += check_language_mix(tokens, lang)
    problems += check_cjk(text)
    if original and original.strip():
        orig_text = _mask_opaque(original.strip())
        orig_tokens = tokenize(orig_text)
        seams = _seams(tokens, orig_tokens)
        problems += check_seam_preposition(tokens, seams, lang)
        problems += check_seam_label_noun(seams)
        problems += check_seam_participle(seams, lang)
        problems += check_seam_doubled_word(seams, orig_text)
        problems += check_seam_orphan_unit(seams)
        problems += check_seam_cjk(seams)
        problems += check_seam_constraint_clause(tokens, seams)
        problems += check_language_switch(text, orig_text, tokens)
    return _dedupe(problems)
