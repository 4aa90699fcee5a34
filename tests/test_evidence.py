import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agenther import evidence as ev
from agenther import quantities
from agenther.evidence import collect_evidence, extract_entities
from agenther.models import AgentStep, FailedTrajectory
from agenther.quantities import extract_numbers, extract_quantities, normalize_number
from agenther.rules.observations import ObservationKind, observation_kind

REFERENCE = Path(__file__).parent.parent / "data" / "reference_example_trajectories.json"


def _reference() -> dict[str, FailedTrajectory]:
    runs = [FailedTrajectory(**d) for d in json.loads(REFERENCE.read_text())]
    return {t.trajectory_id: t for t in runs}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("costs $5.30 per kg", ["5.3"]),
        ("priced at 4.90.", ["4.9"]),
        ("Filtered 42 rows.", ["42"]),
        ("MOQ 500kg, 30% off", ["500", "30"]),
        ("published in 2024, about 1,000 copies", ["2024", "1000"]),
        ("a 3.5e6 cell count", ["3500000"]),
        ("raised 2.5 million, then 5k more", ["2500000", "5000"]),
        ("between 5-10 kg at -3 C", ["5", "10", "-3"]),
        ("due 2024-03-01", ["2024-03-01"]),
        ("1, 2, 3.", ["1", "2", "3"]),
        # JSON groups no thousands: an array's numbers are each their own.
        ('{"flow_l_per_cycle":[412,409,415]}', ["412", "409", "415"]),
        ('{"monthly":[532,580],"total":"1,112 kWh"}', ["532", "580", "1112"]),
    ],
)
def test_numbers_that_matter_are_found_and_normalised(text: str, expected: list[str]) -> None:
    assert extract_numbers(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1) MetalWorks 2) WireWorld 3) CopperDirect",
        "Steps:\n1. Open the file\n2. Save it",
        "Results: (1) first (2) second",
        "see issue #4 and #12",
        "AlphaFold3 beat gpt-4o and Qwen2.5-72B",
        "commit 3f2a9c1e and v1.2.3",
        "docs at https://example.com/page/2024/42?id=7",
        "Done. , . ,",
    ],
)
def test_list_numbering_identifiers_and_urls_are_not_quantities(text: str) -> None:
    assert extract_numbers(text) == []


def test_an_arrays_figures_are_each_their_own() -> None:
    assert quantities.figures('{"flow":[412,409,415],"rows":"1,250 rows"}') == {
        "412", "409", "415", "1250",
    }  # fmt: skip


def test_list_items_keep_their_own_quantities() -> None:
    text = "Found 5 results: 1) MetalWorks Inc - $6.20/kg, MOQ 50kg. 2) WireWorld - $5.80/kg."
    assert extract_numbers(text) == ["5", "6.2", "50", "5.8"]


def test_quantity_keeps_currency_and_unit_apart_from_the_value() -> None:
    [price, weight] = extract_quantities("$4.90/kg, MOQ 500kg")
    assert (price.raw, price.value, price.currency) == ("$4.90", "4.9", "$")
    assert (weight.value, weight.unit) == ("500", "kg")


@pytest.mark.parametrize("written", ["1,000", "1000", "1000.0", "$1,000.00", "1e3", "1k"])
def test_normalize_number_makes_spellings_of_one_value_equal(written: str) -> None:
    assert normalize_number(written) == "1000"


def test_normalize_number_of_text_without_a_quantity_is_lowered() -> None:
    assert normalize_number(" Many ") == "many"


@given(st.integers(min_value=0, max_value=10**12))
def test_thousands_separators_never_change_the_value(n: int) -> None:
    assert normalize_number(f"{n:,}") == normalize_number(str(n)) == str(n)


@given(st.lists(st.sampled_from(["apples", "pears", "plums"]), min_size=1, max_size=9))
def test_numbered_lists_yield_no_numbers(items: list[str]) -> None:
    for style in ("{i}) {item}", "{i}. {item}", "({i}) {item}"):
        inline = "Found: " + " ".join(style.format(i=i, item=x) for i, x in enumerate(items, 1))
        lines = "\n".join(style.format(i=i, item=x) for i, x in enumerate(items, 1))
        assert extract_numbers(inline) == []
        assert extract_numbers(lines) == []


def test_a_requests_verb_is_no_part_of_the_name_after_it() -> None:
    # "Compare Jalen Brunson" was a name the observations never had: the request was refused.
    assert extract_entities("Compare Jalen Brunson and Tyrese Haliburton this season.") == [
        "Jalen Brunson",
        "Tyrese Haliburton",
    ]
    assert extract_entities("Acme Widgets ships today.") == ["Acme Widgets"]
    # eighteenth-15: so is a request's verb in the user's language.
    assert extract_entities("Schrijf Bo in voor de wedstrijd in Ede.") == ["Bo", "Ede"]
    assert extract_entities("Boka Grand Hotel för två nätter.") == ["Grand Hotel"]


def test_a_title_before_a_name_is_no_part_of_it() -> None:
    # "'Mme' does not occur in the observations" refused "inscris Mme Léa Fournier".
    assert extract_entities("Book Mr. John Smith and Mrs Jane Doe with Dr Osei.") == [
        "John Smith",
        "Jane Doe",
        "Osei",
    ]
    # After a name the same letters may be a street.
    assert extract_entities("Deliver it to 12 Cedar Hollow Dr today.") == ["Cedar Hollow Dr"]


def test_entities_are_names_not_sentence_openers_or_stop_words() -> None:
    text = (
        "Found 5 results: 1) MetalWorks Inc - copper wire. The Guardian reported it. "
        "Search API is down. I saved 'filtered_output.xlsx' and report.csv with AlphaFold3 "
        "and gpt-4o in New York. CopperDirect's site is slow."
    )
    entities = extract_entities(text)
    assert entities == [
        "MetalWorks Inc",
        "Guardian",
        "API",
        "filtered_output.xlsx",
        "report.csv",
        "AlphaFold3",
        "gpt-4o",
        "New York",
        "CopperDirect",
    ]
    lowered = {e.lower() for e in entities}
    assert not lowered & {"found", "the", "search", "i", "copper"}


def test_entities_skip_apostrophes_and_long_quotes() -> None:
    text = "It doesn't matter what 'this is a long quoted sentence here ok' says, it's fine."
    assert extract_entities(text) == []


def test_an_apostrophe_inside_a_name_keeps_it_whole() -> None:
    text = "Flights from Chicago O'Hare to Denver; lunch in Sant'Angelo."
    assert extract_entities(text) == ["Chicago O'Hare", "Denver", "Sant'Angelo"]


def test_evidence_uses_observations_and_final_answer_not_prompt_or_thoughts() -> None:
    t = FailedTrajectory(
        original_prompt="Ask Zeta Corp about the 777 order",
        steps=[
            AgentStep(
                thought="Maybe Omega Ltd has 888 units",
                action_name="lookup",
                action_input={"q": "Zeta Corp 777"},
                observation="Acme Widgets has 120 units at $3.50 each.",
            )
        ],
        final_answer="Acme Widgets stocks 120 units; BetaSoft confirmed.",
    )
    ev = collect_evidence(t)
    assert {"120", "3.5"} <= ev.numbers
    assert not {"777", "888"} & ev.numbers
    assert {"acme widgets", "betasoft"} <= ev.entities
    assert not {"zeta corp", "omega ltd"} & ev.entities
    assert ev.has_number("$3.50") and ev.has_number("120")
    assert not ev.has_number("$120"), "a price must be backed by a price"
    assert ev.has_entity("ACME widgets") and not ev.has_entity("Zeta Corp")


def test_reference_evidence() -> None:
    runs = _reference()
    ev1 = collect_evidence(runs["traj_001"])
    assert {"5.3", "10", "4.9", "500", "1000"} <= ev1.numbers
    assert {"metalworks inc", "micrometals", "copperdirect", "localwire co"} <= ev1.entities
    ev2 = collect_evidence(runs["traj_002"])
    assert ev2.numbers == {"42", "30"}
    assert "filtered_output.xlsx" in ev2.entities
    assert "filtered_output.csv" not in ev2.entities
    ev3 = collect_evidence(runs["traj_003"])
    assert "alphafold3" in ev3.entities  # claimed by the final answer


@pytest.mark.parametrize(
    ("observation", "kind"),
    [
        ("Error: Connection timeout after 30 seconds.", ObservationKind.ERROR),
        ("Error: 503 Service Unavailable", ObservationKind.ERROR),
        ("HTTP 404 Not Found", ObservationKind.ERROR),
        ("Traceback (most recent call last):\n  File 'x.py'", ObservationKind.ERROR),
        ("KeyError: 'age'", ObservationKind.ERROR),
        ("", ObservationKind.EMPTY),
        ("No results found.", ObservationKind.EMPTY),
        ("Summary generated.", ObservationKind.TRIVIAL),
        ("Code written successfully.", ObservationKind.TRIVIAL),
        ("Generated response based on training data.", ObservationKind.GENERATED),
        ("Filtered 42 rows. Output saved to filtered_output.xlsx", ObservationKind.CONTENT),
        ("Report: the error rate fell to 2%.", ObservationKind.CONTENT),
    ],
)
def test_observation_kind(observation: str, kind: ObservationKind) -> None:
    assert observation_kind(observation) is kind


def test_long_texts_are_scanned_like_short_ones() -> None:
    # Texts over the cache's size limit take the uncached path; results must not differ.
    filler = "lorem ipsum " * 1000
    text = filler + "MegaCorp shipped 1,250 units at $3.10."
    assert extract_numbers(text) == ["1250", "3.1"]
    assert extract_entities(text) == ["MegaCorp"]
    assert observation_kind(text) is ObservationKind.CONTENT


# The scanners try their patterns only where a match can start (found by cheap class-led
# patterns, partly in the reversed text); that must find exactly what a plain finditer finds.
_SCAN_TOKENS = [
    "1)", "(2)", "#4", "$1,000.50", "-$.5", "−3", "3.5e6", "2.5 million", "v1.2.3", "12%",
    "Qwen2.5-72B", "https://x.y/z?1=2", "www.a.com/7", "http://A.b/C'D'", "2024-01-02",
    "#2024-01-02", "77e980341510", "a.5", "x-12", "5-10", "€3.5k", "١٢٣", "ſ", "K", "İ", "Zürich",
    "'quoted'", '"Double Q"', "`code`", "report.csv", "a/b.json", "Foo.Bar", "foo-.csv-",
    "gpt-4o", "gpt4-", "o3-mini", "x86_64", "AlphaFold3", "MetalWorks Inc", "CopperDirect's",
    "The", "New York", "john.doe@example.com", "'", '"', "`", "-", ".", "/", "$", "#", "_",
    " ", "\n", "(", ":", "a", "Z", "7",
]  # fmt: skip


@given(
    st.lists(st.sampled_from(_SCAN_TOKENS), max_size=30),
    st.sampled_from(["", " ", "\n", ", "]),
)
def test_scans_at_candidate_starts_equal_plain_finditer(tokens: list[str], glue: str) -> None:
    text = glue.join(tokens)
    for scan, pattern in (
        (ev._entity_matches, ev._ENTITY_RE.unicode),
        (quantities._number_matches, quantities._NUMBER_RE.unicode),
    ):
        fast = [(m.span(), m.groupdict()) for m in scan(text)]
        assert fast == [(m.span(), m.groupdict()) for m in pattern.finditer(text)], text


def test_reused_names_do_not_leak_between_contexts() -> None:
    # A capitalised word is cached once but still judged by where it stands each time.
    assert extract_entities("Acme is here.") == []
    assert extract_entities("we met Acme today") == ["Acme"]
    assert extract_entities("Acme is here.") == []


_WRITTEN_NUMBER = st.builds(
    lambda sign, cur, whole, grouped, fraction, tail: (
        f"{sign}{cur}{f'{whole:,}' if grouped else whole}{fraction}{tail}"
    ),
    st.sampled_from(["", "-"]),
    st.sampled_from(["", "$", "€"]),
    st.integers(min_value=0, max_value=10**9),
    st.booleans(),
    st.sampled_from(["", ".0", ".5", ".050", ".25", ".999"]),
    st.sampled_from(["", "k", "M", " million", " thousand", "e3", "e-2", "bn", "%", " kg"]),
)


@given(st.lists(_WRITTEN_NUMBER, min_size=1, max_size=6))
def test_a_text_is_only_skipped_when_it_cannot_state_the_value(written: list[str]) -> None:
    """``may_state`` spares number scans; saying False for a value the text does state would
    make a grounded claim look invented."""
    text = "Prices: " + "; ".join(written) + "."
    for value in extract_numbers(text):
        assert quantities.may_state(text, [value]), (text, value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("about $4.32k", "4320"),
        ("1.5 million users", "1500000"),
        ("0.050 mg", "0.05"),
        ("43.2e2 units", "4320"),
        ("down -5 C", "-5"),
        ("1,000.00 EUR", "1000"),
        # Longer than Decimal's default 28 digits: the value keeps every digit written.
        (
            "count 9999999999999999999999999999999e2",
            extract_numbers("9999999999999999999999999999999e2")[0],
        ),
    ],
)
def test_every_writing_of_a_value_may_state_it(text: str, value: str) -> None:
    assert value in extract_numbers(text)
    assert quantities.may_state(text, [value])


def test_a_text_without_the_digits_is_not_scanned() -> None:
    assert not quantities.may_state("3 rooms at $120 a night", ["4320", "99.5"])
    assert quantities.may_state("3 rooms at $120 a night", ["4320", "12"])
    # A date or a version has no significant digits to look for: always scanned.
    assert quantities.may_state("nothing", ["2024-03-01"])


def test_an_address_with_its_port_shows_the_port() -> None:
    # `ss -tlnp` writes "0.0.0.0:80"; an answer says "port 80".
    shown = quantities.figures("LISTEN 0 511 0.0.0.0:80 0.0.0.0:* since 09:12:07")
    assert {"80", "0.0.0.0", "0.0.0.0:80", "09:12:07"} <= shown
    assert "12" not in shown  # a clock time is no address
