"""Plant each known bug once and watch the test that guards against it fail.

A guarantee counts only when its test goes red on the bug it promises to catch. Each mutant
below is a small source edit that reintroduces a real bug (the commit moved before the ack,
a per-event 400 made fatal, a check skipped); for each, the script copies the checkout to a
temporary directory, applies the edit there (never here), runs the guarding tests and expects
them to FAIL. A mutant whose tests still pass is a proof that cannot fail: exit 1.

    python scripts/mutation_check.py              # every mutant
    python scripts/mutation_check.py commit-before-ack grounding-skips-demands
    python scripts/mutation_check.py --list
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str
    path: str
    original: str
    mutated: str
    tests: tuple[str, ...]


MUTANTS = (
    Mutant(
        "commit-before-ack",
        "the input offset is marked done before its outputs are acknowledged",
        "streams/processor.py",
        """                decision = await self._handler.decide(record)
            # The at-least-once rule: the offset is marked done only after ``deliver`` has
            # seen every output acknowledged.
            await self._delivery.deliver(record, decision)""",
        """                decision = await self._handler.decide(record)
            self._commits.done(tp, [record.offset], epoch)
            await self._delivery.deliver(record, decision)""",
        ("tests/reliability/test_commit_rule.py",),
    ),
    Mutant(
        "trace-message-done-when-buffered",
        "a message of trace spans is marked done when it is buffered, before its trace has an "
        "outcome: a stop or crash while the trace waits for its root loses it",
        "streams/processor.py",
        """                if not self._traces.add(tp, record, spans):""",
        """                self._commits.done(tp, [record.offset], epoch)
                if not self._traces.add(tp, record, spans):""",
        (
            "tests/test_service_inputs.py::"
            "test_a_buffered_trace_holds_its_offset_back_until_it_has_an_outcome",
        ),
    ),
    Mutant(
        "trace-cut-in-two",
        "the commit position may fall inside a relabeled trace, so a restart reads its tail alone",
        "streams/trace_assembly.py",
        """        while cut := [first for first, last in settled if first < floor <= last]:""",
        """        while cut := []:""",
        (
            # The unit test catches the bug on every run; the kill -9 test only when a kill
            # lands after a commit inside a trace (it missed one CI run in four).
            "tests/test_trace_assembly.py::"
            "test_the_commit_position_never_cuts_a_relabeled_trace_in_two",
            "tests/reliability/test_trace_crash_recovery.py",
        ),
    ),
    Mutant(
        "per-event-400-is-fatal",
        "an LLM 400 caused by one event's content (context length, content filter) stops the "
        "service instead of dead-lettering that event",
        "agenther/llm_client.py",
        """        return LLMRequestError(f"{model}: {error.describe()}", code=code)""",
        """        return LLMFatalError(f"{model}: {error.describe()}")""",
        (
            "tests/reliability/test_llm_faults.py::"
            "test_each_fault_kind_ends_its_event_exactly_as_specified",
        ),
    ),
    Mutant(
        "quota-dead-letters-the-backlog",
        "an exhausted LLM quota dead-letters events instead of pausing the service",
        "streams/error_policy.py",
        """    if isinstance(error, LLMQuotaError):
        return Action.PAUSE""",
        """    if isinstance(error, LLMQuotaError):
        return Action.DEAD_LETTER""",
        (
            "tests/reliability/test_llm_faults.py::"
            "test_an_exhausted_quota_pauses_everything_and_dead_letters_nothing",
        ),
    ),
    Mutant(
        "grounding-skips-demands",
        "the grounding verifier no longer checks what a prompt demands against the agent's own "
        "calls: an obedient model's 'wire $1,000,000 to account 42' becomes an example",
        "agenther/grounding.py",
        """    problems.extend(demand_problems(prompt, trajectory))""",
        """""",
        ("tests/reliability/test_obedient_model.py",),
    ),
    Mutant(
        "failed-goal-echo-accepted",
        "a hindsight prompt that restates the request the run failed is accepted",
        "agenther/grounding.py",
        """    if echoes_failed_goal(prompt, trajectory.original_prompt):""",
        """    if False:""",
        ("tests/test_grounding.py::test_the_failed_request_itself_is_never_a_hindsight_prompt",),
    ),
    Mutant(
        "judge-bypassed-by-fallback",
        "the 0.8θ fallback returns an attempt the second judge rejected (the reference's hole)",
        "agenther/prompt_relabeler.py",
        'if a.status == "low_confidence" and a.confidence >= fallback_factor * min_confidence',
        'if a.status in ("low_confidence", "judge_rejected") and a.confidence >= 0',
        ("tests/test_prompt_relabeler.py::test_judge_rejection_is_never_bypassed_by_the_fallback",),
    ),
    Mutant(
        "ready-without-endpoint-check",
        "the service joins its group and reports ready without checking the LLM key and model",
        "streams/processor.py",
        """            if await self._check_llm() and await self._connect():""",
        """            if await self._connect():""",
        (
            "tests/reliability/test_llm_faults.py::"
            "test_a_bad_key_stops_the_service_before_it_is_ever_ready",
        ),
    ),
)


def _copy_checkout(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        relative = raw.decode()
        source = ROOT / relative
        if not source.is_file():
            continue  # deleted in the work tree
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _pytest(work: Path, tests: list[str], verbose: bool) -> tuple[int, float, str]:
    # The copy must shadow the installed package: its own directory comes first.
    env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    output = (result.stdout + result.stderr).strip()
    if verbose:
        print(output)
    return result.returncode, time.monotonic() - started, "\n".join(output.splitlines()[-3:])


def run_baseline(mutants: list[Mutant], verbose: bool = False) -> tuple[bool, float, str]:
    """The guarding tests on the unmutated copy: they must pass, or a "catch" proves nothing."""
    tests = sorted({test for mutant in mutants for test in mutant.tests})
    with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as tmp:
        work = Path(tmp)
        _copy_checkout(work)
        code, seconds, tail = _pytest(work, tests, verbose)
    return code == 0, seconds, tail


def run_mutant(mutant: Mutant, verbose: bool = False) -> tuple[bool, float, str]:
    """(caught, seconds, tail of the test output)."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        work = Path(tmp)
        _copy_checkout(work)
        target = work / mutant.path
        text = target.read_text()
        if text.count(mutant.original) != 1:
            raise SystemExit(
                f"{mutant.name}: the code to mutate is not found exactly once in {mutant.path}; "
                "update the mutant with the code"
            )
        target.write_text(text.replace(mutant.original, mutant.mutated))
        code, seconds, tail = _pytest(work, list(mutant.tests), verbose)
    # pytest exits 1 when tests failed; anything else (2-5) is a broken run, not a catch.
    return code == 1, seconds, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the test output")
    args = parser.parse_args(argv)
    by_name = {m.name: m for m in MUTANTS}
    if args.list:
        for mutant in MUTANTS:
            print(f"{mutant.name}: {mutant.bug}\n    guarded by {', '.join(mutant.tests)}")
        return 0
    unknown = [name for name in args.names if name not in by_name]
    if unknown:
        parser.error(f"unknown mutants: {', '.join(unknown)} (see --list)")
    chosen = [by_name[name] for name in args.names] if args.names else list(MUTANTS)
    passed, seconds, tail = run_baseline(chosen, args.verbose)
    verdict = "passed" if passed else "FAILED"
    print(f"{verdict:8} baseline ({seconds:.0f}s): the guarding tests, unmutated", flush=True)
    if not passed:
        print(f"         {tail}")
        return 1
    survivors = []
    for mutant in chosen:
        caught, seconds, tail = run_mutant(mutant, args.verbose)
        verdict = "caught" if caught else "SURVIVED"
        print(f"{verdict:8} {mutant.name} ({seconds:.0f}s): {mutant.bug}", flush=True)
        if not caught:
            survivors.append(mutant.name)
            print(f"         {tail}")
    if survivors:
        print(f"{len(survivors)} mutant(s) survived: {', '.join(survivors)}")
        return 1
    print(f"all {len(chosen)} mutants caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
