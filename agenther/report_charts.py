"""The report's five charts, drawn with matplotlib into inline SVG text.

matplotlib is optional (``pip install 'agenther[report]'``) and imported only when a chart is
drawn. Figures are built with the object API (``matplotlib.figure.Figure``), so no pyplot
state or GUI backend is touched. Output is deterministic: a fixed ``svg.hashsalt`` for the
element ids, no date in the metadata, text kept as text (``svg.fonttype: none``) and
mathtext off, so a "$" in a reason stays a dollar sign.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agenther.goal_distribution import GoalDistribution
from agenther.report_data import OUTCOMES, ReportData
from agenther.report_measures import top_reasons

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'agenther[report]'"
COLOURS = {"accepted": "#2e7d32", "rejected": "#ef8c00", "error": "#c62828"}
TOP_REASONS = 10
TOP_VERBS = 15


class MissingDependencyError(ImportError):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"the report's charts need matplotlib: {INSTALL_HINT}"
        ) from exc


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: str  # an <svg> element, ready to inline
    note: str = ""  # a line of figures under the chart


def draw_charts(data: ReportData) -> list[Chart]:
    require_matplotlib()
    import matplotlib

    accepted_weights = [w for e in data.examples if (w := e.weight) is not None]
    rejected_weights = [r.weight for r in data.rejects if r.weight is not None]
    goals = GoalDistribution.of(e.hindsight_prompt for e in data.examples)
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "agenther-report",
            "text.parse_math": False,
            "font.size": 9,
            # DejaVu ships with matplotlib, so the layout never depends on the fonts installed;
            # the viewer's browser falls back to its sans-serif. A short list keeps the SVG small.
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans"],
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        return [
            _outcomes_chart(data),
            _histogram(
                "confidence",
                "Relabeling confidence of the accepted examples",
                [[c for e in data.examples if (c := e.confidence) is not None]],
                ["accepted"],
            ),
            _histogram(
                "weight",
                "Training weight w: accepted examples and rejected runs",
                [accepted_weights, rejected_weights],
                ["accepted", "rejected"],
            ),
            _reasons_chart(data),
            _goals_chart(goals),
        ]


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.5, height), layout="constrained")


def _svg(figure: Figure, title: str) -> str:
    out = io.StringIO()
    figure.savefig(
        out,
        format="svg",
        metadata={"Title": title, "Date": None, "Creator": None, "Format": None, "Type": None},
    )
    text = out.getvalue()
    return text[text.index("<svg") :].strip()


def _empty(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _outcomes_chart(data: ReportData) -> Chart:
    title = "Outcome per failure type"
    table = data.outcomes_by_failure_type()
    types = list(reversed(table))  # most runs at the top
    figure = _figure(max(1.6, 0.45 * len(types) + 1.0))
    ax = figure.add_subplot()
    if not types:
        _empty(ax, "runs")
    left = [0] * len(types)
    for outcome in OUTCOMES:
        counts = [table[t][outcome] for t in types]
        if types and any(counts):
            ax.barh(types, counts, left=left, label=outcome, color=COLOURS[outcome])
            left = [a + b for a, b in zip(left, counts, strict=True)]
    for y, total in enumerate(left):
        ax.text(total, y, f" {total}", va="center")
    if types:
        ax.set_xlabel("runs")
        ax.legend(loc="lower right", frameon=False)
    return Chart("outcomes", title, _svg(figure, title))


def _histogram(
    key: str, title: str, series: Sequence[Sequence[float]], labels: Sequence[str]
) -> Chart:
    figure = _figure(2.6)
    ax = figure.add_subplot()
    values = [v for s in series for v in s]
    if not values:
        _empty(ax, "values")
        return Chart(key, title, _svg(figure, title))
    low, high = min(0.0, *values), max(1.0, *values)
    ax.hist(
        [list(s) for s in series],
        bins=20,
        range=(low, high),
        label=list(labels),
        color=[COLOURS[label] for label in labels],
    )
    ax.set_xlabel(key)
    ax.set_ylabel("count")
    if len(series) > 1:
        ax.legend(frameon=False)
    counts = ", ".join(f"{label} {len(s)}" for label, s in zip(labels, series, strict=True))
    return Chart(key, title, _svg(figure, title), counts)


def _reasons_chart(data: ReportData) -> Chart:
    title = f"Top {TOP_REASONS} reasons for rejects (quoted words and figures merged)"
    reasons = list(reversed(top_reasons(data.rejects, TOP_REASONS)))
    figure = _figure(max(1.6, 0.5 * len(reasons) + 0.8))
    ax = figure.add_subplot()
    if not reasons:
        _empty(ax, "rejects")
    else:
        labels = [textwrap.fill(reason, 48) for reason, _ in reasons]
        ax.barh(range(len(reasons)), [n for _, n in reasons], color=COLOURS["rejected"])
        ax.set_yticks(range(len(reasons)), labels, fontsize=8)
        ax.set_xlabel("rejects")
    return Chart("reasons", title, _svg(figure, title))


def _goals_chart(goals: GoalDistribution) -> Chart:
    title = f"Goals: leading verb of the hindsight prompts (top {TOP_VERBS})"
    top = goals.top(TOP_VERBS)
    figure = _figure(2.8)
    ax = figure.add_subplot()
    if not top:
        _empty(ax, "prompts")
    else:
        ax.bar(range(len(top)), [n for _, n in top], color=COLOURS["accepted"])
        ax.set_xticks(range(len(top)), [verb for verb, _ in top], rotation=40, ha="right")
        ax.set_ylabel("prompts")
    note = (
        f"{len(goals.counts)} distinct verbs over {goals.total} prompts; entropy "
        f"{goals.entropy_bits:.2f} bits; {goals.singleton_share:.0%} of prompts start with a "
        "verb no other prompt uses"
    )
    return Chart("goals", title, _svg(figure, title), note)
