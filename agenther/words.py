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


def tokens(text: str) -> list[str]:
    """Lower-cased tokens of ``text`` in order (letters and digits; CJK one per character)."""
    return TOKEN_RE.findall(text.lower())


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
