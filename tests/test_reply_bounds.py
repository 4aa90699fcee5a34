"""Reply fields say their size in the schema (for grammar-enforcing servers) and are cut to it
when read, never refused for length."""

from __future__ import annotations

from agenther.joint_analysis import JointAnalysisReply
from agenther.llm_client import strict_json_schema

LONG_REPLY = {
    "actual_achievements": [f"fact number {n} " + "word " * 60 for n in range(20)],
    "key_observations": ["obs"] * 9,
    "limitations": "limit " * 100,
    "entities": ["Acme"] * 30,
    "numbers": ["42"] * 30,
    "failure_type": "incomplete",
    "severity": 0.3,
    "weight": 0.7,
    "recoverable": True,
    "explanation": "because " * 80,
}


def test_the_schema_bounds_every_list_and_text_of_the_joint_reply() -> None:
    properties = JointAnalysisReply.model_json_schema()["properties"]
    for name in ("actual_achievements", "key_observations", "entities", "numbers"):
        assert properties[name]["maxItems"] > 0 and properties[name]["items"]["maxLength"] > 0
    for name in ("limitations", "explanation"):
        assert properties[name]["maxLength"] > 0


def test_a_long_reply_is_cut_to_size_on_words_not_refused() -> None:
    reply = JointAnalysisReply.model_validate(LONG_REPLY)
    assert len(reply.actual_achievements) == 6
    assert all(len(a) <= 160 and not a.endswith(" ") for a in reply.actual_achievements)
    assert reply.actual_achievements[0].startswith("fact number 0 word")
    assert len(reply.entities) == 10 and len(reply.explanation) <= 240
    assert reply.limitations.endswith("limit")  # cut between words


def test_strict_mode_gets_the_schema_without_the_bounds() -> None:
    strict, ok = strict_json_schema(JointAnalysisReply.model_json_schema())
    assert ok
    assert "maxItems" not in str(strict) and "maxLength" not in str(strict)
