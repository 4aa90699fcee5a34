"""Is a hindsight prompt backed by the run? Deterministic checks, run before any judge call.

A prompt passes when every number and named entity it mentions occurs in the run's observations
or final answer, it does not restate the constraint the run failed nor echo the failed request
itself, it carries no injected instructions or chat markup (observations are untrusted and may
have leaked into it), every action it demands was done by the agent's own calls
(``agenther.demands``), and it does not talk about "the original request" (a hindsight prompt
must stand on its own).

The constraints a prompt may not restate are found by ``agenther.constraints``, which the rule
relabeler reads too: it drops exactly the constraints this verifier forbids restating.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from agenther.constraints import Constraint, find_constraints, unmet_constraints
from agenther.demands import demand_problems
from agenther.evidence import Evidence, collect_evidence, extract_entities
from agenther.models import FailedTrajectory, FailureAnalysis, ReplayOutcome
from agenther.places import observed_under_another_name
from agenther.quantities import Quantity, extract_quantities
from agenther.words import stem, tokens

# --- injection and self-reference --------------------------------------------------------------

_INJECTION_RE = re.compile(
    r"""
    \b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?
        \b(?:instructions?|prompts?|rules|directions|guidelines|system\s+message)\b
    | <\|[^|>\n]{0,30}\|>
    | </?\s*(?:system|assistant|user|tool|developer|im_start|im_end|run-data|s)\b[^>\n]{0,60}>
    | \[/?\s*inst\s*\] | <<\s*/?\s*sys\s*>>
    | (?:^|[\n.!?]\s*)\s*(?:system|assistant|developer|user|human)\s*:
    | \byou\s+are\s+now\b | \bnew\s+instructions?\b | \bact\s+as\s+(?:an?\s+)?(?:system|admin)\b
    | [{\[]\s*"[\w\s-]{1,40}"\s*:
    | "(?:hindsight_prompt|is_valid_replay|is_valid|confidence|rationale|rejection_reason)"
    """,
    re.VERBOSE,  # matched against lower-cased text: IGNORECASE makes these alternations slow
)

_SELF_REFERENCE_RE = re.compile(
    r"""
    \b(?:original|initial|previous|prior|earlier|failed|old|first)\s+
        (?:user\s+)?(?:request|prompt|task|goal|query|question|instructions?|ask)\b
    | \bas\s+(?:originally\s+|previously\s+)?(?:requested|asked|instructed)\b
    | \binstead\s+of\s+what\s+(?:was|i|you|the\s+user)\b
    | \bthe\s+user\s+(?:originally\s+)?(?:asked|wanted|requested)\b
    | \bhindsight\b | \brelabel
    """,
    re.VERBOSE,  # lower-cased text, as above
)

# A file of this type is evidence for the format's everyday name ("an Excel file" for .xlsx).
_FORMAT_NAMES: dict[str, tuple[str, ...]] = {
    "excel": (".xlsx", ".xls"),
    "word": (".docx", ".doc"),
    "powerpoint": (".pptx", ".ppt"),
    "markdown": (".md",),
    "yaml": (".yaml", ".yml"),
    "jpeg": (".jpg", ".jpeg"),
    "python": (".py", ".ipynb"),
    "javascript": (".js",),
    "typescript": (".ts", ".tsx"),
    "text": (".txt",),
}


# E-mail addresses and URLs, which the entity extractor leaves out.
_ADDRESS_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b(?:https?://|www\.)[^\s<>\"')\]]+")


@dataclass(slots=True)
class GroundingResult:
    ok: bool
    problems: list[str] = field(default_factory=list)


def has_injection(text: str) -> bool:
    return _INJECTION_RE.search(text.lower()) is not None


def verify_grounding(
    prompt: str,
    trajectory: FailedTrajectory,
    analysis: FailureAnalysis | None = None,
    outcome: ReplayOutcome | None = None,
    *,
    evidence: Evidence | None = None,
    unmet: list[Constraint] | None = None,
) -> GroundingResult:
    """Check ``prompt`` against the run; ``problems`` says what failed, for the retry prompt.

    ``evidence`` and ``unmet`` may be passed in when the caller already computed them (the rule
    relabeler checks several candidates against one run). ``outcome`` adds nothing to the
    evidence on purpose: Stage 2 may be an LLM, and its summary is not the environment's word.
    """
    del outcome  # accepted for a uniform stage signature; see the docstring
    problems: list[str] = []
    if not prompt.strip():
        return GroundingResult(False, ["the prompt is empty"])
    lowered = prompt.lower()
    if _INJECTION_RE.search(lowered):
        problems.append("the prompt carries instruction or chat-markup text from the run")
    if _SELF_REFERENCE_RE.search(lowered):
        problems.append("the prompt refers to an earlier request; it must stand on its own")
    if echoes_failed_goal(prompt, trajectory.original_prompt):
        problems.append("the prompt restates the request the run failed")
    problems.extend(demand_problems(prompt, trajectory))

    ev = evidence if evidence is not None else collect_evidence(trajectory)
    problems.extend(
        f"{term} does not occur in the observations"
        for term in ungrounded(prompt, ev, tools=tool_words(trajectory))
    )

    if unmet is None:
        unmet = unmet_constraints(trajectory, analysis)
    problems.extend(
        f"the prompt restates the unmet constraint '{c.text}'" for c in _restated(prompt, unmet)
    )
    return GroundingResult(not problems, problems)


# Words that do not change what a request asks for ("please", "can you", articles).
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "please",
        "can",
        "could",
        "would",
        "will",
        "you",
        "me",
        "my",
        "i",
        "to",
        "for",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "with",
        "kindly",
        "just",
        "also",
        "then",
    ]
)


def _request_terms(text: str) -> Counter[str]:
    return Counter(stem(t) for t in tokens(text) if t not in _FILLER)


def echoes_failed_goal(prompt: str, original: str) -> bool:
    """The prompt asks for what the run failed: the same request, or the same request plus a
    few words, with nothing of it dropped or changed. Terms are counted, so a prompt that turns
    "a CSV file ... a new CSV file" into "a CSV file ... a new Excel file" changed something."""
    asked, failed = _request_terms(prompt), _request_terms(original)
    if not failed:
        return False
    added = sum((asked - failed).values())
    return not (failed - asked) and added <= max(2, sum(failed.values()) // 5)


def ungrounded(text: str, ev: Evidence, *, tools: frozenset[str] = frozenset()) -> list[str]:
    """Numbers, addresses and named entities of ``text`` that the evidence does not show; a
    one-word name may also be one of the run's ``tools`` ("Moodle" for ``moodle_api``)."""
    missing = [
        f"the number {q.raw}" for q in extract_quantities(text) if not number_supported(q, ev)
    ]
    missing.extend(
        f"'{address}'"
        for address in _ADDRESS_RE.findall(text)
        if address.lower().rstrip(".,;:!?") not in ev.text
    )
    missing.extend(
        f"'{e}'"
        for e in extract_entities(text)
        if not entity_supported(e, ev) and e.lower() not in tools
    )
    return missing


_TOOL_WORD_RE = re.compile(r"[^\W\d_]{3,}")


def tool_words(trajectory: FailedTrajectory) -> frozenset[str]:
    """The words of the run's tool names: the platform a call went to is in its name
    ("moodle_api", "SpotifyCreatePlaylist" gives "spotify", "create", "playlist")."""
    words: set[str] = set()
    for step in trajectory.steps:
        spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", step.action_name)
        words.update(w.lower() for w in _TOOL_WORD_RE.findall(spaced))
    return frozenset(words)


def number_supported(quantity: Quantity, ev: Evidence) -> bool:
    """A sum of money needs a sum of money: "$5" is not backed by "5 results"."""
    return ev.has_value(quantity.value, money=bool(quantity.currency))


def entity_supported(entity: str, ev: Evidence) -> bool:
    if ev.has_entity(entity):
        return True
    extensions = _FORMAT_NAMES.get(entity.lower())
    if extensions is not None:
        return any(ext in ev.text for ext in extensions)
    # "December" for an observed "Dec 20" or "2024-12-20".
    month = _MONTHS.get(entity.lower())
    if month is not None:
        abbreviation, number = month
        return (
            re.search(rf"(?<![^\W\d_]){abbreviation}(?![^\W\d_])", ev.text) is not None
            or re.search(rf"(?<!\d)\d{{4}}-{number:02d}-\d{{2}}(?!\d)", ev.text) is not None
        )
    # "Munich" for an observed "München Hbf": the same city, by the name a person uses.
    return observed_under_another_name(entity, ev.text)


_MONTHS = {
    name: (name[:3], number)
    for number, name in enumerate(
        "january february march april may june july august september october november "
        "december".split(),
        start=1,
    )
}


def _restated(prompt: str, unmet: list[Constraint]) -> list[Constraint]:
    if not unmet:
        return []
    lowered = prompt.lower()
    in_prompt = find_constraints(prompt)
    # "$5" alone still promises the price limit; "5 results" does not.
    money = {q.value for q in extract_quantities(prompt) if q.currency}
    return [
        c
        for c in unmet
        if c.text.lower() in lowered
        or any(found.values & c.values for found in in_prompt)
        or (c.currency and money & c.values)
    ]
