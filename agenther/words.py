"""Words as the rules compare them: one tokenizer, and the word patterns and stems they share.

Text of any script is split the same way: runs of letters and digits are tokens, and each
Chinese, Japanese or Korean character is a token of its own (those scripts do not put spaces
between words, and a character is close to a morpheme).
"""

from __future__ import annotations

import re
from functools import lru_cache

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
# A word that starts with a letter, as English rules read them ("co-op", "it's", "gpt4").
WORD_RE = re.compile(r"[a-z][a-z0-9'-]{2,}")
# The same without digits, as Stage 1 reads a goal's words ("gpt4" gives "gpt").
LETTER_WORD_RE = re.compile(r"[a-z][a-z'-]{2,}")


_CJK_CHAR_RE = re.compile(f"[{_CJK}]")


def is_cjk(char: str) -> bool:
    """Whether ``char`` is a Chinese, Japanese or Korean character (a token of its own)."""
    return _CJK_CHAR_RE.match(char) is not None


def tokens(text: str) -> list[str]:
    """Lower-cased tokens of ``text`` in order (letters and digits; CJK one per character)."""
    return TOKEN_RE.findall(text.lower())


# Runs of kanji, katakana or hangul: Chinese, Japanese and Korean put no spaces between words,
# so two such characters in a row stand for a word (hiragana is mostly grammar).
_CJK_CONTENT_RE = re.compile(r"[\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,}")
# Pairs any request has: "help me look up", "how many", "list".
_REQUEST_PAIRS = frozenset(
    "帮我 查一 一下 请问 哪些 多少 什么 列出 统计 显示 告诉 给我 查询 教え 一覧".split()
)


def content_pairs(prompt: str) -> list[str]:
    """Two-character words of a Chinese, Japanese or Korean ``prompt``, filler left out."""
    return [
        pair
        for run in _CJK_CONTENT_RE.findall(prompt)
        for pair in (run[i : i + 2] for i in range(len(run) - 1))
        if pair not in _REQUEST_PAIRS
    ]


# Words repeat across runs and candidates; stemming them is a hot path of the rule pipeline.
@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A crude English stem: enough to match "flights" to "flight" and "booked" to "book"."""
    for suffix in ("ies", "es", "ed", "ing", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def prefix_stem(word: str) -> str:
    """A coarser key than ``stem``, Stage 1's: a prefix is enough to match "prices"/"pricing"
    or "suppliers"/"supplier"."""
    return word[:4] if len(word) <= 6 else word[:5]


# Short function words that tell languages written in Latin letters apart.
FUNCTION_WORDS = {
    "en": frozenset(
        "the a an and or of to in on for with from by is are was were what which how many "
        "much me my i you your it this that these those find show list get all any please "
        "can could would".split()
    ),
    "de": frozenset(
        "der die das und oder ein eine mit von zu für ist sind ich mir mein wie".split()
    ),
    "fr": frozenset(
        "le la les et ou un une des du de en à au aux avec pour dans sur chez est sont je moi "
        "mon notre votre quel".split()
    ),
    "es": frozenset(
        "el la los las y o un una con para de del es son yo mi qué cuál en se por".split()
    ),
    "pt": frozenset("o a os as e ou um uma com para de do da é são eu meu qual".split()),
    "it": frozenset("il lo la gli le e o un una con per di del è sono io mio quale".split()),
    "nl": frozenset(
        "de het een en of met van voor is zijn ik mijn wat welke op naar bij uit ook".split()
    ),
    "pl": frozenset("w z na do się nie jest są dla od czy jak co mój moje mojego mi".split()),
    "sv": frozenset(
        "och att det som för med är jag min mitt vad hur på en ett från till hos".split()
    ),
    "no": frozenset("og på av til er jeg meg mitt det som et ikke hva hvordan hvilke".split()),
    "da": frozenset("og på af til er jeg mig det som et ikke hvad hvordan hvilke".split()),
    "tr": frozenset("ve bir bu için ile mi ne nasıl hangi kaç ben benim bana".split()),
    "cs": frozenset("a v je se pro že kolik který která které můj mě jsou".split()),
}
_NON_LATIN_RE = re.compile(r"[^\x00-\u024f\u1e00-\u1eff\s\d\W]")
_PRONOUN_I_RE = re.compile(r"\bI\b")
# "2.4 mi" is a distance in miles, not the Spanish or Polish "mi" ("my").
_MILES_RE = re.compile(r"(?<=\d)\s?mi\b")


# The same request is asked about by several strategies of one run.
@lru_cache(maxsize=4096)
def english(text: str) -> bool:
    """Whether ``text`` reads as English: Latin letters only, and at least as many English
    function words than any other language's (a request with none is taken as English)."""
    if _NON_LATIN_RE.search(text):
        return False
    words = tokens(_MILES_RE.sub("", text))
    if "i" in words and not _PRONOUN_I_RE.search(text):
        # A lower-case "i" is the Nordic, Polish or Italian preposition, not the pronoun.
        words = [w for w in words if w != "i"]
    hits = {lang: sum(w in vocab for w in words) for lang, vocab in FUNCTION_WORDS.items()}
    others = max(count for lang, count in hits.items() if lang != "en")
    # With no function word of any language, letters English does not use ("à", "å") decide.
    return hits["en"] > others or (hits["en"] == others == 0 and text.isascii())


@lru_cache(maxsize=4096)
def latin_language(text: str) -> str | None:
    """The language of ``FUNCTION_WORDS`` that ``text`` uses most function words of, or None
    (another script, none of them, or a tie)."""
    languages = latin_languages(text)
    return languages[0] if len(languages) == 1 else None


def latin_languages(text: str) -> tuple[str, ...]:
    """The languages of ``FUNCTION_WORDS`` that tie for the most function words of ``text``;
    none for another script or no function word at all."""
    if _NON_LATIN_RE.search(text):
        return ()
    words = tokens(_MILES_RE.sub("", text))
    hits = {lang: sum(w in vocab for w in words) for lang, vocab in FUNCTION_WORDS.items()}
    best = max(hits.values())
    return tuple(lang for lang, n in hits.items() if n == best) if best else ()
