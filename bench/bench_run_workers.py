"""``agenther run --rule-based`` on a file, in one process and with ``--workers``.

Wall-clock time of the whole command (start-up included) on the same generated file, each
setting run in turn for ``--rounds`` rounds so that the machine's slow phases hit them alike;
the best round of each is kept, and the outputs are checked to be the same files.

    python -m bench.bench_run_workers -n 9000 --rounds 2
"""

from __future__ import annotations

import argparse
import filecmp
import json
import subprocess
import time

from bench._common import OUT, PYTHON, ROOT, write_result
from bench.generate import generate


def _run(source: str, workers: int) -> float:
    out = OUT / f"run_workers_{workers}.jsonl"
    start = time.perf_counter()
    command = [PYTHON, "-m", "agenther", "run", source, "--rule-based", "-o", str(out)]
    subprocess.run(
        [*command, "--workers", str(workers)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=9000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"run_workers_input_{args.n}.jsonl"
    source.write_text("".join(json.dumps(run) + "\n" for run in generate(args.n, args.seed)))
    best: dict[int, float] = {}
    for _ in range(args.rounds):
        for workers in args.workers:
            seconds = _run(str(source), workers)
            best[workers] = min(best.get(workers, seconds), seconds)
    base = args.workers[0]
    same = all(
        filecmp.cmp(OUT / f"run_workers_{base}{suffix}", OUT / f"run_workers_{w}{suffix}", False)
        for w in args.workers[1:]
        for suffix in (".jsonl", ".rejects.jsonl")
    )
    write_result(
        "run_workers",
        {
            "n": args.n,
            "seed": args.seed,
            "rounds": args.rounds,
            "same_files": same,
            "runs": [
                {
                    "workers": w,
                    "wall_s": round(s, 2),
                    "runs_per_s": round(args.n / s),
                    "speedup": round(best[base] / s, 2),
                }
                for w, s in best.items()
            ],
        },
    )


if __name__ == "__main__":
    main()
