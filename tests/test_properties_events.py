"""Properties of the input parser (``streams.events``): what it accepts, the library accepts;
what it refuses, it refuses with a short, stable reason that never quotes the payload."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streams.events import (
    MAX_JSON_DEPTH,
    AgentRunEvent,
    EventCodec,
    EventDecodeError,
    event_to_trajectory,
)
from tests.support.trajectories import trajectories

MARKER = "PAYLOAD-MARKER-7f3a"
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# JSON that the parser must keep intact: no NUL, integers within Avro's long, finite floats.
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=40,
)
safe_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | safe_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(safe_text, children, max_size=4)
    ),
    max_leaves=15,
)
nonblank = safe_text.filter(lambda s: bool(s))


@st.composite
def wire_events(draw: Any) -> dict[str, Any]:
    steps = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "thought": safe_text,
                    "action_name": nonblank,
                    "action_input": st.dictionaries(safe_text, safe_json, max_size=3),
                    "observation": safe_text,
                }
            ),
            min_size=1,
            max_size=5,
        )
    )
    return {
        "run_id": draw(nonblank.filter(lambda s: len(s) <= 256)),
        "source": draw(safe_text),
        "status": draw(st.sampled_from(["failure", "success", "unknown"])),
        "original_prompt": draw(nonblank),
        "steps": steps,
        "final_answer": draw(safe_text),
        "failure_reason": draw(safe_text),
        "metadata": draw(st.dictionaries(safe_text, safe_json, max_size=3)),
    }


async def decode(payload: bytes) -> AgentRunEvent | EventDecodeError:
    try:
        return await EventCodec().decode_run_event(payload)
    except EventDecodeError as exc:
        return exc


@SETTINGS
@given(event=wire_events())
async def test_valid_events_decode_and_reach_the_library_unchanged(event: dict[str, Any]) -> None:
    decoded = await decode(json.dumps(event).encode())
    assert isinstance(decoded, AgentRunEvent), decoded
    assert decoded.run_id == event["run_id"]
    assert [s.model_dump() for s in decoded.steps] == event["steps"]
    assert decoded.metadata == event["metadata"]
    trajectory = event_to_trajectory(decoded)
    assert trajectory.trajectory_id == event["run_id"]
    assert [s.observation for s in trajectory.steps] == [s["observation"] for s in event["steps"]]


@SETTINGS
@given(event=wire_events())
async def test_encoding_then_decoding_is_the_identity(event: dict[str, Any]) -> None:
    codec = EventCodec()
    first = await codec.decode_run_event(json.dumps(event).encode())
    again = await codec.decode_run_event(await codec.encode_run_event(first))
    assert again == first


@SETTINGS
@given(run=trajectories())
async def test_anything_accepted_is_a_valid_trajectory_else_a_decode_error(run: Any) -> None:
    # The shared strategy holds NUL characters, 2**63, NaN and 100k-char observations.
    payload = run.model_dump_json().encode()
    decoded = await decode(payload)
    if isinstance(decoded, EventDecodeError):
        assert any(word in decoded.reason for word in ("NUL", "64-bit", "max_event_bytes"))
        return
    assert decoded.status == "failure"
    # Accepted by the parser ⇒ accepted by the library: the pipeline never sees bad input.
    assert event_to_trajectory(decoded).trajectory_id == run.trajectory_id


@SETTINGS
@given(
    event=wire_events(),
    cut=st.integers(min_value=0, max_value=10_000),
    flips=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), max_size=4
    ),
)
async def test_mangled_bytes_are_an_event_or_a_short_reason_without_the_payload(
    event: dict[str, Any], cut: int, flips: list[tuple[int, int]]
) -> None:
    event = {**event, "original_prompt": MARKER, "final_answer": MARKER}
    data = bytearray(json.dumps(event).encode())
    for position, byte in flips:
        data[position % len(data)] = byte
    payload = bytes(data[: max(1, len(data) - cut % len(data))])
    first, second = await decode(payload), await decode(payload)
    if isinstance(first, EventDecodeError):
        assert isinstance(second, EventDecodeError)
        assert first.reason == second.reason  # stable: redrive filters match on it
        assert 0 < len(first.reason) <= 200
        assert MARKER not in first.reason
    else:
        assert isinstance(second, AgentRunEvent)
        event_to_trajectory(first)


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(min_value=1, max_value=3 * MAX_JSON_DEPTH), use_objects=st.booleans())
async def test_nesting_is_accepted_exactly_up_to_the_limit(depth: int, use_objects: bool) -> None:
    value: Any = []
    for _ in range(depth - 1):
        value = {"k": value} if use_objects else [value]
    event = {
        "run_id": "r",
        "original_prompt": "p",
        "steps": [{"action_name": "a", "observation": "o"}],
        "metadata": {"deep": value},
    }
    decoded = await decode(json.dumps(event).encode())
    # The event object is level 1 and metadata level 2, so ``value`` starts at level 3.
    if depth + 2 <= MAX_JSON_DEPTH:
        assert isinstance(decoded, AgentRunEvent)
    else:
        assert isinstance(decoded, EventDecodeError)
        assert "nested deeper" in decoded.reason


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=-(2**80), max_value=2**80) | st.integers())
async def test_integers_outside_the_64_bit_range_are_refused_and_inside_kept(n: int) -> None:
    event = {
        "run_id": "r",
        "original_prompt": "p",
        "steps": [{"action_name": "a", "observation": "o"}],
        "metadata": {"n": n},
    }
    decoded = await decode(json.dumps(event).encode())
    if -(2**63) <= n < 2**63:
        assert isinstance(decoded, AgentRunEvent)
        assert decoded.metadata["n"] == n
    else:
        assert isinstance(decoded, EventDecodeError)
        assert "64-bit" in decoded.reason


@settings(max_examples=100, deadline=None)
@given(
    event=wire_events(),
    where=st.sampled_from(["original_prompt", "final_answer", "key"]),
    at=st.integers(min_value=0, max_value=40),
)
async def test_a_nul_character_anywhere_is_refused(
    event: dict[str, Any], where: str, at: int
) -> None:
    if where == "key":
        event["metadata"] = {**event["metadata"], "a\x00b": 1}
    else:
        text = event[where]
        event[where] = text[: at % (len(text) + 1)] + "\x00" + text[at % (len(text) + 1) :]
    decoded = await decode(json.dumps(event).encode())
    assert isinstance(decoded, EventDecodeError)
    assert "NUL" in decoded.reason


# Literals where JSON parsers disagree: integers either side of Avro's long and of 64 bits,
# overflowing and underflowing floats, long mantissas, JavaScript constants, lone surrogates,
# NUL, and plain values between them.
_EDGE_LITERALS = [
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "999999999999999999",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1e400",
    "-1e400",
    "1e-400",
    "-0.0",
    "0.1000000000000000000001",
    "1.7976931348623157e308",
    "NaN",
    "Infinity",
    "-Infinity",
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\u0000"',
    '"tab\tinside"',
    '"ok \\u00e9"',
    '"12345678901234567890"',
    "true",
    "null",
    "01",
    "42",
]
_edge_json = st.recursive(
    st.sampled_from(_EDGE_LITERALS),
    lambda children: (
        st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(
            st.tuples(st.sampled_from(['"a"', '"b"', '"\\u0000"']), children), max_size=3
        ).map(lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}")
    ),
    max_leaves=6,
)


@SETTINGS
@given(
    text=_edge_json,
    before=st.sampled_from([b"", b" ", b"\xef\xbb\xbf", b"\xff"]),
    after=st.sampled_from([b"", b"\n", b" x", b"\x80"]),
)
# orjson reads these integers as floats or wider ints: always tried, whatever is drawn.
@example(text="[18446744073709551616]", before=b"", after=b"")
@example(text='{"a":-9223372036854775809}', before=b"", after=b"")
@example(text="9223372036854775808", before=b"", after=b"")
def test_fast_json_path_answers_exactly_as_the_strict_parser(
    text: str, before: bytes, after: bytes
) -> None:
    """The orjson path is a speed-up only: same value, or the same refusal and reason."""
    from streams.events import _loads, _strict_loads

    raw = before + text.encode("utf-8") + after

    def parse(loads: Any) -> str:
        try:
            return "value " + repr(loads(raw, what="message"))
        except EventDecodeError as exc:
            return "refused " + exc.reason

    assert parse(_loads) == parse(_strict_loads)
