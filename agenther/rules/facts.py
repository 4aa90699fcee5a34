"""What the candidates of one run are scored against, computed once per run."""

from __future__ import annotations

import re
from functools import cached_property

from agenther.constraints import Constraint, find_constraints, unmet_constraints
from agenther.evidence import Evidence, evidence_texts, file_names_in, hosts_in
from agenther.models import AgentStep, FailedTrajectory, FailureAnalysis, FailureType
from agenther.quantities import extract_quantities
from agenther.rules.arguments import command_lines
from agenther.rules.observations import ObservationKind, observation_kind
from agenther.rules.steps import hedges, is_internal_action, tool_name_words
from agenther.rules.unmet import cut_unmet_phrases
from agenther.words import WORD_RE, stem


class RunFacts:
    """Everything about the run the candidates are scored against, each computed once and only
    when first read: most runs give no candidate at all, and those never need the scoring's
    facts (``done``, ``record``, the hedges, the answer's limits)."""

    def __init__(
        self, t: FailedTrajectory, analysis: FailureAnalysis | None, ok_steps: list[AgentStep]
    ) -> None:
        self.trajectory = t
        self.analysis = analysis
        self.ok_steps = ok_steps
        kind = analysis.failure_type if analysis is not None else None
        # Stage 1 says the run worked on something other than the request / got it wrong.
        self.off_topic = kind is FailureType.OFF_TOPIC
        self.wrong_result = kind is FailureType.WRONG_RESULT
        # What ``agenther.rules.tool_work`` made of each step (by id), asked more than once.
        self.step_requests: dict[int, tuple[str, str] | None] = {}

    @classmethod
    def of(
        cls, t: FailedTrajectory, analysis: FailureAnalysis | None, ok_steps: list[AgentStep]
    ) -> RunFacts:
        return cls(t, analysis, ok_steps)

    @cached_property
    def evidence(self) -> Evidence:
        """Observations and final answer, and the files successful calls read or wrote: a
        file that exists may be named ("plot the revenue in sales_2024.csv") though no
        observation prints its name."""
        arguments = [v for s in self.ok_steps for v in s.action_input.values()]
        # So may the site a page that loaded came from ("ChefSupply" for a page of
        # www.chefsupply.example).
        files = [*file_names_in(arguments), *hosts_in(arguments)]
        texts = evidence_texts(self.trajectory)
        return Evidence.of_texts([*texts, " ".join(files)] if files else texts)

    @cached_property
    def unmet(self) -> list[Constraint]:
        return unmet_constraints(self.trajectory, self.analysis)

    @cached_property
    def facts(self) -> float:
        """Share of tool steps that answered; halved if none showed content."""
        t = self.trajectory
        tool_steps = sum(1 for s in t.steps if not is_internal_action(s.action_name))
        facts = len(self.ok_steps) / tool_steps if tool_steps else 0.0
        if not any(
            observation_kind(s.observation) is ObservationKind.CONTENT for s in self.ok_steps
        ):
            facts *= 0.5
        return facts

    @cached_property
    def hedged(self) -> bool:
        """Observations or final answer hedge ("may not reflect", "outdated")."""
        # Errors hedge nothing, so the whole (lower-cased) evidence text can be searched.
        return hedges(self.evidence.text)

    @cached_property
    def actions(self) -> str:
        """Lower-cased names and inputs of the successful calls."""
        return " ".join(
            f"{s.action_name} {' '.join(str(v) for v in s.action_input.values())}"
            for s in self.ok_steps
        ).lower()

    @cached_property
    def done(self) -> str:
        """Lower-cased observations, final answer and successful actions."""
        return f"{self.evidence.text}\n{self.actions}"

    @cached_property
    def record(self) -> str:
        """``done`` plus the original request without its unmet constraints."""
        return f"{self.done}\n{self.request_lower}"

    @cached_property
    def request(self) -> str:
        """The original request without its unmet constraints, as written."""
        t, analysis = self.trajectory, self.analysis
        original = t.original_prompt
        for constraint in sorted(self.unmet, key=lambda c: c.start, reverse=True):
            original = original[: constraint.start] + original[constraint.end :]
        reason = t.failure_reason
        if analysis is not None and analysis.explanation:
            reason = f"{reason}. {analysis.explanation}"
        return cut_unmet_phrases(
            original,
            reason,
            stopped_early=analysis is not None and analysis.failure_type is FailureType.INCOMPLETE,
        )

    @cached_property
    def request_lower(self) -> str:
        return self.request.lower()

    @cached_property
    def request_stems(self) -> frozenset[str]:
        """Stems of the request's words."""
        return frozenset(stem(w) for w in WORD_RE.findall(self.request_lower))

    @cached_property
    def observed(self) -> str:
        """Lower-cased usable observations only."""
        return "\n".join(s.observation for s in self.ok_steps).lower()

    @cached_property
    def tool_words(self) -> frozenset[str]:
        """Words of every tool name the run used."""
        return tool_name_words(self.trajectory.steps)

    @cached_property
    def commands(self) -> tuple[str, ...]:
        """Command lines the successful steps ran."""
        return tuple(command_lines(self.ok_steps))

    @cached_property
    def observed_figures(self) -> frozenset[str]:
        """Digit runs of every observation."""
        return self.observations.figures

    @cached_property
    def observations(self) -> Evidence:
        """The observations alone: what tool arguments may name."""
        return Evidence.of_texts([s.observation for s in self.trajectory.steps])

    @cached_property
    def answer_limits(self) -> tuple[str, ...]:
        """Unmet constraints the final answer states a limit of, or repeats a figure of that
        only the request gave ("Det er 49 kr. over de 500 kr.", in any language)."""
        answer = self.trajectory.final_answer
        stated = _answer_limits(answer, self.unmet)
        repeated = tuple(
            c.text
            for c in self.unmet
            if c.text not in stated
            and any(
                _written_in(figure, answer) and not _written_in(figure, self.observed)
                for figure in _FIGURE_RE.findall(c.text)
                # (One digit may as well be a name's: "Black 2".)
                if len(figure) > 1
            )
        )
        return stated + repeated


# A figure as a limit writes it: "500", "1 400", "4,5".
_FIGURE_RE = re.compile(r"\d(?:[\d.,\u00a0 ]*\d)?")


def _written_in(figure: str, text: str) -> bool:
    """``figure`` stands whole in ``text`` ("12" is not in "12,46 €")."""
    return re.search(rf"(?<![\d.,]){re.escape(figure)}(?![.,]?\d)", text) is not None


def _answer_limits(answer: str, unmet: list[Constraint]) -> tuple[str, ...]:
    """The unmet constraints whose value the final answer puts a limit on ("no pharmacy
    within 2 km is open"): such an answer is about the requirement, whatever the request."""
    if not unmet:
        return ()
    stated = {value for c in find_constraints(answer) for value in c.values}
    # "above your £100 limit", "the budget of €500": a value called a limit is one too.
    stated.update(
        q.value for m in _NAMED_LIMIT_RE.finditer(answer) for q in extract_quantities(m[0])
    )
    if (
        _LIMIT_WORD_RE.search(answer)
        or _THAN_ASKED_RE.search(answer)
        or _YOUR_TIMING_RE.search(answer)
    ):
        # "150,00 €, dentro do teu limite", "mieści się w Twoim budżecie": a limit the answer
        # speaks of without its value is the unmet one.
        return tuple(c.text for c in unmet)
    caveats = {stem(w) for m in _CAVEAT_RE.finditer(answer) for w in WORD_RE.findall(m[0].lower())}
    return tuple(c.text for c in unmet if c.values & stated or caveats & _measured_words(c.text))


# "Note: Ola has only 1 season, but …" after "nobody with fewer than 2 seasons' experience"
# went: a caveat that names what the limit measured excuses breaking it.
_CAVEAT_RE = re.compile(
    r"(?:^|(?<=[.!?\n]))\s*(?:note|n\.?b\.?|however|unfortunately|caveat|heads[-\s]up"
    r"|keep\s+in\s+mind|bear\s+in\s+mind|warning"
    # "Merk: Kari Haugen har 7,5 timer tirsdag …"
    r"|merk|obs|bemærk|observera|huom|hinweis|achtung|beachte|nota|attention|remarque"
    r"|uwaga|let\s+op|opmerking|atenção|attenzione)\b[^.!?\n]*",
    re.IGNORECASE,
)
_COMPARATOR_WORDS = frozenset(
    "less fewer lower more greater higher than under over below above within most least not "
    "max maximum min minimum between and per each "
    "mer enn mindre minst mehr als weniger mindestens plus moins que más menos più meno meer "
    "dan minder maks".split()
)


def _measured_words(limit: str) -> set[str]:
    """Stems of what a limit measures: "seasons" of "fewer than 2 seasons"."""
    return {stem(w) for w in WORD_RE.findall(limit.lower()) if w not in _COMPARATOR_WORDS}


# "media hora después de lo que pediste", "later than you asked": the answer measures itself
# against the request, whose limit is the unmet one.
_THAN_ASKED_RE = re.compile(
    r"\bthan\s+(?:you\s+)?(?:asked|requested|wanted|specified)|de\s+lo\s+que\s+(?:pediste|pidió"
    r"|querías|solicitaste)|als\s+(?:gewünscht|gewollt|verlangt|angefragt)|que\s+(?:ce\s+que\s+)?"
    r"(?:vous\s+avez|tu\s+as)\s+demandé|di\s+quanto\s+(?:richiesto|chiesto)|do\s+que\s+(?:pediu"
    r"|pediste|solicitou)|dan\s+(?:gevraagd|gewenst)|än\s+(?:du\s+bad\s+om|önskat)"
    r"|enn\s+(?:du\s+ba\s+om|ønsket)|end\s+(?:du\s+bad\s+om|ønsket)",
    re.IGNORECASE,
)
# "that's ahead of your trip, so you're all set" after "before 20 June — I'm travelling on
# the 21st" went: an answer measured against the user's own date speaks of the dropped one.
_YOUR_TIMING_RE = re.compile(
    r"\b(?:ahead\s+of|before|in\s+time\s+for|after)\s+your\s+[a-z]+"
    r"|\b(?:vor|nach)\s+(?:deine[mr]?|Ihre[mr]?)\s|\b(?:avant|après)\s+(?:ton|ta|votre)\s"
    r"|\b(?:antes|después)\s+de\s+(?:tu|su)\s|\b(?:prima|dopo)\s+del(?:la)?\s+tu[ao]\s",
    re.IGNORECASE,
)
_LIMIT_WORD_RE = re.compile(
    # "your limit", "within the budget" and their like; not "a 50 lb limit" or a "plafond"
    # (French for a ceiling) that is stained.
    r"\b(?:your|within|over|under|teu|tua|seu|sua|dentro\s+d[oe]|tu|tus|dentro\s+del|votre|ton"
    r"|dans\s+(?:le|votre|ton)|dein\w*|ihr\w*|im|innerhalb\s+(?:des|deines|Ihres)|tuo|tuoi|nel"
    r"|entro\s+il|twoim|twój|twojego|w|je|jouw|uw|binnen\s+(?:het|je|jouw|uw))"
    r"\s+(?:(?:the|o|a|el|la|le|il)\s+)?(?:limit|limite|límite|limiet|budget|budżecie|budżetu"
    r"|budżet|presupuesto|orçamento|plafond|tetto|cap|maximum)\b",
    re.IGNORECASE,
)
_AMOUNT = r"[$€£¥]?\d[\d,.]*(?:\s?[$€£¥%]|\s?[A-Za-z]{1,5})?"
_NAMED_LIMIT_RE = re.compile(
    rf"{_AMOUNT}\s+(?:limit|cap|budget|maximum|max|minimum|ceiling|threshold)\b"
    rf"|\b(?:limit|cap|budget|maximum|ceiling|threshold)\s+(?:of\s+)?{_AMOUNT}",
    re.IGNORECASE,
)
