"""The fast scans of the rule stages find exactly what the plain regex scans find.

Each fast path (candidate starts for lexicon phrases, lower-cased ASCII instead of IGNORECASE,
literal pre-checks) is compared with the straightforward scan on texts built to
hit the edges: every lexicon word, signs, currencies, list markers, URLs, dates, non-ASCII
case folds.
"""

from __future__ import annotations

import asyncio
import random
import re
import unicodedata

import pytest

from agenther import AgentHERPipeline, PipelineConfig, demands, places, quantities
from agenther.errors import StageError
from agenther.models import AgentStep, FailedTrajectory, FailureAnalysis
from agenther.rules import lexicon, steps
from agenther.rules import observations as obs
from tests.support.trajectories import reference_trajectories

_LEXICON_WORDS = sorted(
    {
        word
        for phrases in (*lexicon._LEXICONS.values(), lexicon._DESTRUCTIVE)
        for phrase in phrases
        for word in re.findall(r"[a-z']+", phrase)
    }
)
_TOKENS = [
    *_LEXICON_WORDS,
    "1)", "(2)", "#4", "$1,000.50", "-$.5", "−3", "3.5e6", "2.5 million", "v1.2.3", "12%",
    "Qwen2.5-72B", "https://x.y/z?1=2", "www.a.com/7", "http", "2024-01-02", "#2024-01-02",
    "5577e7998565", "a.5", "x-12", "5-10", "40 kg", "€3.5k", "²", "١٢٣", "ſ", "K", "İ", "Σ",
    "Error:", "Traceback (most recent call last)", "ValueError:", "HTTP 404", "BASED ON",
    "training data", "may not reflect", "I THINK", "maybe", "not sure", "a different task",
    "Acme", "'quoted'", "report.csv", "\n", "\t", " ", "  ", ".", ",", ";", ":", "-", "_",
]  # fmt: skip


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        words = [rng.choice(_TOKENS) for _ in range(rng.randint(0, 25))]
        glue = rng.choice([" ", "", "\n", " - "])
        text = glue.join(words)
        if rng.random() < 0.2:
            text = text.upper()
        texts.append(text)
    return texts


TEXTS = _texts(4000, 11)


def test_lexicon_candidates_match_finditer() -> None:
    found = 0
    for text in TEXTS:
        lowered = ("\n" + text).lower()
        fast = [(m.group, m.start, m.text) for m in lexicon.lexicon_matches(lowered)]
        slow = lexicon._LEXICON_RE.finditer(lowered)
        assert fast == [(m.lastgroup, m.start(), m.group(0)) for m in slow], text
        found += len(fast)
    assert found > 1000  # the texts do exercise the lexicon


def _opening_words(phrase: str) -> list[str]:
    """The words a phrase can open with: its leading letters, or those of each alternative
    of a leading group (and of what follows the group when the group is optional)."""
    if not phrase.startswith("(?:"):
        word = re.match(r"[a-z]+", phrase)
        return [word.group(0)] if word else []
    depth, end, cuts = 0, 0, [3]
    for i, char in enumerate(phrase):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 1:
            cuts.append(i + 1)
        if depth == 0:
            end = i
            break
    options = [phrase[a:b].rstrip("|") for a, b in zip(cuts, [*cuts[1:], end], strict=True)]
    words = [w for option in options for w in _opening_words(option)]
    if phrase[end + 1 : end + 2] == "?":
        words += _opening_words(phrase[end + 2 :])
    return words


def test_every_lexicon_phrase_opens_with_a_listed_start() -> None:
    checked = 0
    for phrases in (*lexicon._LEXICONS.values(), lexicon._DESTRUCTIVE):
        for phrase in phrases:
            if not phrase[0].isalpha() and not phrase.startswith("(?:"):
                continue  # "[45]..." never matches: the lexicon needs a letter first
            words = _opening_words(phrase)
            assert words, phrase
            for word in words:
                assert re.match(rf"(?:{lexicon.STARTS_TRIE}|a\s)", word + " "), (word, phrase)
                checked += 1
    assert checked > 100


def test_ascii_observation_kinds_match_ignorecase() -> None:
    for text in TEXTS:
        head = text[:300]
        assert obs._is_error(head) == bool(obs._ERROR_OBSERVATION_RE.search(head)), text
        assert obs._is_generated(text) == bool(obs._GENERATED_OBSERVATION_RE.search(text)), text


def test_hedge_precheck_matches_search() -> None:
    for text in TEXTS:
        lowered = text.lower()
        assert steps.hedges(lowered) == bool(steps.HEDGE_RE.search(lowered)), text


_DEMAND_TOKENS = [
    *(w for family in demands._FAMILIES for w in (*family.english, *family.foreign)),
    "please", "then", "can you", "add the lamp to my cart", "place an order", "ſend", "K",
    "İ", "SEND", "Wire", "paying", "booked", "account", "current", "al carrito",
    "in den Warenkorb", "enviado", "pubblicati",
]  # fmt: skip


def test_demanded_families_with_the_word_precheck_match_every_pattern() -> None:
    rng = random.Random(5)
    texts = [
        rng.choice([" ", ". ", "\n", ", "]).join(
            rng.choice([*_DEMAND_TOKENS, *_TOKENS]) for _ in range(rng.randint(0, 12))
        )
        for _ in range(3000)
    ]
    found = 0
    for text in [*texts, *(t.upper() for t in texts[:500])]:
        slow = tuple(
            family.name
            for family, english, foreign, phrases in demands._PATTERNS
            if english.search(text)
            or demands._asks_in_foreign(foreign, text)
            or (phrases is not None and phrases.search(text))
        )
        assert demands.demanded_actions(text) == list(slow), text
        found += len(slow)
    assert found > 1000


def test_ascii_fold_equals_the_unicode_fold() -> None:
    for text in TEXTS:
        if text.isascii():
            decomposed = unicodedata.normalize("NFKD", text.casefold())
            slow = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
            assert places.fold(text) == slow, text
    assert places.fold("MÜNCHEN Straße") == "munchen strasse"


def test_a_hex_id_with_a_huge_exponent_is_no_quantity() -> None:
    # "5577e7998565" once overflowed decimal and failed the whole run at Stage 1.
    assert quantities.extract_numbers('{"request_id": "5577e7998565", "total": 3}') == ["3"]
    assert quantities.extract_numbers("3.5e6 and 1e308") == ["3500000", "1" + "0" * 308]


def test_rule_path_without_a_loop_equals_arelabel() -> None:
    pipeline = AgentHERPipeline(PipelineConfig(rule_based=True))
    for trajectory in reference_trajectories():
        direct = pipeline.relabel_rule_based(trajectory)
        via_loop = asyncio.run(pipeline.arelabel(trajectory))
        assert direct == via_loop


def test_rule_path_raises_stage_errors_like_arelabel() -> None:
    pipeline = AgentHERPipeline(PipelineConfig(rule_based=True))
    run = FailedTrajectory(
        original_prompt="find it",
        steps=[AgentStep(action_name="search", observation="ok")],
    )
    pipeline.detector.detect_rule_based = _boom  # type: ignore[method-assign]
    with pytest.raises(StageError) as raised:
        pipeline.relabel_rule_based(run)
    assert raised.value.stage == "failure_detection"
    result = pipeline.process(run)
    assert not result.success and isinstance(result.exception, RuntimeError)


def _boom(trajectory: FailedTrajectory) -> FailureAnalysis:
    raise RuntimeError("detector broke")


def test_relabel_rule_based_refuses_llm_stages() -> None:
    pipeline = AgentHERPipeline(PipelineConfig(api_key="sk-test", base_url="http://127.0.0.1:9"))
    with pytest.raises(ValueError):
        pipeline.relabel_rule_based(reference_trajectories()[0])
