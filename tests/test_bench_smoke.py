"""The benchmark inputs load and are well-formed (the benchmarks themselves do not run in CI)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agenther.models import AgentStep, FailedTrajectory, FailureType
from bench.eval_quality import (
    BLIND_SET,
    FIFTH_BLIND_SET,
    FOURTH_BLIND_SET,
    THIRD_BLIND_SET,
    TUNING_SETS,
    load_eval_set,
    split,
)
from bench.generate import FAILURE_TYPES, generate
from bench.rubric import grounding_problems, phrase_in, rubric_problems


def test_generator_is_seeded_varied_and_valid() -> None:
    runs = generate(120, seed=3)
    assert runs == generate(120, seed=3)
    assert generate(30, seed=3) == runs[:30]
    assert generate(30, seed=4) != runs[:30]
    assert {r["metadata"]["generated_type"] for r in runs} == set(FAILURE_TYPES)
    assert set(FAILURE_TYPES) == {t.value for t in FailureType}
    assert len({r["metadata"]["domain"] for r in runs}) >= 8
    assert len({r["original_prompt"] for r in runs}) > 100
    for raw in runs:
        run = FailedTrajectory.model_validate(raw)
        assert 1 <= len(run.steps) <= 12
    sizes = [len(s["observation"]) for r in runs for s in r["steps"]]
    assert max(sizes) > 1000 and min(sizes) < 100


BLIND_LABELS = {
    "type",
    "recoverable",
    "should_accept",
    "accept_if_answer_rewritten",
    "acceptable_prompts",
    "forbidden_phrases",
    "topics",
    "notes",
}


@pytest.mark.parametrize(
    "path",
    [BLIND_SET, THIRD_BLIND_SET, FOURTH_BLIND_SET, FIFTH_BLIND_SET, *TUNING_SETS],
    ids=lambda p: p.name,
)
def test_labelled_sets_are_well_formed(path: Path) -> None:
    records = load_eval_set(path)
    assert len({r["trajectory_id"] for r in records}) == len(records)
    labels = [split(r)[1] for r in records]
    assert {lab["type"] for lab in labels} == set(FAILURE_TYPES)
    for lab in labels:
        assert isinstance(lab["recoverable"], bool) and isinstance(lab["should_accept"], bool)
        assert not lab["should_accept"] or lab["recoverable"]
        assert all(isinstance(p, str) and p for p in lab["forbidden_phrases"])
        assert all(isinstance(t, str) and t for t in lab["topics"])
        if path.name.startswith(("blind", "tuning")):
            assert set(lab) == BLIND_LABELS
            assert not lab["should_accept"] or lab["acceptable_prompts"]


def test_the_blind_set_is_the_frozen_yardstick() -> None:
    """The second blind set, frozen on commit before any run of the rules on it (the first,
    read during tuning, is ``tuning_blind_3.jsonl`` now): any edit shows here."""
    digest = hashlib.sha256(BLIND_SET.read_bytes()).hexdigest()
    assert digest == "903efe2e98080c550cc777c295ebcfc1b012f7294e1773f9cae3344aa7b85c9d"
    records = load_eval_set(BLIND_SET)
    assert len(records) >= 120
    assert len({r["metadata"]["domain"] for r in records}) >= 15


def test_the_third_blind_set_is_frozen_too() -> None:
    """Committed (fadd91b) before any run of the rules on it."""
    digest = hashlib.sha256(THIRD_BLIND_SET.read_bytes()).hexdigest()
    assert digest == "80539b0a25daeca1b90a04ac0d4685c548c318eb931d359af45549fb7f69c965"
    assert len(load_eval_set(THIRD_BLIND_SET)) == 48


@pytest.mark.parametrize(
    ("path", "digest"),
    [
        # Committed in c68fef6 and bcc2603, each before any run of the rules on it.
        (FOURTH_BLIND_SET, "2689b86cae87ae8157021bf2c8c9349ce76e270918641c07fe5641cbaf221c90"),
        (FIFTH_BLIND_SET, "db8e283d91c48d060481bb744387ebf7a076cd3621710560ac3f9e4a2a600e85"),
    ],
    ids=lambda p: getattr(p, "name", "digest"),
)
def test_the_later_blind_sets_are_frozen_too(path: Path, digest: str) -> None:
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    records = load_eval_set(path)
    assert len(records) == 96
    assert len({r["metadata"]["domain"] for r in records}) >= 15


RUN = FailedTrajectory(
    original_prompt="Find direct flights from Boston to Lisbon on 12 May under $400.",
    steps=[
        AgentStep(
            action_name="search_flights",
            action_input={"from": "BOS", "to": "LIS", "date": "2025-05-12", "direct": True},
            observation="TAP TP218 BOS 21:35 -> LIS 09:10, $512; Azores SATA S4 224 $489",
        ),
        AgentStep(action_name="click", action_input={"el": 12}, observation="Page loaded."),
    ],
    final_answer="Two direct flights on 12 May: TAP TP218 at $512 and SATA S4 224 at $489.",
    failure_reason="No direct flight under $400.",
)
LABELS = {
    "type": "constraint_violation",
    "recoverable": True,
    "should_accept": True,
    "accept_if_answer_rewritten": True,
    "acceptable_prompts": ["Find direct flights from Boston to Lisbon on 12 May."],
    "forbidden_phrases": ["under $400", "$400"],
    "topics": ["Lisbon", "Boston"],
}


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("Click, then get the type for Lisbon, and report what you find.", "narrates UI"),
        ("Get the search_flights about Lisbon.", "names the tool"),
        ("Find direct flights from Boston to Lisbon under $400.", "forbidden phrase"),
        ("Find direct flights from Boston to Lisbon under .", "space before punctuation"),
        ("Find direct flights from Boston to Lisbon under", "comparator without its value"),
        ("Find direct flights from Boston to Lisbon on 14 May.", "number 14 not in"),
        ("Search for direct flights and list the results.", "mentions none"),
        (RUN.original_prompt, "restates the failed request"),
    ],
)
def test_rubric_checks_flag_what_a_person_would_reject(prompt: str, reason: str) -> None:
    problems = rubric_problems(prompt, RUN, LABELS)
    assert any(reason in p for p in problems), problems


def test_rubric_checks_pass_a_good_example_and_read_the_answer() -> None:
    good = "Find direct flights from Boston to Lisbon on 12 May."
    assert rubric_problems(good, RUN, LABELS) == []
    failed = RUN.model_copy(update={"final_answer": "Sorry, I couldn't find anything under $400."})
    assert any("admits a failure" in p for p in rubric_problems(good, failed, LABELS))
    nothing = {**LABELS, "should_accept": False}
    assert rubric_problems(good, RUN, nothing) == [
        "the labels say no example should come from this run"
    ]
    assert phrase_in("flight", "Find flights to Oslo") and not phrase_in("PO", "a post")


def test_the_rubric_reads_a_port_off_an_address() -> None:
    run = RUN.model_copy(
        update={
            "steps": [
                AgentStep(
                    action_name="run_command",
                    action_input={"command": "ss -tlnp"},
                    observation="LISTEN 0 511 0.0.0.0:443 0.0.0.0:*",
                )
            ]
        }
    )
    assert grounding_problems("Is nginx listening on 443?", run, {}) == []
    assert grounding_problems("Is nginx listening on 8443?", run, {}) == [
        "number 8443 not in observations"
    ]


def test_the_rubric_never_fails_a_number_the_labels_accept() -> None:
    # "at least 4 stars" for a 4.6-star lamp: a limit the run met, kept by the labels' prompt.
    run = RUN.model_copy(
        update={
            "steps": [
                AgentStep(action_name="search", action_input={}, observation="Lumo Flex ★ 4,6")
            ]
        }
    )
    prompt = "Find a LED desk lamp with at least 4 stars."
    assert grounding_problems(prompt, run, {}) == ["number 4 not in observations"]
    assert grounding_problems(prompt, run, {"acceptable_prompts": ["A lamp with 4 stars."]}) == []


def test_the_rubric_never_fails_the_labels_own_wording_or_the_users_spacing() -> None:
    # A topic written differently in the labels ("US 10,987,645") than in their own acceptable
    # prompt, and French spacing before "?" that the user's request has too.
    labels = {**LABELS, "topics": ["US 10,987,645"]}
    labels["acceptable_prompts"] = ["When does US patent 10,987,645 expire?"]
    assert "mentions none" not in " ".join(
        grounding_problems("When does US patent 10,987,645 expire?", RUN, labels)
    )
    french = RUN.model_copy(update={"original_prompt": "Combien reste-t-il à Claire Martin ?"})
    spaced = rubric_problems("Combien reste-t-il à Claire Marin ?", french, LABELS)
    assert not any("space before" in p for p in spaced), spaced
    english = rubric_problems("How many are left for Claire Marin ?", RUN, LABELS)
    assert any("space before" in p for p in english), english


def test_the_rubric_asks_a_prompt_to_be_as_specific_as_the_labels_own() -> None:
    # Topics may name what only the answer says ("4 egels", "Zeist"): a prompt that names
    # none passes when one of the labels' own acceptable prompts names none either.
    labels = {**LABELS, "topics": ["4 egels", "Zeist"]}
    labels["acceptable_prompts"] = ["Welke egels zijn deze week binnengebracht?"]
    prompt = "Zoek alle egels die deze week zijn binnengebracht."
    assert "mentions none" not in " ".join(grounding_problems(prompt, RUN, labels))
    labels["acceptable_prompts"].append("Welke 4 egels zijn er in Zeist?")
    assert "mentions none" not in " ".join(grounding_problems(prompt, RUN, labels))
    labels["acceptable_prompts"] = ["Welke egels zijn er in Zeist binnengebracht?"]
    assert "mentions none" in " ".join(grounding_problems(prompt, RUN, labels))
    # A topic is found however it is spaced ("US 104" in "reperti_US104.csv").
    labels = {**LABELS, "topics": ["US 104"], "acceptable_prompts": ["Conta l'US 104."]}
    assert "mentions none" not in " ".join(
        grounding_problems("Dal file reperti_US104.csv conta i frammenti.", RUN, labels)
    )


def test_the_rubric_fails_a_lone_condition_and_a_comma_before_a_dash() -> None:
    lone = rubric_problems("Find flights from Boston to Lisbon. If it's direct.", RUN, LABELS)
    assert lone == ["a condition without its main clause"]
    dash = rubric_problems("Find flights from Boston to Lisbon, — direct.", RUN, LABELS)
    assert dash == ["punctuation left by a removed clause"]
    assert rubric_problems("If it's direct, find flights from Boston to Lisbon.", RUN, LABELS) == []


def test_the_rubric_fails_english_added_to_another_language_and_a_bare_bound_verb() -> None:
    norwegian = RUN.model_copy(
        update={"original_prompt": "Finn direktefly fra Boston til Lisboa 12. mai under 400 $."}
    )
    added = rubric_problems(
        "Finn direktefly fra Boston til Lisboa. List the 12 til.", norwegian, LABELS
    )
    assert "English words added to a request in another language" in added
    # An English request with few function words is still English: listing what its limit
    # was about adds no language.
    recipes = RUN.model_copy(
        update={
            "original_prompt": "Give me three vegetarian dinner recipes that take under 30 minutes."
        }
    )
    listed = "Give me three vegetarian dinner recipes and list how long they take."
    assert "English words added to a request in another language" not in rubric_problems(
        listed, recipes, LABELS
    )
    bare = rubric_problems(
        "Find direct flights from Boston to Lisbon on 12 May — keep it.", RUN, LABELS
    )
    assert "a bound's verb without its bound" in bare
