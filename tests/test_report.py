"""``agenther report``: real ``agenther run`` output in every format (and an export directory)
rendered to one HTML page, read back with the standard library's HTML and XML parsers and
checked against counts this file computes from the files on its own."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import pytest

from agenther.cli import EXIT_USAGE, main
from agenther.goal_distribution import GoalDistribution, leading_verb
from agenther.report import load_export_dir, load_run_output, render_report
from agenther.report_measures import evidence_spans, normalise_reason

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ["sft", "dpo", "sharegpt", "openai"]
LABELLED_SETS = [
    ROOT / "bench" / "eval_set.jsonl",
    ROOT / "bench" / "dev_set.jsonl",
    ROOT / "bench" / "tuning_blind_1.jsonl",
]
SVG_NS = "{http://www.w3.org/2000/svg}"


# ------------------------------------------------------------------------------ reading pages


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """Table rows (cell text unescaped, <mark> texts), tag counts and every src/href."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.refs: list[tuple[str, str, str]] = []
        self.tables: dict[str, list[Row]] = {}
        self.by_id: dict[str, str] = {}
        self._table: str | None = None
        self._body = False
        self._row: Row | None = None
        self._cell: list[str] | None = None
        self._mark: list[str] | None = None
        self._open: list[tuple[str | None, list[str]]] = []  # div/dd/section, with id or not
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        values = {k: v or "" for k, v in attrs}
        for name, value in values.items():
            if name in ("src", "href") or name.endswith(":href"):
                self.refs.append((tag, name, value))
        if tag in ("div", "dd", "section"):
            self._open.append((values.get("id"), []))
        if tag == "table":
            self._table = values.get("id", "")
            self.tables[self._table] = []
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._body and self._table is not None:
            self._row = Row(values)
            self.tables[self._table].append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "mark":
            self._mark = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "tbody":
            self._body = False
        elif tag == "tr":
            self._row = None
        elif tag == "td" and self._row is not None and self._cell is not None:
            self._row.cells.append("".join(self._cell))
            self._cell = None
        elif tag == "mark" and self._mark is not None:
            if self._row is not None:
                self._row.marks.append("".join(self._mark))
            self._mark = None
        elif tag in ("div", "dd", "section") and self._open:
            ident, parts = self._open.pop()
            if ident is not None:
                self.by_id[ident] = "".join(parts)

    def handle_data(self, data: str) -> None:
        for buffer in (self._cell, self._mark):
            if buffer is not None:
                buffer.append(data)
        for ident, parts in self._open:
            if ident is not None:
                parts.append(data)


def _svgs(text: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", text, flags=re.S)]


def _svg_texts(svg: ET.Element) -> list[str]:
    return [(t.text or "").strip() for t in svg.iter(f"{SVG_NS}text")]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# ---------------------------------------------------------------- what the run showed, our way


def _shown(record: dict[str, Any]) -> str:
    """The observations and final answer of a trainer line, read independently of the
    report's own loader."""
    if "conversations" in record:
        turns = [(t["from"], t["value"]) for t in record["conversations"]]
        observed = [v for role, v in turns if role in ("observation", "function")]
        last_role, last = turns[-1]
        return "\n".join(observed + ([last] if last_role == "gpt" else []))
    messages = record["chosen"] if "chosen" in record else record["messages"]
    observed = [m["content"] for m in messages if m["role"] in ("tool", "function", "observation")]
    last = messages[-1]
    final = [last["content"]] if last["role"] == "assistant" and not last.get("tool_calls") else []
    return "\n".join(observed + final)


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def runs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """173 labelled runs (their ``labels`` ride along) and two unreadable lines."""
    lines = [line for path in LABELLED_SETS for line in path.read_text().splitlines() if line]
    lines[5:5] = ["this is not JSON", json.dumps({"steps": "not a run"})]
    path = tmp_path_factory.mktemp("runs") / "runs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Produced:
    fmt: str
    output: Path
    rejects: Path
    report: Path

    @property
    def lines(self) -> list[dict[str, Any]]:
        return _jsonl(self.output)

    @property
    def provenance(self) -> list[dict[str, Any]]:
        if self.fmt == "openai":
            return _jsonl(self.output.with_name(self.output.stem + ".provenance.jsonl"))
        return [line["agenther"] for line in self.lines]

    @property
    def html(self) -> str:
        return self.report.read_text(encoding="utf-8")


@pytest.fixture(scope="module", params=FORMATS)
def produced(
    request: pytest.FixtureRequest, runs_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Produced:
    fmt: str = request.param
    out = tmp_path_factory.mktemp(fmt) / f"{fmt}.jsonl"
    assert main(["run", str(runs_file), "--rule-based", "-f", fmt, "-o", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    report = out.with_name(f"{fmt}.report.html")
    return Produced(fmt, out, out.with_name(f"{fmt}.rejects.jsonl"), report)


# --------------------------------------------------------------------------- the page itself


def test_one_row_per_output_line_and_per_reject(produced: Produced) -> None:
    page = Page(produced.html)
    lines, rejects = produced.lines, _jsonl(produced.rejects)
    assert len(lines) >= 15 and len(rejects) >= 50  # enough runs that the checks mean something
    examples = page.tables["examples-table"]
    assert len(examples) == len(lines)
    assert [r.attrs["data-example-id"] for r in examples] == [
        p["example_id"] for p in produced.provenance
    ]
    assert [row.cells[5] for row in examples] == [
        p["hindsight_prompt"] for p in produced.provenance
    ]
    reject_rows = page.tables["rejects-table"]
    assert len(reject_rows) == len(rejects)
    assert [(r.cells[1], r.cells[2], r.cells[4]) for r in reject_rows] == [
        (r["outcome"], r["stage"], r["reason"]) for r in rejects
    ]


def test_header_counts_and_failure_types_match_the_files(produced: Produced) -> None:
    page = Page(produced.html)
    rejects = _jsonl(produced.rejects)
    outcomes = Counter(r["outcome"] for r in rejects)
    assert page.by_id["count-examples"].endswith(str(len(produced.lines)))
    assert page.by_id["count-rejected"].endswith(str(outcomes["rejected"]))
    assert page.by_id["count-invalid"].endswith("2")
    assert page.by_id["count-errors"].endswith(str(outcomes["error"]))
    assert page.by_id["count-format"] == f"format{produced.fmt}"
    assert page.by_id["count-mode"] == "moderule"

    expected: dict[str, Counter[str]] = {}
    for p in produced.provenance:
        expected.setdefault(p["failure_type"] or "(none)", Counter())["accepted"] += 1
    for r in rejects:
        if r["outcome"] != "invalid":
            expected.setdefault(r["failure_type"] or "(none)", Counter())[r["outcome"]] += 1
    table = {
        row.cells[0]: Counter(
            {
                "accepted": int(row.cells[1]),
                "rejected": int(row.cells[2]),
                "error": int(row.cells[3]),
            }
        )
        for row in page.tables["failure-types"]
    }
    assert {k: +v for k, v in table.items()} == expected
    assert len(expected) >= 4

    # The outcomes chart draws the same: one label per type, one total per bar.
    outcomes_svg = _svgs(produced.html)[0]
    texts = _svg_texts(outcomes_svg)
    assert set(expected) <= set(texts)
    totals = sorted(int(t) for t in texts[texts.index("runs") :] if t.isdigit())
    assert sorted(sum(c.values()) for c in expected.values()) == totals


def test_five_charts_as_inline_svg_with_text_kept_as_text(produced: Produced) -> None:
    page = Page(produced.html)
    assert page.tags["svg"] == 5
    svgs = _svgs(produced.html)
    assert len(svgs) == 5
    reasons = _svg_texts(svgs[3])
    assert any(t.startswith("none of the rule strategies fits") for t in reasons)
    verbs = _svg_texts(svgs[4])
    top_verb = Counter(leading_verb(p["hindsight_prompt"]) for p in produced.provenance)
    assert top_verb.most_common(1)[0][0] in verbs


def test_nothing_is_fetched_when_the_page_opens(produced: Produced) -> None:
    page = Page(produced.html)
    assert page.tags["script"] == 1  # the inline sort-and-filter script
    assert page.tags["link"] == page.tags["img"] == page.tags["iframe"] == 0
    external = [ref for ref in page.refs if not ref[2].startswith("#")]
    assert external == []
    assert not re.search(r"<script[^>]*\bsrc=|@import|url\(\s*['\"]?(?:https?:)?//", produced.html)


def test_marks_wrap_only_what_the_runs_observations_show(produced: Produced) -> None:
    rows = Page(produced.html).tables["examples-table"]
    marked = 0
    for row, record in zip(rows, produced.lines, strict=True):
        shown = _shown(record)
        for mark in row.marks:
            assert mark and mark in shown, (mark, row.cells[5])
            assert mark in row.cells[5]
            marked += 1
    assert marked >= len(rows) // 2  # many prompts name a place, figure or product shown


def test_with_the_observations_blanked_nothing_is_marked(
    produced: Produced, tmp_path: Path
) -> None:
    blank = tmp_path / produced.output.name
    blank.write_text("".join(json.dumps(_blanked(r)) + "\n" for r in produced.lines))
    if produced.fmt == "openai":
        sidecar = produced.output.with_name(produced.output.stem + ".provenance.jsonl")
        shutil.copy(sidecar, tmp_path / sidecar.name)
    html = render_report(load_run_output(blank), "blank")
    assert len(Page(html).tables["examples-table"]) == len(produced.lines)
    assert "<mark>" not in html


def _blanked(record: dict[str, Any]) -> dict[str, Any]:
    """The same line with every observation and the final answer emptied of content."""
    if "conversations" in record:
        for turn in record["conversations"]:
            if turn["from"] in ("observation", "gpt"):
                turn["value"] = "nothing here"
        return record
    for side in ("messages", "chosen", "rejected"):
        for message in record.get(side, []):
            if message["role"] == "tool" or (
                message["role"] == "assistant" and not message.get("tool_calls")
            ):
                message["content"] = "nothing here"
    return record


@pytest.mark.parametrize("produced", ["openai"], indirect=True)
def test_the_openai_report_takes_its_provenance_from_the_sidecar(
    produced: Produced, tmp_path: Path
) -> None:
    sidecar = produced.provenance
    assert "agenther" not in produced.lines[0]
    rows = Page(produced.html).tables["examples-table"]
    assert [r.cells[1] for r in rows] == [p["failure_type"] for p in sidecar]
    assert [r.cells[4] for r in rows] == [p["original_prompt"] for p in sidecar]
    # Without the sidecar, nothing to name the types by, and the page says so.
    alone = tmp_path / "openai.jsonl"
    shutil.copy(produced.output, alone)
    data = load_run_output(alone)
    assert {e.failure_type for e in data.examples} == {"(none)"}
    assert any("provenance.jsonl: missing" in p for p in data.problems)


def test_two_renders_of_the_same_data_are_byte_identical(
    produced: Produced, tmp_path: Path
) -> None:
    again = tmp_path / "again.html"
    assert main(["report", str(produced.output), "-o", str(again), "--title", "t"]) == 0
    twice = tmp_path / "twice.html"
    assert main(["report", str(produced.output), "-o", str(twice), "--title", "t"]) == 0
    assert again.read_bytes() == twice.read_bytes()
    data = load_run_output(produced.output)
    assert render_report(data, "t") == again.read_text(encoding="utf-8")


# ---------------------------------------------------------------------- export directories


def _export(produced: Produced, root: Path, *, with_rejects: bool) -> Path:
    """An export directory by hand: manifest, two shards (sidecars for OpenAI), rejects."""
    fmt = produced.fmt
    (root / "data").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"format": fmt, "examples": 0}))
    lines = produced.output.read_text().splitlines(keepends=True)
    sidecar = produced.output.with_name(produced.output.stem + ".provenance.jsonl")
    meta = sidecar.read_text().splitlines(keepends=True) if fmt == "openai" else []
    half = len(lines) // 2
    for number, (start, end) in enumerate([(0, half), (half, len(lines))]):
        shard = root / "data" / f"{fmt}-{number:05d}.jsonl"
        shard.write_text("".join(lines[start:end]))
        if meta:
            shard.with_name(f"{shard.stem}.provenance.jsonl").write_text("".join(meta[start:end]))
    (root / "data" / "notes.jsonl").write_text('{"not": "a shard"}\n')
    if with_rejects:
        shutil.copy(produced.rejects, root / "rejects.jsonl")
    return root


@pytest.mark.parametrize("produced", ["sft", "openai"], indirect=True)
def test_an_export_directory_loads_shards_sidecars_and_rejects(
    produced: Produced, tmp_path: Path
) -> None:
    root = _export(produced, tmp_path / "export", with_rejects=True)
    assert main(["report", str(root)]) == 0
    page = Page((root / "report.html").read_text(encoding="utf-8"))
    rows = page.tables["examples-table"]
    assert [r.attrs["data-example-id"] for r in rows] == [
        p["example_id"] for p in produced.provenance
    ]
    assert [r.cells[1] for r in rows] == [
        p["failure_type"] or "(none)" for p in produced.provenance
    ]
    assert len(page.tables["rejects-table"]) == len(_jsonl(produced.rejects))
    assert f"format={produced.fmt}" in page.by_id["count-manifest"]

    bare = _export(produced, tmp_path / "bare", with_rejects=False)
    data = load_export_dir(bare)
    assert len(data.examples) == len(produced.lines) and data.rejects == []
    assert data.problems == []


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
@pytest.mark.parametrize("produced", ["sft", "openai"], indirect=True)
def test_an_export_written_by_export_dir_loads_from_its_manifest(
    produced: Produced, file_format: Literal["jsonl", "parquet"], tmp_path: Path
) -> None:
    """The layout ``agenther export`` writes: shards named by the manifest, every format's
    provenance under ``provenance/``, maybe Parquet, no rejects."""
    if file_format == "parquet":
        pytest.importorskip("pyarrow")
    from agenther.export_dir import ExportDir, Manifest

    directory = ExportDir(tmp_path / "export")
    manifest = Manifest(source="kafka:t", format=produced.fmt, file_format=file_format)
    records, provenance = produced.lines, produced.provenance
    half = len(records) // 2
    for part in (slice(0, half), slice(half, None)):
        shard = directory.write_shard(manifest, records[part], provenance[part], {"0": (0, 1)})
        manifest.shards.append(shard)
    manifest.examples = len(records)
    manifest.skipped = {"another format": 2}
    directory.commit(manifest, [p["example_id"] for p in provenance])
    (directory.path / "data" / f"{produced.fmt}-00009.jsonl").write_text("")  # not in the manifest

    assert main(["report", str(directory.path)]) == 0
    page = Page((directory.path / "report.html").read_text(encoding="utf-8"))
    rows = page.tables["examples-table"]
    assert [r.attrs["data-example-id"] for r in rows] == [p["example_id"] for p in provenance]
    assert [r.cells[1] for r in rows] == [p["failure_type"] or "(none)" for p in provenance]
    assert [r.cells[5] for r in rows] == [p["hindsight_prompt"] for p in provenance]
    assert page.tables["rejects-table"] == []
    assert "skipped.another format=2" in page.by_id["count-manifest"]
    loaded = load_export_dir(directory.path)
    assert loaded.problems == []
    assert [Path(source).suffix for source in loaded.sources[1:]] == [f".{file_format}"] * 2


def test_an_export_directory_without_a_usable_manifest_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir()
    assert main(["report", str(tmp_path)]) == EXIT_USAGE
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "csv"}))
    assert main(["report", str(tmp_path)]) == EXIT_USAGE
    assert "'format' must be one of" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


# --------------------------------------------------------------------------------- escaping


def test_text_from_the_data_is_escaped(tmp_path: Path) -> None:
    script = "<script>alert(1)</script>"
    record = {
        "messages": [
            {"role": "user", "content": f"Find {script} prices"},
            {"role": "assistant", "content": "", "tool_calls": []},
            {"role": "tool", "name": "search", "content": f"{script} costs 42"},
            {"role": "assistant", "content": f"It is 42 {script}"},
        ],
        "agenther": {
            "trajectory_id": f"t{script}",
            "example_id": f"e{script}",
            "format": "sft",
            "failure_type": f"odd{script}",
            "confidence": 0.9,
            "weight": 0.5,
            "original_prompt": f"Find {script} prices under 10",
            "hindsight_prompt": f"Find {script} prices, 42 at most",
            "mode": script,
            "pipeline_version": script,
        },
    }
    out = tmp_path / "sft.jsonl"
    out.write_text(json.dumps(record) + "\n")
    reject = {"outcome": "rejected", "stage": script, "reason": script, "failure_type": script}
    (tmp_path / "sft.rejects.jsonl").write_text(json.dumps(reject) + "\n")
    assert main(["report", str(out), "--title", script]) == 0
    html = (tmp_path / "sft.report.html").read_text(encoding="utf-8")
    assert "alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = Page(html)
    assert page.tags["script"] == 1
    (row,) = page.tables["examples-table"]
    assert row.cells[5] == f"Find {script} prices, 42 at most"
    assert row.marks == ["1", "42"]  # "alert(1)" and "costs 42" are in the observation
    assert page.tables["rejects-table"][0].cells[4] == script


# ------------------------------------------------------------------------- the command itself


@pytest.mark.parametrize("produced", ["sft"], indirect=True)
def test_max_rows_caps_the_tables_not_the_counts(produced: Produced, tmp_path: Path) -> None:
    out = tmp_path / "capped.html"
    assert main(["report", str(produced.output), "-o", str(out), "--max-rows", "3"]) == 0
    page = Page(out.read_text(encoding="utf-8"))
    assert len(page.tables["examples-table"]) == len(page.tables["rejects-table"]) == 3
    assert page.by_id["count-examples"].endswith(str(len(produced.lines)))
    assert f"Showing the first 3 of {len(produced.lines)}" in out.read_text(encoding="utf-8")


def test_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["report", str(tmp_path / "missing.jsonl")]) == EXIT_USAGE
    (tmp_path / "out.jsonl").write_text("")
    assert main(["report", str(tmp_path / "out.jsonl"), "--rejects", "nope"]) == EXIT_USAGE


def test_without_matplotlib_the_command_says_how_to_install_it_and_exits_2(
    tmp_path: Path,
) -> None:
    out = tmp_path / "sft.jsonl"
    out.write_text("")
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "from agenther.cli import main\n"
        f"sys.exit(main(['report', {str(out)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'agenther[report]'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.with_name("sft.report.html").exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.parametrize("produced", ["sft"], indirect=True)
def test_the_inline_script_parses(produced: Produced, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js on this machine to parse the inline script")
    (script,) = re.findall(r"<script>(.*?)</script>", produced.html, flags=re.S)
    (tmp_path / "page.js").write_text(script)
    subprocess.run([node, "--check", str(tmp_path / "page.js")], check=True, timeout=60)


@pytest.mark.parametrize("produced", ["sft"], indirect=True)
def test_a_headless_browser_renders_it_without_console_errors(
    produced: Produced, tmp_path: Path
) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (chromium, chromium-browser, google-chrome)")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            produced.report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert len(Page(done.stdout).tables["examples-table"]) == len(produced.lines)
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console


# ------------------------------------------------------------------------------- the counts


def test_similar_reasons_group_once_quotes_and_figures_are_merged() -> None:
    same = {
        normalise_reason("the final answer admits a failure ('couldn't'), so it answers no new"),
        normalise_reason("the final answer admits a failure ('unable'), so it answers no new"),
    }
    assert same == {"the final answer admits a failure ('…'), so it answers no new"}
    assert normalise_reason("the final answer states 43, 45, which no observation shows") == (
        normalise_reason("the final answer states 3.10, which no observation shows").replace(
            "N,", "N, N,"
        )
    )
    assert len(normalise_reason("x" * 200)) == 80


def test_goal_verbs_entropy_and_long_tail() -> None:
    assert leading_verb("Please find flights") == "find"
    assert leading_verb("Can you book a table?") == "book"
    assert leading_verb("I need a walking route") == "need"
    assert leading_verb("What's the weather?") == "what"
    stats = GoalDistribution.of(["Find a", "find b", "Book c", "Run d"])
    assert stats.counts == Counter({"find": 2, "book": 1, "run": 1})
    assert stats.entropy_bits == pytest.approx(1.5)
    assert stats.singleton_share == pytest.approx(0.5)
    assert GoalDistribution.of(["Find a", "Find b"]).entropy_bits == 0.0


def test_evidence_is_a_literal_figure_or_name_the_run_shows() -> None:
    prompt = "Find hotels in Porto for 3 nights under 120 near Ribeira Square"
    shown = "Porto: Hotel A 95 EUR, 3 nights; Ribeira is 2 km away; 1200 reviews"
    marked = [prompt[a:b] for a, b in evidence_spans(prompt, shown)]
    assert marked == ["Porto", "3", "Ribeira"]  # not "120" (only "1200"), not "Find"
    move = "Move PAY-421 to Done"  # a sentence's first word only with a digit or inner capital
    assert [move[a:b] for a, b in evidence_spans(move, "Move PAY-421: Done")] == ["PAY-421", "Done"]
