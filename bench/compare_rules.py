"""Rule-mode speed of two versions of the library, as a ratio measured in one run.

On a shared machine one timing moves by ±10 % from run to run, more than most single changes
gain, and timing the old and the new code one after the other mixes the change with the
machine's mood. Here two worker processes, one on the library at ``--base`` (extracted with
``git archive``) and one on the working tree, take turns on the same chunks of generated runs
(the order flips every chunk), and each times only its own CPU time: a slow phase of the
machine falls on both, and the ratio of the sums is what the change did.

    python -m bench.compare_rules --base HEAD~1
    python -m bench.compare_rules --base ce87eb7 -n 3000 --rounds 3

The same commit against itself gave 0.975 and 1.038 here: differences under ~5 % are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import IO

if __package__ in (None, ""):
    sys.path.append(str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_RUNS = 300


def _worker(runs_file: str) -> None:
    """Relabel the chunks the parent names on stdin; answer each with its CPU seconds. The
    library is whichever ``agenther`` PYTHONPATH finds first."""
    import contextlib
    import logging

    from agenther import AgentHERPipeline, FailedTrajectory, PipelineConfig
    from agenther.errors import StageError

    logging.disable(logging.WARNING)
    if hasattr(os, "sched_setaffinity"):
        # Both workers on one core: two vCPUs of a shared machine can differ by 10 %.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with open(runs_file, encoding="utf-8") as f:
        runs = [FailedTrajectory.model_validate_json(line) for line in f]
    warm_up, timed = runs[:WARM_UP_RUNS], runs[WARM_UP_RUNS:]
    pipeline = AgentHERPipeline(PipelineConfig(rule_based=True))
    pipeline.warm_up()
    for t in warm_up:
        with contextlib.suppress(StageError):
            pipeline.relabel_rule_based(t)
    print("ready", flush=True)
    for line in sys.stdin:
        start, end = map(int, line.split())
        began = time.process_time()
        for t in timed[start:end]:
            with contextlib.suppress(StageError):
                pipeline.relabel_rule_based(t)
        print(time.process_time() - began, flush=True)


def _extract(ref: str, into: Path) -> Path:
    """The ``agenther`` package as committed at ``ref``, under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "agenther"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


class _Worker:
    def __init__(self, library_root: Path, runs_file: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(runs_file)],
            # The same hash seed for both: set order must not differ between them.
            env={"PYTHONPATH": str(library_root), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.seconds = 0.0
        if self._read() != "ready":
            raise RuntimeError(f"the worker on {library_root} did not start")

    def _read(self) -> str:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        return stdout.readline().strip()

    def run(self, start: int, end: int) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(f"{start} {end}\n")
        stdin.flush()
        self.seconds += float(self._read())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="git commit (or ref) to compare with (required)")
    parser.add_argument("-n", type=int, default=2000, help="generated runs per round")
    parser.add_argument("--rounds", type=int, default=4, help="fresh worker pairs")
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", metavar="RUNS_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker)
        return 0
    if not args.base:
        parser.error("--base is required")

    from bench._common import write_result
    from bench.generate import generate

    with tempfile.TemporaryDirectory(prefix="compare-rules-") as tmp:
        runs_file = Path(tmp) / "runs.jsonl"
        runs = [*generate(WARM_UP_RUNS, args.seed + 1), *generate(args.n, args.seed)]
        runs_file.write_text("".join(json.dumps(r) + "\n" for r in runs), encoding="utf-8")
        base_root = _extract(args.base, Path(tmp) / "base")
        base_seconds = head_seconds = 0.0
        turn = 0
        for _ in range(args.rounds):
            # Fresh processes every round: one process's memory layout alone can make it a
            # few per cent faster or slower, and that averages out over rounds.
            base, head = _Worker(base_root, runs_file), _Worker(ROOT, runs_file)
            try:
                for start in range(0, args.n, args.chunk):
                    pair = (base, head) if turn % 2 == 0 else (head, base)
                    for worker in pair:
                        worker.run(start, start + args.chunk)
                    turn += 1
            finally:
                base.close()
                head.close()
            base_seconds += base.seconds
            head_seconds += head.seconds

    timed = args.n * args.rounds
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    write_result(
        "compare_rules",
        {
            "base": commit,
            "head": "working tree",
            "n": args.n,
            "rounds": args.rounds,
            "base_runs_per_cpu_s": round(timed / base_seconds, 1),
            "head_runs_per_cpu_s": round(timed / head_seconds, 1),
            "speedup": round(base_seconds / head_seconds, 3),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
