"""Rule mode's outputs are frozen: a change meant only to make it faster leaves them byte-identical.

Every result of the rule pipeline (success, stage, error text, Stage 1-3 outputs, the sample
with its trainer record) on a seeded generated set and on every labelled set in ``bench/``, in
all four output formats, hashed per set and format. If a change of output is intended, refreeze
with ``python -m bench.freeze_rule_outputs --write`` and say so in the commit.
"""

from __future__ import annotations

import json

from agenther.models import OutputFormat
from bench.eval_quality import (
    BLIND_SET,
    FIFTH_BLIND_SET,
    FOURTH_BLIND_SET,
    THIRD_BLIND_SET,
    TUNING_SETS,
)
from bench.freeze_rule_outputs import FROZEN, digests


def test_rule_outputs_are_byte_identical_to_the_frozen_ones() -> None:
    frozen = json.loads(FROZEN.read_text(encoding="utf-8"))
    # Every labelled set and every format is covered, so a set cannot drop out unnoticed.
    names = {key.split("/")[0] for key in frozen}
    assert {
        path.stem
        for path in [*TUNING_SETS, BLIND_SET, THIRD_BLIND_SET, FOURTH_BLIND_SET, FIFTH_BLIND_SET]
    } < names
    assert {key.split("/")[1] for key in frozen} == {f.value for f in OutputFormat}

    now = digests()
    differ = sorted(key for key in frozen.keys() | now.keys() if frozen.get(key) != now.get(key))
    assert not differ, (
        f"rule outputs changed for {differ}; "
        "if intended: python -m bench.freeze_rule_outputs --write"
    )
