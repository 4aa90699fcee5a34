"""Promises about the repository itself: CI runs the README's command, layers stay one-way, the
documentation's test citations and links point at things that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = _readme_commands()[1].split("&&")[-1].strip()
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == test_command
    assert 'pip install --quiet -e ".[dev]"' in "\n".join(ci_lines)


def test_first_screen_runs_the_demo_without_a_key() -> None:
    assert _readme_commands()[0].endswith("agenther demo")


def test_library_imports_without_kafka() -> None:
    code = (
        "import sys, agenther, agenther.cli, agenther.pipeline\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiokafka', 'streams', 'kafka')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_library_never_imports_the_service() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "agenther").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+(streams|aiokafka)\b", path.read_text(), flags=re.M)
    ]
    assert offenders == []


def _cited_tests(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", text))


def test_every_test_the_documentation_cites_exists() -> None:
    assert _cited_tests((ROOT / "docs" / "guarantees.md").read_text()), (
        "the Guarantees page names its tests"
    )
    cited = set().union(*(_cited_tests(page.read_text()) for page in PAGES))
    missing = [
        f"{path}::{name}"
        for path, name in sorted(cited)
        if not re.search(rf"def {name}\(", (ROOT / path).read_text())
    ]
    assert missing == []


def test_the_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    unlinked = [page.name for page in PAGES[1:] if f"](docs/{page.name})" not in readme]
    assert unlinked == []


# [text](target) and [text](target "title"); images too. Not inside code spans or fences.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _relative_links(text: str) -> list[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = [m.group(1) for m in _LINK.finditer(text)]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def _resolves(page: Path, target: str) -> bool:
    path, _, anchor = target.partition("#")
    linked = page.parent / path
    if not linked.exists():
        return False
    return not anchor or linked.suffix != ".md" or anchor in _anchors(linked)


def test_every_relative_link_in_the_documentation_resolves() -> None:
    links = {page.name: _relative_links(page.read_text()) for page in PAGES}
    assert links["README.md"], "the README links the docs pages"
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in links[page.name]
        if not _resolves(page, target)
    ]
    assert broken == []
