"""How varied the recovered goals are (paper §5.3): the leading verb of each hindsight prompt,
its distribution's entropy and its long tail."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# Politeness and framing before the request's own verb: "Please find ...", "Can you list ...".
_LEAD_IN = re.compile(
    r"^(?:(?:please|kindly|hey|hi|ok(?:ay)?)[,!]?\s+"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?"
    r"|i(?:'d| would)\s+like\s+(?:you\s+)?to\s+"
    r"|i\s+(?:want|need)\s+(?:you\s+)?to\s+"
    r"|help\s+me\s+(?:to\s+)?"
    r"|let's\s+)+",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_SUBJECTS = {"i", "we"}


def leading_verb(prompt: str) -> str:
    """The request's first word after any politeness and a leading "I"/"we", lower-cased and
    without its contraction ("What's" -> "what", "I need a route" -> "need"); "" for none."""
    words = [re.sub(r"['’].*", "", w) for w in _WORD.findall(_LEAD_IN.sub("", prompt.strip()))]
    if len(words) > 1 and words[0].lower() in _SUBJECTS:
        words = words[1:]
    return words[0].lower() if words else ""


@dataclass(frozen=True)
class GoalDistribution:
    counts: Counter[str]

    @classmethod
    def of(cls, prompts: Iterable[str]) -> GoalDistribution:
        return cls(Counter(v for v in (leading_verb(p) for p in prompts) if v))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def entropy_bits(self) -> float:
        total = self.total
        # 0.0 - x, not -x: one verb gives 0.0, never "-0.00".
        return 0.0 - sum((n / total) * math.log2(n / total) for n in self.counts.values() if n)

    @property
    def singleton_share(self) -> float:
        """Share of prompts whose leading verb occurs once: the long tail."""
        total = self.total
        return sum(1 for n in self.counts.values() if n == 1) / total if total else 0.0

    def top(self, n: int = 15) -> list[tuple[str, int]]:
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
