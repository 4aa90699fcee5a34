"""Can this run demonstrate *anything*? Checked once per run, before any request is written.

Some things spoil every example a run could give, whatever the request (docs/quality.md):
its final answer admits the failure (``agenther.final_answer``), states figures no observation
shows (``agenther.rules.figures``: whatever request it is paired with learns to invent them),
or claims a side effect no tool call made; or the run carried out a side effect the user never
asked for (``agenther.demands.unrequested_actions``: an injected order it obeyed, a task it
drifted into); or the failure reason says what the run sent out was broken ("what reached 34
members was half a sentence"). Both modes ask this first; in LLM mode it saves every call.
"""

from __future__ import annotations

import re

from agenther.demands import unperformed_claims, unrequested_actions
from agenther.final_answer import answer_problem, reported_failure
from agenther.models import FailedTrajectory
from agenther.rules.figures import unsupported_figures


def run_problem(trajectory: FailedTrajectory) -> str | None:
    """Why no example can come from ``trajectory``, or None."""
    problem = answer_problem(trajectory.final_answer)
    if problem:
        return problem
    failed = reported_failure(trajectory.original_prompt, trajectory.final_answer)
    if failed:
        return f"the final answer says the requested work failed ('{failed}')"
    unasked = unrequested_actions(trajectory)
    if unasked:
        return f"the run did what nobody asked for ({', '.join(unasked)})"
    claimed = unperformed_claims(trajectory)
    if claimed:
        return f"the final answer claims what no tool call did ({', '.join(claimed)})"
    invented = unsupported_figures(trajectory)
    if invented:
        return f"the final answer states {', '.join(invented)}, which no observation shows"
    broken = _BROKEN_DELIVERY_RE.search(trajectory.failure_reason)
    if broken:
        return f"the failure reason says what the run sent out was broken ('{broken.group(0)}')"
    untrue = _FALSE_CLAIM_RE.search(trajectory.failure_reason)
    if untrue:
        return f"the failure reason says the final answer claims what is not so ('{untrue[0]}')"
    return None


# "… and the reply claims it is at night, which 09:00–15:00 plainly is not", "the answer
# falsely says Julien was left out": an answer the grader calls untrue demonstrates nothing,
# whatever request it is paired with.
_FALSE_CLAIM_RE = re.compile(
    r"\b(?:reply|answer|response|message)\s+(?:\w+\s+){0,2}(?:claims|pretends|asserts)\b"
    r"|\bfalsely\s+(?:claims|says|states|reports|tells)\b",
    re.IGNORECASE,
)


_BROKEN = r"half\s+a\s+(?:sentence|message|line)|truncated|garbled|mangled|blank|empty|cut\s+off"
_BROKEN_DELIVERY_RE = re.compile(
    rf"\b(?:sent|reached|went\s+out|posted|delivered|published|uploaded)\b[^.;,—]{{0,60}}?"
    rf"\b(?:{_BROKEN})\b"
    rf"|\b(?:{_BROKEN})\b[^.;,—]{{0,40}}?\b(?:was|were|got)\s+(?:sent|posted|delivered|published"
    r"|uploaded)\b",
    re.IGNORECASE,
)
