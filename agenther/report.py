"""``agenther report``: one self-contained HTML file showing what the relabeler produced and why.

The page has the counts, five charts (inline SVG from ``agenther.report_charts``), a table of
the examples (original and hindsight prompt, failure type, confidence, weight, the run behind
each) and a table of the rejects. Nothing is fetched when it is opened: no external script,
style, font or image. Every text from the data is escaped. The same data renders to the same
bytes. Loading and counting live in ``agenther.report_data``, the measures in
``agenther.report_measures``, the charts (the only use of matplotlib) in ``agenther.report_charts``.

    from agenther.report import load_export_dir, load_run_output, render_report
    html = render_report(load_run_output("out/sft.jsonl"), title="sft run")
    html = render_report(load_export_dir("exports/sft"), title="sft export")
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from agenther.report_charts import (
    INSTALL_HINT,
    MissingDependencyError,
    draw_charts,
    require_matplotlib,
)
from agenther.report_data import (
    Example,
    RejectEntry,
    ReportData,
    ReportInputError,
    load_export_dir,
    load_report_input,
    load_run_output,
)
from agenther.report_measures import evidence_spans

__all__ = [
    "INSTALL_HINT",
    "MissingDependencyError",
    "ReportData",
    "ReportInputError",
    "default_output",
    "load_export_dir",
    "load_report_input",
    "load_run_output",
    "render_report",
    "write_report",
]

DEFAULT_MAX_ROWS = 2000  # per table; the charts and counts always cover everything
TURN_CHARS = 1500  # of each turn shown in a row's conversation


def default_output(source: Path) -> Path:
    """``DIR/report.html`` for an export directory, ``OUT.report.html`` beside a file."""
    return (
        source / "report.html"
        if source.is_dir()
        else source.with_name(f"{source.stem}.report.html")
    )


def write_report(
    source: str | Path,
    output: str | Path | None = None,
    *,
    rejects: str | Path | None = None,
    title: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> tuple[Path, ReportData]:
    """Load ``source`` (a run's output file or an export directory), render, write; raises
    :class:`ReportInputError` for an unreadable input, :class:`MissingDependencyError`
    without matplotlib."""
    require_matplotlib()
    source = Path(source)
    data = load_report_input(source, rejects)
    target = Path(output) if output is not None else default_output(source)
    html = render_report(data, title or f"agenther report: {source.name}", max_rows=max_rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target, data


def render_report(data: ReportData, title: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _summary(data),
        _charts(data),
        _examples_table(data.examples, max_rows),
        _rejects_table(data.rejects, max_rows),
        f"<script>{_JS}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------------- summary


def _summary(data: ReportData) -> str:
    counts = data.counts()
    items = [
        ("examples", str(counts["examples"])),
        ("rejected", str(counts["rejected"])),
        ("invalid", str(counts["invalid"])),
        ("errors", str(counts["errors"])),
        ("format", _listed(data.values("format"))),
        ("pipeline version", _listed(data.values("pipeline_version"))),
        ("mode", _listed(data.values("mode"))),
    ]
    for key, label in (("models", "models"), ("settings_fingerprint", "settings")):
        if values := data.values(key):
            items.append((label, ", ".join(values)))
    if data.manifest is not None:
        items.append(("manifest", ", ".join(_flat(data.manifest))))
    rows = "".join(
        f'<div id="count-{escape(label.replace(" ", "-"))}"><dt>{escape(label)}</dt>'
        f"<dd>{escape(value)}</dd></div>"
        for label, value in items
    )
    sources = "".join(f"<li><code>{escape(s)}</code></li>" for s in data.sources)
    problems = ""
    if data.problems:
        listed = "".join(f"<li>{escape(p)}</li>" for p in data.problems)
        problems = f'<details class="problems" open><summary>{len(data.problems)} problems '
        problems += f"reading the input</summary><ul>{listed}</ul></details>"
    return (
        f'<section id="summary"><dl class="counts">{rows}</dl>'
        f"<details><summary>sources ({len(data.sources)})</summary><ul>{sources}</ul></details>"
        f"{problems}{_failure_type_table(data)}</section>"
    )


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key=value`` for the manifest's scalars, one level of nesting deep (its skip counts,
    its filters); lists (the shards) are left to the sources list."""
    out = []
    for key, value in sorted(mapping.items()):
        if isinstance(value, str | int | float | bool):
            out.append(f"{prefix}{key}={value}")
        elif isinstance(value, Mapping) and not prefix:
            out.extend(_flat(value, f"{key}."))
    return out


def _listed(values: list[str]) -> str:
    return ", ".join(values) or "—"


def _failure_type_table(data: ReportData) -> str:
    head = "<tr><th>failure type</th><th>accepted</th><th>rejected</th><th>error</th>"
    head += "<th>total</th></tr>"
    rows = []
    for failure_type, counts in data.outcomes_by_failure_type().items():
        cells = "".join(
            f'<td class="num" data-outcome="{o}">{counts[o]}</td>'
            for o in ("accepted", "rejected", "error")
        )
        rows.append(
            f'<tr data-failure-type="{escape(failure_type)}"><td>{escape(failure_type)}</td>'
            f'{cells}<td class="num">{sum(counts.values())}</td></tr>'
        )
    return (
        '<table id="failure-types"><caption>Runs per failure type (invalid lines have none)'
        f"</caption><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _charts(data: ReportData) -> str:
    figures = [
        f'<figure id="chart-{chart.key}"><figcaption>{escape(chart.title)}</figcaption>'
        f"{chart.svg}"
        + (f'<p class="note">{escape(chart.note)}</p>' if chart.note else "")
        + "</figure>"
        for chart in draw_charts(data)
    ]
    return f'<section id="charts"><h2>Charts</h2>{"".join(figures)}</section>'


# ------------------------------------------------------------------------------------ tables


def _examples_table(examples: list[Example], max_rows: int) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "failure type",
            "confidence",
            "weight",
            "original prompt",
            "hindsight prompt",
            "run",
        )
    )
    rows = []
    for number, example in enumerate(examples[:max_rows], 1):
        rows.append(
            f'<tr data-example-id="{escape(str(example.provenance.get("example_id") or ""))}">'
            f'<td class="num" data-v="{number}">{number}</td>'
            f"<td>{escape(example.failure_type)}</td>"
            f"{_number_cell(example.confidence)}{_number_cell(example.weight)}"
            f'<td class="prompt">{escape(example.original_prompt)}</td>'
            f'<td class="prompt hindsight">{_highlighted(example)}</td>'
            f"<td>{_conversation(example)}</td></tr>"
        )
    return _table_section(
        "examples",
        f"Examples ({len(examples)})",
        "Marked: figures and capitalised names of the hindsight prompt that the run's "
        "observations or final answer show as written.",
        head,
        rows,
        len(examples),
        max_rows,
    )


def _rejects_table(rejects: list[RejectEntry], max_rows: int) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("#", "outcome", "stage", "failure type", "reason", "trajectory", "line")
    )
    rows = [
        f'<tr class="outcome-{escape(r.outcome)}"><td class="num" data-v="{number}">{number}</td>'
        f"<td>{escape(r.outcome)}</td><td>{escape(r.stage)}</td>"
        f"<td>{escape(r.failure_type)}</td><td>{escape(r.reason)}</td>"
        f"<td><code>{escape(r.trajectory_id)}</code></td>"
        f'<td title="{escape(r.source)}">{escape(str(r.line) if r.line is not None else "")}</td>'
        "</tr>"
        for number, r in enumerate(rejects[:max_rows], 1)
    ]
    return _table_section(
        "rejects", f"Rejects ({len(rejects)})", "", head, rows, len(rejects), max_rows
    )


def _table_section(
    key: str, heading: str, note: str, head: str, rows: list[str], total: int, max_rows: int
) -> str:
    shown = (
        f'<p class="note">Showing the first {max_rows} of {total}; the counts and charts cover '
        "all of them.</p>"
        if total > max_rows
        else ""
    )
    return (
        f'<section id="{key}"><h2>{escape(heading)}</h2>'
        + (f'<p class="note">{escape(note)}</p>' if note else "")
        + shown
        + f'<input type="search" placeholder="filter rows" aria-label="filter {key}" '
        f'data-filter="{key}-table">'
        f'<table id="{key}-table" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _number_cell(value: float | None) -> str:
    if value is None:
        return '<td class="num" data-v="-1">—</td>'
    return f'<td class="num" data-v="{value:g}">{value:.3g}</td>'


def _highlighted(example: Example) -> str:
    prompt = example.hindsight_prompt
    out, at = [], 0
    for start, end in evidence_spans(prompt, example.evidence_text()):
        out.append(escape(prompt[at:start]))
        out.append(f"<mark>{escape(prompt[start:end])}</mark>")
        at = end
    out.append(escape(prompt[at:]))
    return "".join(out)


def _conversation(example: Example) -> str:
    turns = []
    for turn in example.turns:
        text = turn.text
        if len(text) > TURN_CHARS:
            text = text[:TURN_CHARS] + f"… ({len(turn.text) - TURN_CHARS} more characters)"
        turns.append(
            f'<div class="turn {escape(turn.role)}"><b>{escape(turn.role)}</b>'
            f"<pre>{escape(text)}</pre></div>"
        )
    label = escape(example.trajectory_id or example.source)
    return f"<details><summary>{label}</summary>{''.join(turns)}</details>"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em}
dl.counts{display:flex;flex-wrap:wrap;gap:.4em 1.6em;margin:0 0 1em}
dl.counts div{display:flex;gap:.4em}dt{color:#666}dd{margin:0;font-weight:600}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
thead th{background:#f3f3f3;position:sticky;top:0}
table.sortable thead th{cursor:pointer}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.prompt{max-width:28em}mark{background:#fff176;padding:0 1px}
#charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1em}
#charts h2{grid-column:1/-1}
figure{margin:0}figcaption{font-weight:600}svg{max-width:100%;height:auto}
.note{color:#555;font-size:13px}
details.problems{color:#8a1c1c}
.turn b{font-size:11px;color:#666;text-transform:uppercase}
.turn pre{white-space:pre-wrap;margin:0 0 .4em;max-width:50em;font-size:12px}
.turn.tool pre{background:#f6f8fa}
input[type=search]{width:24em;padding:3px}
tr.outcome-error td{color:#8a1c1c}
"""

# Filter box per table; click a heading to sort (numbers by data-v, text otherwise).
_JS = """
"use strict";
document.querySelectorAll("input[data-filter]").forEach(function (box) {
  var table = document.getElementById(box.getAttribute("data-filter"));
  box.addEventListener("input", function () {
    var q = box.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      row.hidden = q !== "" && row.textContent.toLowerCase().indexOf(q) < 0;
    });
  });
});
function sortKey(cell) {
  var v = cell.getAttribute("data-v");
  return v === null ? cell.textContent.toLowerCase() : parseFloat(v);
}
document.querySelectorAll("table.sortable").forEach(function (table) {
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], i = th.cellIndex, up = th.getAttribute("data-dir") !== "up";
      th.setAttribute("data-dir", up ? "up" : "down");
      Array.prototype.slice.call(body.rows).sort(function (a, b) {
        var x = sortKey(a.cells[i]), y = sortKey(b.cells[i]);
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
