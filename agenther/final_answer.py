"""Is the run's final answer a demonstration of anything? (docs/quality.md, part c)

An example pairs the hindsight request with the run as it happened, final answer included. An
answer that apologises, says the task could not be done or talks about the requirement it
missed ("I was unable to find a supplier meeting both criteria") answers the *failed* request,
not the new one: trained on, it teaches the model to announce failure after succeeding. Neither
mode rewrites answers today, so such a run yields no example in either mode.
"""

from __future__ import annotations

import re

from agenther.demands import demanded_actions
from agenther.scanning import shared_scan
from agenther.words import LETTER_WORD_RE

_ADMISSION_RE = re.compile(
    r"""
    \b(?:unable|could\s*n[o']?t|couldn't|can't|cannot|wasn't\s+able|was\s+not\s+able
      |were\s+not\s+able|not\s+able\s+to|did\s*n[o']?t\s+(?:find|work|manage|succeed|get)
      |did\s+not\s+\w+|didn't\s+\w+|(?:i|we)\s+(?:haven't|haven’t|have\s+not)\s+\w+|still\s+to\s+(?:do|come|be\s+done)|not\s+yet
      |(?:is|are|was|were)\s*n[o']?t\s+installed|isn't\s+installed|aren't\s+installed
      |failed\s+to|unfortunately|i'?m\s+sorry|apologi[sz]e|sorry|ran\s+out\s+of
      |no\s+(?:\w+\s+){0,3}(?:was|were|could\s+be)\s+found|none\s+of\s+(?:the|them|these)
      |(?:does|do)\s*n[o']?t\s+meet|not\s+(?:possible|available)\s+to
      |only\s+(?:managed|got\s+through|found\s+\d+\s+of))\b
    | \bno\s+(?:[\w-]+\s+){0,4}(?:matches|meets|satisfies|fits|has|offers|qualifies)\b
    | \bnothing\s+(?:[\w-]+\s+){0,4}(?:is|was|were|comes?)\s+(?:in\s+)?(?:under|below|over|above
      |within|cheaper|less|more|lower|higher)\b
    | \b(?:both|all\s+(?:the|your|of\s+the|of\s+your)?|your)\s*(?:filters|criteria|conditions
      |requirements|constraints)\b
    | \b(?:over|above|exceeds?|exceeding|beyond)\s+(?:your|the)\s+(?:budget|limit|maximum|cap)\b
    | \bthe\s+closest\s+(?:match(?:es)?|options?|ones?|alternatives?|are|is|i\s+(?:could|can))\b
    | \b(?:leider|konnte\s+(?:\w+\s+)?nicht|nicht\s+gefunden|nicht\s+möglich)\b
    | \b(?:malheureusement|n'ai\s+pas\s+pu|impossible\s+de|aucun\w*\s+\w+\s+trouv)
    | \b(?:lamentablemente|no\s+pude|no\s+(?:se\s+)?(?:encontr|pudo)|no\s+fue\s+posible)
    | \b(?:infelizmente|não\s+consegui|não\s+foi\s+possível|nenhum\w*\s+\w+\s+encontrad)
    | \b(?:purtroppo|non\s+sono\s+riuscit|non\s+è\s+stato\s+possibile)
    | \b(?:helaas|niet\s+gelukt|kon\s+(?:\w+\s+)?niet)\b
    | не\s+удалось | к\s+сожалению | не\s+смог
    | 无法 | 未能 | 没有找到 | 抱歉 | 很遗憾 | できませんでした | 見つかりません | 申し訳
    | 찾을\s*수\s*없 | 죄송 | 실패했
    """,
    re.IGNORECASE | re.VERBOSE,
)


# Stage 1's type model and Stage 3's answer check read one answer.
@shared_scan
def admitted_failure(final_answer: str) -> str | None:
    """The words of ``final_answer`` that admit the run failed, if any."""
    match = _ADMISSION_RE.search(final_answer)
    return " ".join(match.group(0).split()) if match else None


def answer_problem(final_answer: str) -> str | None:
    """Why this final answer cannot close a training example, or None when it can."""
    if not final_answer.strip():
        return "the run has no final answer to pair with a request"
    admitted = admitted_failure(final_answer)
    if admitted:
        return f"the final answer admits a failure ('{admitted}'), so it answers no new request"
    return None


# "The deployment of api 2.4.1 to staging failed: …". Said of something the user asked to be
# done, "failed" admits the run's own failure; said of anything else ("3 tests failed", "the
# nightly job failed at 02:13") it may be the answer, so only requests that ask for a side
# effect are checked, and only a clause that shares a word with the request counts.
_FAILED_CLAUSE_RE = re.compile(
    r"((?:[^.!?;:\n]|[.:](?=\S)){0,80}?)\b(?:has\s+|have\s+|had\s+)?(?:failed|was\s+(?:rejected|declined))\b",
    re.IGNORECASE,
)


def _prefixes(text: str) -> set[str]:
    # Four letters meet a verb and its noun ("deploy"/"deployment", "book"/"booking").
    return {w[:4] for w in LETTER_WORD_RE.findall(text.lower()) if len(w) > 3}


def reported_failure(request: str, final_answer: str) -> str | None:
    """The clause of ``final_answer`` that says what ``request`` asked to be done failed."""
    if "fail" not in final_answer.lower() and "was " not in final_answer.lower():
        return None
    if not demanded_actions(request):
        return None
    asked = _prefixes(request)
    for match in _FAILED_CLAUSE_RE.finditer(final_answer):
        if _prefixes(match.group(1)) & asked:
            return " ".join(match.group(0).split())
    return None
