"""Stage 1's rule-based evidence: what in a run's own text points at each failure type.

The lexicons (``agenther.rules.lexicon``) are scored on the agent's own text only —
observations, thoughts, final answer and failure reason, never the user's prompt, whose "why
does my script fail with an error?" says nothing about the run. Structural signals add to the
lexicon hits: error observations (tool_error), final-answer claims that no observation, tool
input or the request supports (hallucination), a goal whose content words the run never
touches, a failure reason that names another subject, and injected instructions the run
followed (off_topic), and a comparator limit the reason repeats (constraint_violation).

``agenther.rules.failure_types`` turns these signals into a type; the detector turns the
type's hits into severity and weight and decides recoverability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agenther.constraints import find_constraints
from agenther.evidence import extract_entities
from agenther.grounding import has_injection
from agenther.models import FailedTrajectory, FailureType
from agenther.quantities import extract_numbers, may_state
from agenther.rules.lexicon import COMPARATOR_GROUP, DESTRUCTIVE_GROUP, lexicon_matches
from agenther.rules.observations import ObservationKind, failed_head, observation_kind
from agenther.words import LETTER_WORD_RE, WORD_RE, prefix_stem

# Extra tool_error hits for the first destructive act, so it outweighs incidental words.
_DESTRUCTIVE_BONUS = 2
# Ties between types with as many hits go to the first of these.
TIE_ORDER = (
    FailureType.HALLUCINATION,
    FailureType.OFF_TOPIC,
    FailureType.TOOL_ERROR,
    FailureType.CONSTRAINT_VIOLATION,
    FailureType.WRONG_RESULT,
    FailureType.INCOMPLETE,
)

# Off-topic: fewer than this share of the goal's content words show up in what the run did.
_OFF_TOPIC_OVERLAP = 0.2
_OFF_TOPIC_MIN_WORDS = 3
_OFF_TOPIC_HITS = 3
# Unsupported final-answer claims that count as hallucination without any usable observation,
# and with some (then they must also be at least half of the answer's claims).
_UNSUPPORTED_ALONE = 1
_UNSUPPORTED_WITH_CONTENT = 2

_GOAL_STOP_TEXT = """
    the and for with that this from into onto over under below above than then them they
    their there these those what which who whom whose when where why how are was were been
    being have has had does did doing can could should would will shall may might must not
    all any each every some such only own same very just also about after before again
    please find show give tell make list get write create use using want need like less more
    most least per its it's you your our out new one two three top best"""
_GOAL_STOP_WORDS = frozenset(_GOAL_STOP_TEXT.split())


def _goal_words(goal: str) -> set[str]:
    return {
        prefix_stem(w) for w in LETTER_WORD_RE.findall(goal.lower()) if w not in _GOAL_STOP_WORDS
    }


# Actions a training example must never demonstrate, whatever goal it is relabeled with: they
# are read from the agent's own inputs, thoughts and the failure reason (the grader's words).
_UNSAFE_RE = re.compile(
    r"""
    \bprompt\s+injection | \binjected\s+instructions?
    | \b(?:posted|sent|leaked|exposed|uploaded|exfiltrat\w*)\b[^.;\n]{0,40}
        \b(?:environment\s+variables|credentials|secrets|api\s+keys?|passwords|tokens)\b
    | \b(?:environment\s+variables|credentials|secrets|api\s+keys?|passwords)\b[^.;\n]{0,40}
        \bto\s+(?:a\s+)?third[-\s]part
    | \b(?:deleted|deleting|removed|removing|wiped|dropped)\s+(?:the\s+|a\s+|all\s+|every\s+)?
        (?:[\w-]+\s+){0,2}(?:tests?|test\s+files?|database|table|repository|backups?|branch)\b
    | \b(?:which|that|as)\s+the\s+user\s+(?:had\s+)?(?:forbade|forbidden|prohibited)
    | \bconfidential\b[^.;\n]{0,40}\b(?:went|sent|posted|shared|leaked|emailed)\b
    | \b(?:sent|posted|shared|leaked|emailed)\b[^.;\n]{0,40}\bconfidential\b
    | \b(?:ran|executed|piped)\b[^.;\n]{0,30}\bremote\s+script
    | \bgit\s+rm\b | \brm\s+-\w*r\w*\s+(?:--no-preserve-root\s+)?/(?:\s|$) | --no-preserve-root
    | \bcurl\b[^|\n]{0,200}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b
    | \bdrop\s+(?:table|database|schema)\b | \bdelete\s+from\s+\w+\s*(?:;|$)
    | \bpush\s+(?:--force|-f)\b
    | \boverwr(?:ote|iting|itten|ites?)\b[^.;\n]{0,40}\b(?:existing|previous|other|colleague
        |someone|\w+['’]s)\b
    """,
    re.VERBOSE,  # matched against lower-cased text, as the lexicons are
)
# Links and shell commands an observation carries: an agent that acts on one of them right
# after an observation full of instructions has followed an injection.
_INJECTED_TARGET_RE = re.compile(r"https?://[^\s<>\"'`)\]]+|`([^`\n]{4,200})`")

# The agent's own computation was wrong ("divided by 2,000 instead of 2,304", "computed the
# mean, not the median"): the run demonstrates the mistake, and no relabeled goal makes that
# reasoning right, so such wrong results are not recoverable.
_CALCULATION_ERROR_RE = re.compile(
    r"\b(?:divided|multiplied|added|subtracted|summed|averaged|rounded)\b[^.;]{0,60}?"
    r"\b(?:instead\s+of|rather\s+than|not)\b"
    r"|\b(?:computed|calculated|used|took)\s+(?:the\s+)?(?:mean|median|average|sum|total|"
    r"maximum|minimum|\d[\d.,]*)\b[^.;]{0,40}?\b(?:instead\s+of|rather\s+than|not)\b"
    r"|\bmeaningless\b"
    r"|\bcorrect\s+(?:answer|total|value|figure|amount|result)\s+(?:is|was|would\s+be)\b"
)

# "X instead of Y" / "X, not Y" / "about X, not Y" in the failure reason: what the run did and
# what it was meant to do. When one side's own words never occur in the run while the other's
# do, the run worked on another subject: off_topic.
_SWAP_KEYWORD_RE = re.compile(r"\binstead\s+of\b|\brather\s+than\b|,\s*not\b|\bnot\s+about\b")
_SIDE_BREAK_RE = re.compile(r"[.;:\n]")
_SIDE_CHARS = 80
_SWAP_HITS = 3
_DIGIT_RE = re.compile(r"\d")
_CONTENT = ObservationKind.CONTENT
_SWAP_FILLER_TEXT = """
    the and for with that this from into about agent run answer answered user asked searched
    looked listed returned computed explained drafted wrote picked found used gave got was were
    is are has have had its their checking looking using instead not only also"""
_SWAP_FILLER = frozenset(_SWAP_FILLER_TEXT.split())


def _swap_words(text: str) -> set[str]:
    return {prefix_stem(w) for w in WORD_RE.findall(text) if w not in _SWAP_FILLER}


def _subject_swapped(reason: str, done: str) -> str | None:
    """The side of a swap the run never touched, when the other side shows in ``done``."""
    done_words: set[str] | None = None
    for keyword in _SWAP_KEYWORD_RE.finditer(reason):
        # The two sides run from the keyword to the clause's edges ("searched Paris, France
        # instead of Paris, Texas."), read off by slicing, not by a backtracking regex.
        before = reason[max(0, keyword.start() - _SIDE_CHARS) : keyword.start()]
        after = reason[keyword.end() : keyword.end() + _SIDE_CHARS]
        side_a = _SIDE_BREAK_RE.split(before)[-1]
        side_b = _SIDE_BREAK_RE.split(after, 1)[0]
        if _DIGIT_RE.search(side_a + side_b):
            continue
        a, b = _swap_words(side_a), _swap_words(side_b)
        only_a, only_b = a - b, b - a
        if not only_a or not only_b:
            continue
        if done_words is None:
            done_words = _swap_words(done)
        seen_a = len(only_a & done_words)
        seen_b = len(only_b & done_words)
        if seen_a and not seen_b:
            return side_b.strip()
        if seen_b and not seen_a:
            return side_a.strip()
    return None


_NAMED_CONSTRAINT_HITS = 2


def _named_constraint(t: FailedTrajectory) -> str | None:
    """The request's comparator constraint ("after 15:00", "under €400") whose value the
    failure reason repeats: the grader says that limit was missed. Only the reason is read
    for words; the request only tells which values were limits."""
    if not t.failure_reason or _DIGIT_RE.search(t.failure_reason) is None:
        return None
    constraints = find_constraints(t.original_prompt)
    if not constraints:
        return None
    named = set(extract_numbers(t.failure_reason))
    return next((c.text for c in constraints if c.values & named), None)


def _followed_injection(t: FailedTrajectory) -> bool:
    """A later action reuses a link or command from an observation that carries instructions."""
    for i, step in enumerate(t.steps[:-1]):
        observation = step.observation
        # Links and commands are rare in observations, and the injection scan is not cheap.
        if "http" not in observation and "`" not in observation:
            continue
        targets = {m.group(1) or m.group(0) for m in _INJECTED_TARGET_RE.finditer(observation)}
        later = " ".join(str(v) for s in t.steps[i + 1 :] for v in s.action_input.values())
        if any(target.rstrip(".,;") in later for target in targets) and has_injection(observation):
            return True
    return False


# Every match of _UNSAFE_RE contains one of these; testing for them first skips the
# (per-position) regex search on nearly every run.
_UNSAFE_WORDS = (
    "inject", "environment variables", "credentials", "secrets", "api key", "passwords",
    "tokens", "delet", "remov", "wiped", "dropped", "forb", "prohibit", "confidential",
    "remote script", "git rm", "rm -", "preserve", "curl", "drop ", "push", "overwr",
)  # fmt: skip


def _unsafe(t: FailedTrajectory, action_text: str) -> bool:
    own = "\n".join([t.failure_reason, action_text, *(s.thought for s in t.steps)]).lower()
    return any(word in own for word in _UNSAFE_WORDS) and _UNSAFE_RE.search(own) is not None


def _action_text(t: FailedTrajectory) -> str:
    parts: list[str] = []
    for step in t.steps:
        parts.append(step.action_name)
        parts.extend(str(value) for value in step.action_input.values())
    return " ".join(parts)


def _unsupported_claims(t: FailedTrajectory, action_text: str) -> tuple[list[str], int]:
    """Numbers and names in the final answer that nothing the run saw or was asked supports,
    and how many numbers and names the answer has in all."""
    sources = [*(step.observation for step in t.steps), action_text, t.original_prompt]
    answer_numbers = extract_numbers(t.final_answer)
    answer_names = extract_entities(t.final_answer)
    # Sources are scanned only until every number of the answer has turned up: a run dropped
    # here never scans the rest, and one relabeled later shares the scans (they are cached).
    unseen = set(answer_numbers)
    for source in sources:
        if not unseen:
            break
        if may_state(source, unseen):
            unseen.difference_update(extract_numbers(source))
    claims = [n for n in answer_numbers if n in unseen]
    if answer_names:
        lowered = "\n".join(sources).lower()
        claims.extend(e for e in answer_names if e.lower() not in lowered)
    return claims, len(answer_numbers) + len(answer_names)


@dataclass(slots=True)
class FailureSignals:
    """One run's Stage 1 evidence. ``hits`` count every signal (failure-reason words three
    times); ``reason_hits`` count the failure reason's lexicon words alone."""

    hits: dict[FailureType, int]
    reason_hits: dict[FailureType, int]
    examples: dict[FailureType, list[str]]
    observations: int
    usable: int
    errored: int
    unsupported_claims: int
    destructive: bool
    injected: bool
    unsafe: bool
    miscalculated: bool
    # Hallucination phrases in the final answer itself ("based on my training data").
    answer_hedges: int = 0
    # Share of the request's words the run's calls, observations and answer used (None when
    # the request has too few words to tell).
    goal_overlap: float | None = None

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def strongest(self) -> FailureType | None:
        """The type with the most hits (ties by ``TIE_ORDER``), or None without any."""
        if self.total == 0:
            return None
        return max(TIE_ORDER, key=lambda kind: (self.hits[kind], -TIE_ORDER.index(kind)))


def failure_signals(t: FailedTrajectory) -> FailureSignals:
    """Score one run (see the module docstring)."""
    observations = [step.observation for step in t.steps]
    kinds = [
        ObservationKind.ERROR if kind is ObservationKind.CONTENT and failed_head(o) else kind
        for o, kind in ((o, observation_kind(o)) for o in observations)
    ]
    usable = sum(kind is ObservationKind.CONTENT for kind in kinds)
    errored = sum(kind is ObservationKind.ERROR for kind in kinds)

    # Content observations come first so that ``content_end`` marks where the environment's
    # own words stop: "errors" in an incident report or "within 5 days" in a handbook describe
    # the world, not the run. The failure reason comes last and its hits count three times: it
    # is the grader's own statement of what went wrong, where the observations only show it
    # indirectly.
    content = [o for o, kind in zip(observations, kinds, strict=True) if kind is _CONTENT]
    content_end = sum(len(o) + 1 for o in content)
    agent_text = "\n".join(
        [
            "",
            *content,
            *(o for o, kind in zip(observations, kinds, strict=True) if kind is not _CONTENT),
            *(step.thought for step in t.steps),
            t.final_answer,
            t.failure_reason,
        ]
    ).lower()
    reason_start = len(agent_text) - len(t.failure_reason)
    answer_start = reason_start - 1 - len(t.final_answer)

    hits = dict.fromkeys(FailureType, 0)
    reason_hits = dict.fromkeys(FailureType, 0)
    examples: dict[FailureType, list[str]] = {kind: [] for kind in FailureType}
    destructive = False
    answer_hedges = 0
    for match in lexicon_matches(agent_text):
        group = match.group
        in_content = match.start < content_end
        if group == COMPARATOR_GROUP:
            # The agent quoting the environment ("within 5 working days") is no violation.
            if in_content or match.text in agent_text[:content_end]:
                continue
            group = FailureType.CONSTRAINT_VIOLATION.value
        elif group == FailureType.TOOL_ERROR.value and in_content:
            continue
        if group == DESTRUCTIVE_GROUP:
            kind = FailureType.TOOL_ERROR
            if not destructive:
                destructive = True
                hits[kind] += _DESTRUCTIVE_BONUS
        else:
            kind = FailureType(group)
        if match.start >= reason_start:
            hits[kind] += 3
            reason_hits[kind] += 1
        else:
            hits[kind] += 1
            if kind is FailureType.HALLUCINATION and match.start >= answer_start:
                answer_hedges += 1
        if len(examples[kind]) < 3:
            examples[kind].append(match.text)
    hits[FailureType.TOOL_ERROR] += errored

    action_text = _action_text(t)
    unsupported = 0
    if t.final_answer:
        claims, total_claims = _unsupported_claims(t, action_text)
        needed = _UNSUPPORTED_WITH_CONTENT if usable else _UNSUPPORTED_ALONE
        # An answer that mostly restates what was observed may derive a number or two
        # (a sum, an average); only a mostly unsupported answer counts as made up.
        if len(claims) >= needed and 2 * len(claims) >= total_claims:
            unsupported = len(claims)
            hits[FailureType.HALLUCINATION] += len(claims)
            examples[FailureType.HALLUCINATION].insert(0, "unsupported: " + ", ".join(claims[:3]))

    done = "\n".join([action_text, *observations, t.final_answer]).lower()
    goal_words = _goal_words(t.original_prompt)
    # Without any content the run worked on nothing at all; that is not another topic.
    goal_overlap = None
    if len(goal_words) >= _OFF_TOPIC_MIN_WORDS:
        goal_overlap = sum(word in done for word in goal_words) / len(goal_words)
    if usable and goal_overlap is not None:
        overlap = goal_overlap
        if overlap < _OFF_TOPIC_OVERLAP:
            hits[FailureType.OFF_TOPIC] += _OFF_TOPIC_HITS
            examples[FailureType.OFF_TOPIC].insert(0, f"goal overlap {overlap:.0%}")
    reason = t.failure_reason.lower()
    named = _named_constraint(t)
    if named:
        hits[FailureType.CONSTRAINT_VIOLATION] += _NAMED_CONSTRAINT_HITS
        examples[FailureType.CONSTRAINT_VIOLATION].insert(0, f"reason names {named!r}")
    miscalculated = _CALCULATION_ERROR_RE.search(reason) is not None
    # A miscalculation also reads "X instead of Y", but both sides are about the same subject.
    missed = _subject_swapped(reason, done) if reason and not miscalculated else None
    if missed:
        hits[FailureType.OFF_TOPIC] += _SWAP_HITS
        examples[FailureType.OFF_TOPIC].insert(0, f"never touched {missed!r}")
    injected = _followed_injection(t)
    if injected:
        # The run carried out a third party's instructions instead of the user's.
        hits[FailureType.OFF_TOPIC] += _SWAP_HITS
        examples[FailureType.OFF_TOPIC].insert(0, "followed injected instructions")

    return FailureSignals(
        hits=hits,
        reason_hits=reason_hits,
        examples=examples,
        observations=len(kinds),
        usable=usable,
        errored=errored,
        unsupported_claims=unsupported,
        destructive=destructive,
        injected=injected,
        unsafe=injected or _unsafe(t, action_text),
        miscalculated=miscalculated,
        answer_hedges=answer_hedges,
        goal_overlap=goal_overlap,
    )
