"""Stage 1's failure type in rule mode: a linear model over the run's failure signals.

Which type a run's failure is depends on how the grader phrased the failure reason as much as
on the lexicon hits ("never retrieved (rate limit)" is an incomplete answer, "the refund
request failed (500) and the answer does not mention it" a tool error), so hand-set
priorities among the lexicons kept confusing neighbours. The type is instead the best score of
a multinomial logistic regression over

* the failure reason's stemmed words and word pairs,
* the signals of ``agenther.rules.failure_signals``: lexicon hits per type (all text, and the
  reason alone), the type with the most hits, error observations, unsupported claims,
  injected instructions, destructive acts, a missing answer or reason, hallucination phrases
  in the answer itself, and how much of the request the run's text used;
* what any author's run shows whatever the reason's wording: a numeric limit in the request
  (a constraint can only be violated where there is one), a last observation that is an
  error, an answer that admits failing.

The weights live in ``failure_types.json`` beside this module, fitted on the hand-labelled
tuning sets by ``python -m bench.fit_failure_types`` (never on the blind set, which stays the
yardstick). Prediction is a sparse dot product: no dependency and no measurable cost.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from agenther.constraints import find_constraints
from agenther.final_answer import admitted_failure
from agenther.models import FailedTrajectory, FailureType
from agenther.rules.failure_signals import TIE_ORDER, FailureSignals
from agenther.rules.lexicon import REASON_CUES
from agenther.rules.observations import ObservationKind, observation_kind
from agenther.words import stem, tokens

_WEIGHTS_FILE = "failure_types.json"


def type_features(t: FailedTrajectory, signals: FailureSignals) -> dict[str, float]:
    """The model's input for one run; ``bench.fit_failure_types`` fits on exactly these."""
    features: dict[str, float] = {}
    words = [stem(REASON_CUES.get(w, w)) for w in tokens(t.failure_reason) if not w.isdigit()]
    for word in words:
        key = "reason:" + word
        features[key] = features.get(key, 0.0) + 1.0
    for first, second in pairwise(words):
        key = f"reason:{first} {second}"
        features[key] = features.get(key, 0.0) + 1.0
    for kind in FailureType:
        if signals.hits[kind]:
            features["hits:" + kind.value] = math.log1p(signals.hits[kind])
        if signals.reason_hits[kind]:
            features["reason_hits:" + kind.value] = float(signals.reason_hits[kind])
    strongest = signals.strongest()
    features["strongest:" + (strongest.value if strongest else "none")] = 1.0
    flags = {
        "errored": min(signals.errored, 3),
        "all_errored": signals.observations > 0 and signals.errored == signals.observations,
        "nothing_usable": signals.usable == 0,
        "unsupported": min(signals.unsupported_claims, 4),
        "injected": signals.injected,
        "destructive": signals.destructive,
        "miscalculated": signals.miscalculated,
        "no_answer": not t.final_answer,
        "no_reason": not t.failure_reason,
        "request_limit": bool(find_constraints(t.original_prompt)),
        "last_errored": bool(t.steps)
        and observation_kind(t.steps[-1].observation) is ObservationKind.ERROR,
        "answer_admits": bool(t.final_answer) and admitted_failure(t.final_answer) is not None,
        "answer_hedges": min(signals.answer_hedges, 3),
    }
    features.update((name, float(value)) for name, value in flags.items() if value)
    if signals.goal_overlap is not None:
        features["goal_overlap"] = signals.goal_overlap
    return features


@cache
def load_type_model() -> tuple[
    dict[FailureType, float], dict[str, list[tuple[FailureType, float]]]
]:
    raw: dict[str, Any] = json.loads(
        resources.files("agenther.rules").joinpath(_WEIGHTS_FILE).read_text(encoding="utf-8")
    )
    classes = [FailureType(name) for name in raw["classes"]]
    intercept = dict(zip(classes, raw["intercept"], strict=True))
    weights = {
        feature: [(classes[i], w) for i, w in enumerate(row) if w]
        for feature, row in raw["weights"].items()
    }
    return intercept, weights


def classify_failure(t: FailedTrajectory, signals: FailureSignals) -> FailureType:
    """The failure type with the best score (ties go to the first of ``TIE_ORDER``)."""
    intercept, weights = load_type_model()
    scores = dict(intercept)
    for feature, value in type_features(t, signals).items():
        for kind, weight in weights.get(feature, ()):
            scores[kind] += weight * value
    return max(TIE_ORDER, key=lambda kind: (scores[kind], -TIE_ORDER.index(kind)))
