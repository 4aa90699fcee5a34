"""The Python examples of the README and of docs/ run as written, from the repository root."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


BLOCKS = [(page.relative_to(ROOT).as_posix(), code) for page in PAGES for code in _blocks(page)]


def test_the_readme_has_a_library_example() -> None:
    assert _blocks(ROOT / "README.md")


@pytest.mark.parametrize(
    ("page", "code"), BLOCKS, ids=[f"{page}:{code.splitlines()[0][:40]}" for page, code in BLOCKS]
)
def test_each_python_block_runs_as_written(
    page: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, page, "exec"), {"__name__": "__readme__"})
    assert printed.getvalue().strip(), "the example prints nothing"
    assert os.getcwd() == str(ROOT)
