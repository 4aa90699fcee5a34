"""Words as the rules compare them: one tokenizer and one stemmer for every module.

Text of any script is split the same way: runs of letters and digits are tokens, and each
Chinese, Japanese or Korean character is a token of its own (those scripts do not put spaces
between words, and a character is close to a morpheme).
"""

from __future__ import annotations

import re

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
# A word that starts with a letter, as English rules read them ("co-op", "it's").
WORD_RE = re.compile(r"[a-z][a-z0-9'-]{2,}")


def tokens(text: str) -> list[str]:
    """Lower-cased tokens of ``text`` in order (letters and digits; CJK one per character)."""
    return TOKEN_RE.findall(text.lower())


def stem(word: str) -> str:
    """A crude English stem: enough to match "flights" to "flight" and "booked" to "book"."""
    for suffix in ("ies", "es", "ed", "ing", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
