"""Rule mode turns down what a person would not write: checks added after a person's read."""

from __future__ import annotations

import re
from functools import partial

import pytest

from agenther.config import RULE_STRATEGIES
from agenther.constraints import find_constraints, unmet_constraints
from agenther.demands import demand_problems, demanded_actions, unrequested_actions
from agenther.evidence import Evidence, extract_entities
from agenther.failure_detector import analyze_rules
from agenther.models import AgentStep, FailedTrajectory, FailureAnalysis, FailureType
from agenther.request_style import style_problems
from agenther.rules import decide
from agenther.rules.arguments import read_route
from agenther.rules.cut_repair import tidy
from agenther.rules.drop_constraint import drop_constraints
from agenther.rules.facts import RunFacts
from agenther.rules.restate import restate_actual, unevidenced_side_effect
from agenther.rules.steps import successful_tool_steps
from agenther.rules.unmet import cut_unmet_phrases, kept_requirement

# Every strategy, tool work too (the default leaves it out), so that a check on tool work
# here is not passed by never trying it.
decide_by_rules = partial(decide.decide_by_rules, strategies=RULE_STRATEGIES)


def _run(prompt: str, observation: str, answer: str, reason: str) -> FailedTrajectory:
    return FailedTrajectory(
        original_prompt=prompt,
        steps=[AgentStep(action_name="search", action_input={"q": "x"}, observation=observation)],
        final_answer=answer,
        failure_reason=reason,
    )


def _restated(t: FailedTrajectory) -> str | None:
    facts = RunFacts.of(t, None, successful_tool_steps(t))
    return restate_actual(t.original_prompt, t.failure_reason, facts.evidence, t.final_answer)


def test_a_superlative_keeps_the_constraints_its_answer_met() -> None:
    # Both limits are named, but the answer's mouse met the rating: "the cheapest wireless
    # mouse" without it is a $7.49 one, and the answer would be wrong for it.
    t = _run(
        "On NimbusMart, find the cheapest wireless mouse that has a rating of at least 4.5 "
        "stars and costs under $15.",
        "NimbusMart results: 1. TechGear Wireless Mouse $7.49 rating 3.6; 2. Logitech M325s "
        "Wireless Mouse $18.99 rating 4.6",
        "The cheapest wireless mouse rated 4.5 or more is the Logitech M325s at $18.99.",
        "No item satisfies both price < $15 and rating >= 4.5.",
    )
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    )
    assert not decision.accepted, decision


def test_a_restated_word_never_doubles_one_the_request_has() -> None:
    t = _run(
        "How many orders did we receive last month?",
        "count: 18442 orders",
        "The orders table contains 18,442 orders.",
        "It counted all-time orders instead of orders from the previous month.",
    )
    assert _restated(t) is None


def test_an_excluded_folder_goes_with_its_slash_and_noun() -> None:
    request = (
        "Make a gzipped tar backup of /srv/app/uploads into /backups, excluding the tmp/ "
        "subfolder, and tell me how big the archive is."
    )
    assert cut_unmet_phrases(request, "tmp/ was not excluded") == (
        "Make a gzipped tar backup of /srv/app/uploads into /backups, and tell me how big the "
        "archive is."
    )


def test_tool_work_about_part_of_a_name_is_refused() -> None:
    t = FailedTrajectory(
        original_prompt="How many employees does Siemens have?",
        steps=[
            AgentStep(
                action_name="web_search",
                action_input={"query": "Siemens Healthineers employees"},
                observation="Siemens Healthineers employs about 71,000 people worldwide.",
            )
        ],
        final_answer="Siemens has about 71,000 employees.",
        failure_reason="The figure is Siemens Healthineers', not Siemens AG's.",
    )
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.WRONG_RESULT)
    )
    assert not decision.accepted
    assert "only part of 'Siemens Healthineers'" in decision.reason


def test_a_side_effect_done_to_the_wrong_thing_is_not_restated() -> None:
    # Was "Reply to Marcus vendor's latest email and confirm …": nobody asks to confirm an
    # offsite to a vendor, however the name is restated.
    t = FailedTrajectory(
        original_prompt="Reply to Marcus Lee's latest email and confirm I'll be at the offsite "
        "on June 6.",
        steps=[
            AgentStep(
                action_name="send_email",
                action_input={"to": "m.lehmann@vendorhub.de", "body": "Confirming June 6."},
                observation='{"status": "sent", "accepted_recipients": ["m.lehmann@vendorhub.de"]}',
            )
        ],
        final_answer="Replied to Marcus — you're confirmed for the June 6 offsite.",
        failure_reason="Replied to Marcus Lehmann (a vendor) instead of Marcus Lee; the "
        "confirmation went to the wrong person.",
    )
    wrong = FailureAnalysis(is_failure=True, failure_type=FailureType.WRONG_RESULT)
    decision = decide_by_rules(t, None, wrong)
    assert not decision.accepted, decision


def test_a_command_is_not_said_to_be_about_its_output() -> None:
    # Was "Run whoami about deploy and show me the output.": the output named as a topic.
    t = FailedTrajectory(
        original_prompt="Rotate the API key for the staging deploy bot and update the secret in "
        "the staging namespace.",
        steps=[
            AgentStep(action_name="run_command", action_input={"cmd": c}, observation=o)
            for c, o in [
                ("whoami", "deploy"),
                ("hostname", "ci-runner-4"),
                ("kubectl config current-context", "staging-eu-west-1"),
            ]
        ],
        final_answer="You're running as deploy on ci-runner-4, and kubectl is pointed at "
        "staging-eu-west-1.",
        failure_reason="Never rotated the key or touched the secret; only printed the environment.",
    )
    decision = decide_by_rules(t, None, analyze_rules(t))
    assert not decision.accepted, decision


@pytest.mark.parametrize(
    ("prompt", "action", "arguments", "shown", "name"),
    [
        # A file a call read exists, though no observation prints its name.
        (
            "Plot revenue from sales_2024.csv.",
            "python_exec",
            {"code": "pd.read_csv('sales_2024.csv').plot()"},
            "Saved charts/revenue.png 5970 bytes",
            "sales_2024.csv",
        ),
        # eighteenth-48: "ChefSupply" is the site of www.chefsupply.example, which the run
        # browsed.
        (
            "Order a cheese wire cutter from ChefSupply.",
            "goto",
            {"url": "https://www.chefsupply.example/search?q=wire"},
            "Results: Boska Cheese Wire Cutter Board $52.99",
            "ChefSupply",
        ),
    ],
)
def test_what_a_successful_call_named_backs_the_request(
    prompt: str, action: str, arguments: dict[str, str], shown: str, name: str
) -> None:
    def run(observation: str) -> FailedTrajectory:
        step = AgentStep(action_name=action, action_input=arguments, observation=observation)
        return FailedTrajectory(original_prompt=prompt, steps=[step], final_answer="Done.")

    ok = run(shown)
    assert RunFacts.of(ok, None, successful_tool_steps(ok)).evidence.has_entity(name)
    failed = run("HTTP 503 Service Unavailable: no such file")
    assert not RunFacts.of(failed, None, successful_tool_steps(failed)).evidence.has_entity(name)


def test_a_request_keeping_what_the_run_did_not_use_is_refused() -> None:
    t = FailedTrajectory(
        original_prompt=(
            "Get the top 5 customers by revenue in Q3 2024. Run the query only on the read "
            "replica, never on the primary."
        ),
        steps=[
            AgentStep(
                action_name="sql_query",
                action_input={"host": "db-primary.internal", "sql": "SELECT ... LIMIT 5"},
                observation='{"host": "db-primary.internal", "rows": [["Northwind Traders", '
                '412880.10], ["Contoso Ltd", 389214.55]]}',
            )
        ],
        final_answer=(
            "Top 5 by Q3 2024 revenue: Northwind Traders ($412,880.10), Contoso Ltd ($389,214.55)."
        ),
        failure_reason="The query ran on db-primary.internal, not the read replica.",
    )
    # Dropping the constraint cuts nothing here ("read replica" is no comparator): only the
    # reason's "not the read replica" tells that the second sentence asks for the failure.
    decision = decide_by_rules(t, None, analyze_rules(t))
    assert decision.relabeled is not None, decision.reason
    assert decision.relabeled.hindsight_prompt == "Get the top 5 customers by revenue in Q3 2024."


def test_a_substitution_is_read_in_the_requests_language() -> None:
    # "Februar statt März 2025": the months swap (both sides have a word; only one a number).
    t = _run(
        "Wie viel habe ich im März für Lebensmittel ausgegeben?",
        "Buchungen Februar 2025, Kategorie Lebensmittel: Summe 412,37 EUR",
        "Im Februar 2025 hast du 412,37 € für Lebensmittel ausgegeben.",
        "Falscher Zeitraum abgefragt: Februar statt März 2025.",
    )
    assert _restated(t) == "Wie viel habe ich im Februar für Lebensmittel ausgegeben?"


def test_what_an_amount_measures_goes_with_its_constraint() -> None:
    request = "Add the cheapest one with at least 16 GB of RAM to my cart."
    assert drop_constraints(request, find_constraints(request)) == "Add the cheapest to my cart."
    request = "Find a pharmacy within 2 km of me that is open late."
    assert drop_constraints(request, find_constraints(request)[:1]) == (
        "Find a pharmacy that is open late."
    )


def test_a_reason_saying_nothing_met_both_leaves_every_constraint_unmet() -> None:
    t = _run(
        "Find a pharmacy within 2 km of me that's open after 10 pm tonight.",
        "CVS Pharmacy 1.3 km, hours 07:00-22:00; CVS (24 hours) 3.4 km",
        "The 24-hour CVS at 4000 Walnut St is 3.4 km away.",
        "Recommends a pharmacy 3.4 km away; nothing met both constraints.",
    )
    assert [c.text for c in unmet_constraints(t)] == ["within 2 km", "after 10 pm"]


@pytest.mark.parametrize(
    ("prompt", "observation", "answer", "reason", "limit"),
    [
        (
            "Find a pharmacy within 2 km of me that is open late tonight.",
            "Walgreens 0.6 km, hours 08:00-21:00; CVS Pharmacy 3.4 km, open 24 hours",
            "There's no late pharmacy within 2 km; the 24-hour CVS is 3.4 km away.",
            "The pharmacy is 3.4 km away, beyond 2 km.",
            "within 2 km",
        ),
        # An answer that calls the unmet value a limit talks about the limit too.
        (
            "Get me a PawSure quote for my Labrador with lifetime cover and an excess no higher "
            "than £100.",
            "PawSure lifetime cover: £38.40 a month, excess £150 per condition.",
            "PawSure comes to £38.40 a month. The excess is £150, which is above your £100 limit.",
            "The user capped the excess at £100; the quote's excess is £150.",
            "no higher than £100",
        ),
        # fifteenth-26: "within your limit" without its value.
        (
            "Reserva 2 lugares no workshop de mosaico de sábado na Oficina Tessela, no máximo "
            "60 € por pessoa.",
            '{"booking": "TS-40917", "seats": 2, "price_per_person": 75.0, "total": 150.0}',
            "Reservei 2 lugares no workshop de sábado na Oficina Tessela (TS-40917). O total é "
            "150,00 €, dentro do teu limite.",
            "Booked at 75 € a head when the user said 60 € maximum.",
            "no máximo 60 € por pessoa",
        ),
    ],
)
def test_an_answer_about_the_dropped_limit_is_refused(
    prompt: str, observation: str, answer: str, reason: str, limit: str
) -> None:
    t = _run(prompt, observation, answer, reason)
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    )
    assert not decision.accepted
    assert f"the final answer still talks about '{limit}'" in decision.reason


def test_a_route_without_its_unshown_origin_is_not_said() -> None:
    ev = Evidence.of_texts(["Air India AI 306 to Tokyo Narita (NRT) on 2024-07-15: 36890 INR"])
    args = {"origin": "DEL", "destination": "NRT", "date": "2024-07-15"}
    assert read_route(args, ev) == ""
    assert read_route({**args, "origin": "NRT"}, ev).startswith("from NRT to NRT")
    # A date range no observation shows leaves a looser route, not another one.
    assert read_route({"destination": "NRT", "to": "2024-08-01"}, ev) == "to NRT"


def test_a_swapped_day_takes_the_weekday_the_run_shows() -> None:
    t = _run(
        "Cercami un Frecciarossa da Milano a Roma venerdì 7 giugno.",
        '{"data": "2024-06-08", "giorno": "sabato", "treni": ["FR 9507 06:20"]}',
        "Ecco i Frecciarossa di sabato 8 giugno: FR 9507 06:20.",
        "Searched Saturday 8 June instead of Friday 7 June.",
    )
    assert _restated(t) == "Cercami un Frecciarossa da Milano a Roma sabato 8 giugno."
    shown_without_weekday = t.model_copy(update={"final_answer": "FR 9507 06:20, 8 giugno."})
    assert _restated(shown_without_weekday) is None


def test_a_full_count_in_the_explanation_keeps_the_requests_count() -> None:
    request = "Show my last 10 card transactions on my Visa ending 4417."
    # Stage 1's explanation counts observations: "3 of 3" is no short count.
    assert cut_unmet_phrases(request, "Filter not applied. 3 of 3 observations usable") == request
    assert cut_unmet_phrases(request, "Only 3 of 10 transactions were shown") == (
        "Show my last card transactions on my Visa ending 4417."
    )


def _drop_first(prompt: str) -> str | None:
    return drop_constraints(prompt, find_constraints(prompt)[:1])


def test_a_conditional_limit_goes_with_its_whole_clause() -> None:
    # "…, but only if the price is." was left behind.
    assert _drop_first("Buy 10 shares of Iberdrola, but only if the price is below $12.") == (
        "Buy 10 shares of Iberdrola."
    )
    assert _drop_first(
        "Compra 10 acciones de Iberdrola, pero solo si el precio está por debajo de 12 €."
    ) == ("Compra 10 acciones de Iberdrola.")
    assert _drop_first("Kauf 10 Aktien von Siemens, aber nur wenn der Kurs unter 150 € liegt.") == (
        "Kauf 10 Aktien von Siemens."
    )
    # Who the limit excludes goes with it, to the clause's end (eighteenth-84).
    grooming = (
        "Plan tonight's grooming for Black 2. Each driver max 6 hours, and nobody with fewer "
        "than 2 seasons' experience on Black 2 (it's the winch run)."
    )
    seasons = [c for c in find_constraints(grooming) if "seasons" in c.text]
    assert drop_constraints(grooming, seasons) == (
        "Plan tonight's grooming for Black 2. Each driver max 6 hours."
    )
    # A clause whose purpose is the limit goes whole as well.
    assert _drop_first(
        "Plan the route for bus 7 next year so that no pupil spends more than 40 minutes on it."
    ) == ("Plan the route for bus 7 next year.")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # The whole "only ones" clause goes, past the point in "0.30%".
        (
            "Compare index funds covering emerging markets, only ones with expense ratio under "
            "0.30% and assets under management below $160 bn.",
            "Compare index funds covering emerging markets.",
        ),
        # The limit before the cut clause's start went with it, and lists nothing.
        (
            "Find laptops for students, only ones with price under $900 and weight below 2 kg",
            "Find laptops for students.",
        ),
        # "24 °C" is one limit, and a "but don't" clause goes with it.
        (
            "Turn the bedroom AC on to cool, but don't set it below 24 °C — the baby's asleep.",
            "Turn the bedroom AC on to cool.",
        ),
        # A question stays one.
        (
            "Which flights go Madrid to Rome, only ones with fare under $405.",
            "Which flights go Madrid to Rome?",
        ),
        # "for audio where citations": the attribute is what "where" introduces.
        (
            "Find papers on diffusion models for audio where citations under 3,100 citations.",
            "Find papers on diffusion models for audio and list the citations.",
        ),
        # "m²" is one unit: no "²" is left behind.
        (
            "Find apartments in Hackney, London with floor area below 65 m².",
            "Find apartments in Hackney, London and list the floor area.",
        ),
        # "…, each" bounded every item by the limit: without it, it bounds nothing.
        (
            "Plan a week of high-protein breakfasts, each under 400 kcal.",
            "Plan a week of high-protein breakfasts.",
        ),
        # A wish is no command: what to list is a sentence of its own.
        (
            "I need suppliers for nitrile gloves that have price under $5.14/kg.",
            "I need suppliers for nitrile gloves. List the price.",
        ),
        # A sentence that only bounds the request goes whole ("Keep it." was left behind).
        (
            "Write a summary of the report. Keep it under 200 words.",
            "Write a summary of the report.",
        ),
        (
            "Write a summary of the report, keeping it under 200 words.",
            "Write a summary of the report.",
        ),
        # ... and so does the "and" that joins it to the rest, which opens the sentence then.
        (
            "Translate notes.md into German as de/notes.md. Keep it under 200 words and leave "
            "every code block exactly as it is.",
            "Translate notes.md into German as de/notes.md. Leave every code block exactly as "
            "it is.",
        ),
        ("Keep it under 200 words: summarise the report.", "Summarise the report."),
        # A limit on what is excluded lists nothing ("list the no track" was added) ...
        (
            "Build a list of 10 70s MPB songs for Saturday, with no track over 5 minutes.",
            "Build a list of 10 70s MPB songs for Saturday.",
        ),
        # ... and in another language, what the limit excluded goes with it ("…, sem nenhuma
        # faixa." was left).
        (
            "Monte uma lista de 10 músicas de MPB para o programa de sábado, sem nenhuma faixa "
            "com mais de 5 minutos.",
            "Monte uma lista de 10 músicas de MPB para o programa de sábado.",
        ),
        # A bound after a dash ("— keep it." was left).
        (
            "Write a summary of my 2023 charitable donations for my tax preparer — keep it "
            "under 60 words.",
            "Write a summary of my 2023 charitable donations for my tax preparer.",
        ),
        # "Don't spend." was left; a bound on the whole request lists nothing instead.
        (
            "Apply for a parking permit on the city portal. Don't spend more than $60.",
            "Apply for a parking permit on the city portal.",
        ),
        (
            "Order printer paper. Do not pay more than $40 and use my work card.",
            "Order printer paper. Use my work card.",
        ),
        # What only justifies the limit goes with it: a dash aside ("…, —" was left) ...
        (
            "Scale our Hazy Harbor IPA recipe from 10 hL to 25 hL, and keep the bitterness "
            "under 40 IBU — the new tap list describes it as soft.",
            "Scale our Hazy Harbor IPA recipe from 10 hL to 25 hL.",
        ),
        # ... a "because" (no longer read as the limit's unit) or an "as" clause.
        (
            "Find hotels in Lyon under €120 because the budget is tight. Book the cheapest.",
            "Find hotels in Lyon. Book the cheapest.",
        ),
        ("Find flights under $400 as we are students.", "Find flights and list the prices."),
        # A phrase that only names what the limit was on (", total runtime." was left).
        (
            "Build a shorts block of five films from the accepted submissions, total runtime "
            "no more than 60 minutes.",
            "Build a shorts block of five films from the accepted submissions.",
        ),
        # "since 2019" is a limit of its own, and stays.
        (
            "Find papers on protein folding with over 500 citations since 2019.",
            "Find papers on protein folding since 2019.",
        ),
        # "mas mantém-no … porque …": the "keep it" and the "because" go with the limit.
        (
            "Converte o ficheiro folheto_feira.pdf para CMYK em PDF/X-1a, mas mantém-no abaixo "
            "de 20 MB porque o portal da gráfica não aceita mais.",
            "Converte o ficheiro folheto_feira.pdf para CMYK em PDF/X-1a.",
        ),
        # A preposition right before the bound goes with it ("open until tonight" was left).
        (
            "Find a pharmacy near 94110 that's open until at least 10pm tonight and has "
            "Paxlovid in stock.",
            "Find a pharmacy near 94110 that's open tonight and has Paxlovid in stock.",
        ),
        ("Summarize the report in at most 5 bullet points.", "Summarize the report."),
        # A year after "for" qualifies the request; it is no attribute to list.
        (
            "Find suppliers for 2025 under $5 per kg.",
            "Find suppliers for 2025 and list the prices.",
        ),
        # A place after the attribute is the request's own ("list the rent in Austin" was
        # added), and what was paid has amounts, not prices.
        (
            "Find me 2-bedroom apartments for rent in Austin under $1,800 a month that allow dogs.",
            "Find me 2-bedroom apartments for rent in Austin that allow dogs and list the prices.",
        ),
        (
            "Show my last 10 card transactions over $100 on my Visa ending 4417.",
            "Show my last 10 card transactions on my Visa ending 4417 and list the amounts.",
        ),
        # German "in" before the bound, the verb's particle then closes the sentence.
        (
            "Fasse die Patentlage von Toyota zu Separatoren seit 2020 in höchstens 5 Stichpunkten "
            "zusammen.",
            "Fasse die Patentlage von Toyota zu Separatoren seit 2020 zusammen.",
        ),
        # A participle that needed the cut date goes with it ("… en salud publicados.").
        (
            "Búscame 3 artículos sobre aprendizaje federado en salud publicados después de 2021.",
            "Búscame 3 artículos sobre aprendizaje federado en salud.",
        ),
        # A second rate is the bound's too ("…, at per month." was left).
        (
            "Reserve 20 covered hoppers for delivery to Kansas City in early June, at no more "
            "than $700 per car per month.",
            "Reserve 20 covered hoppers for delivery to Kansas City in early June.",
        ),
        # A sentence that only bounds goes whole, with what the bound counted in and what it
        # was for ("Keep the order total including delivery." was left).
        (
            "Order 40 pillows for the Harbour View hotel. Keep the order total under €600 "
            "including delivery.",
            "Order 40 pillows for the Harbour View hotel.",
        ),
        (
            "Order 200 honey jars with lids for the co-op. They need to arrive before 1 May for "
            "the spring extraction.",
            "Order 200 honey jars with lids for the co-op.",
        ),
        (
            "Find a hotel in Rome. Keep the total under €450 including taxes, and pick one near "
            "Termini.",
            "Find a hotel in Rome. Pick one near Termini.",
        ),
        # After "for" comes what the request is for, not what the limit was on ("Find
        # suppliers and list the copper wire.", "… for tomorrow" went).
        (
            "Find suppliers for copper wire under $5/kg.",
            "Find suppliers for copper wire and list the prices.",
        ),
        (
            "Find the earliest emergency appointment for tomorrow after 3 pm and book it.",
            "Find the earliest emergency appointment for tomorrow and book it.",
        ),
        # "for" right before the bound is its own; putting bottles in a cart asks for no list.
        (
            "Find me a Sancerre on vinoteca-shop.com for under €25 and put 6 bottles in my cart.",
            "Find me a Sancerre on vinoteca-shop.com and put 6 bottles in my cart.",
        ),
        # A bare "max", a limit after what it limits, a rate by "per" and a noun; a sentence
        # left opening with "y" starts after it.
        (
            "Boka två biljetter till 'Fröken Julie' på Dramaten lördag 16 november, max 450 kr "
            "per biljett, gärna på parkett.",
            "Boka två biljetter till 'Fröken Julie' på Dramaten lördag 16 november, gärna på "
            "parkett.",
        ),
        (
            "Rédige pour l'expert un résumé du dossier SIN-2024-0871, en 5 puces maximum.",
            "Rédige pour l'expert un résumé du dossier SIN-2024-0871.",
        ),
        (
            "Escribe la descripción del episodio 57 a partir de las notas del guion. Máximo 80 "
            "palabras y sin mencionar al patrocinador.",
            "Escribe la descripción del episodio 57 a partir de las notas del guion. Sin mencionar "
            "al patrocinador.",
        ),
        # The preposition before a bound goes with it ("una didascalia di per il dipinto",
        # "a store credit of for the late delivery"), and so does a participle that needed it.
        (
            "Scrivi una didascalia di massimo 50 parole per il dipinto di Canaletto, usando solo "
            "i dati del nostro catalogo.",
            "Scrivi una didascalia per il dipinto di Canaletto, usando solo i dati del nostro "
            "catalogo.",
        ),
        (
            "Give the customer on ticket #7781 a store credit of no more than $25 for the late "
            "delivery, and let them know.",
            "Give the customer on ticket #7781 a store credit for the late delivery, and let them "
            "know.",
        ),
        (
            "Find me 3 nut-free vegan dessert recipes rated 4.5 stars or higher.",
            "Find me 3 nut-free vegan dessert recipes.",
        ),
        # A clock time is one value (":00." was left), and "leaving" goes with its time.
        (
            "Book the cheapest Dover to Calais car ferry on Sunday 21 July for 2 adults, leaving "
            "no earlier than 10:00.",
            "Book the cheapest Dover to Calais car ferry on Sunday 21 July for 2 adults.",
        ),
        # A clause whose verb only states the bound goes with it ("and the total has to be
        # and list the prices" was left).
        (
            "Get me an installation quote for a 5 kW system at 18 Wren Close — monocrystalline "
            "panels only, and the total has to be under £7,000.",
            "Get me an installation quote for a 5 kW system at 18 Wren Close — monocrystalline "
            "panels only.",
        ),
    ],
)
def test_dropping_every_limit_leaves_a_sentence(prompt: str, expected: str) -> None:
    assert drop_constraints(prompt, find_constraints(prompt)) == expected


def test_a_restriction_goes_with_its_whole_clause() -> None:
    # "…, but only count stores." was left behind: without its limit it restricts nothing.
    assert _drop_first(
        "In sales.csv, rank the stores by average ticket, but only count stores with at least "
        "30 sales."
    ) == ("In sales.csv, rank the stores by average ticket.")


def test_a_cut_that_leaves_a_verb_without_its_complement_gives_nothing() -> None:
    assert _drop_first("Busca un portátil, el precio es inferior a 900 €.") is None
    # A relative clause on the limited attribute goes whole.
    assert _drop_first("Busca un portátil cuyo precio es inferior a 900 € en PcComponentes.") == (
        "Busca un portátil en PcComponentes."
    )


def test_a_reason_naming_a_non_numeric_part_leaves_the_numeric_limits_alone() -> None:
    t = _run(
        "Find backend engineer candidates in our ATS with at least 5 years of Go experience "
        "who are based in Berlin.",
        "candidates: Anna Lenz (Go 7y, Hamburg), Marco Ruiz (Go 6y, Madrid)",
        "Anna Lenz and Marco Ruiz have 6+ years of Go.",
        "The Berlin filter was ignored: both candidates are based elsewhere.",
    )
    analysis = FailureAnalysis(
        is_failure=True,
        failure_type=FailureType.CONSTRAINT_VIOLATION,
        severity=0.5,
        weight=0.5,
        recoverable=True,
        explanation="",
    )
    assert unmet_constraints(t, analysis) == []
    # The place goes, and so does the clause it completed.
    assert cut_unmet_phrases(t.original_prompt, t.failure_reason) == (
        "Find backend engineer candidates in our ATS with at least 5 years of Go experience."
    )


def test_an_answer_that_still_names_the_cut_month_gives_no_example() -> None:
    t = FailedTrajectory(
        original_prompt="How much did I spend on groceries in September?",
        steps=[
            AgentStep(
                action_name="list_transactions",
                action_input={"category": "groceries", "from": "2024-08-01", "to": "2024-08-31"},
                observation='{"count": 14, "total": -612.4, "category": "groceries"}',
            )
        ],
        final_answer="You spent $612.40 on groceries in September across 14 purchases.",
        failure_reason="The query covered 1-31 August, so these are August's figures reported as "
        "September's.",
    )
    # The check under test follows Stage 1's type; pin it rather than the fitted model's guess.
    analysis = analyze_rules(t).model_copy(
        update={"failure_type": FailureType.CONSTRAINT_VIOLATION}
    )
    decision = decide_by_rules(t, analysis=analysis)
    assert not decision.accepted
    assert "still talks about 'September'" in decision.reason


def test_an_answer_excusing_the_broken_limit_still_talks_about_it() -> None:
    # eighteenth-84: the caveat names what the dropped limit measured.
    t = _run(
        "Plan tonight's grooming for Black 2, and nobody with fewer than 2 seasons' experience "
        "on Black 2.",
        '[{"name": "Ola Berg", "seasons": 1}]',
        "The plan is saved: Ola Berg on Black 2. Note: Ola has only 1 season, but Kari is off.",
        "Ola Berg (1 season) put on Black 2, which breaks the 2-season rule.",
    )
    facts = RunFacts.of(t, None, successful_tool_steps(t))
    assert facts.answer_limits == ("fewer than 2 seasons",)
    plain = t.model_copy(update={"final_answer": "The plan is saved: Ola Berg on Black 2."})
    assert RunFacts.of(plain, None, successful_tool_steps(plain)).answer_limits == ()


@pytest.mark.parametrize(
    ("prompt", "observation", "answer"),
    [
        # twentieth-44: the answer repeats the limit only the request gave, in Danish.
        (
            "Køb et sæt træklodser på legetoejsbutikken.dk – højst 500 kr.",
            "PlanToys byggeklodser 50 stk. 549 kr. På lager.",
            "Jeg har købt PlanToys byggeklodser for 549 kr. Det er 49 kr. over de 500 kr.",
        ),
        # twenty-first-22: it measures itself against what was asked.
        (
            "Reserva una visita guiada el martes 3 de junio; tiene que terminar antes de las "
            "13:00.",
            "Turno 11:30-13:30 confirmado, reserva CHO-ES-3312.",
            "Reservada a las 11:30. Termina a las 13:30, media hora después de lo que pediste.",
        ),
        # twentieth-05: a Norwegian caveat names what the limit measured.
        (
            "Sett opp vaktene for uke 8 slik at ingen jobber mer enn 6 timer per dag.",
            "Lagret: 35 vakter. Kari Haugen 7,5 timer tirsdag.",
            "Vaktplanen er lagret. Merk: Kari Haugen har 7,5 timer tirsdag.",
        ),
    ],
)
def test_an_answer_about_the_dropped_limit_in_any_language_keeps_it(
    prompt: str, observation: str, answer: str
) -> None:
    limit = find_constraints(prompt)[0]
    t = _run(prompt, observation, answer, f"It broke the limit: {limit.text}.")
    facts = RunFacts.of(t, None, successful_tool_steps(t))
    assert facts.answer_limits, facts.unmet
    plain = t.model_copy(update={"final_answer": answer.split(". ")[0] + "."})
    assert RunFacts.of(plain, None, successful_tool_steps(plain)).answer_limits == ()


def _shell(command: str, observation: str) -> AgentStep:
    return AgentStep(
        action_name="run_command", action_input={"command": command}, observation=observation
    )


def test_a_shell_s_later_command_that_changes_things_is_other_work() -> None:
    from agenther.rules.facts import RunFacts
    from agenther.rules.tool_work import tool_work_request

    grep = _shell("grep -rn 'getUsr' src/", "src/api/users.ts:12:export function getUsr(id)")
    # A package manager's upgrade after its update is the work too.
    apt = FailedTrajectory(
        original_prompt="Upgrade the packages on build-02.",
        steps=[
            _shell("sudo apt-get update", "Reading package lists... Done"),
            _shell("sudo apt-get -y upgrade", "12 upgraded, 0 newly installed"),
        ],
        final_answer="Upgraded 12 packages on build-02.",
        failure_reason="Jenkins was never restarted.",
    )
    assert tool_work_request(RunFacts.of(apt, None, apt.steps)) is None
    changed = FailedTrajectory(
        original_prompt="Rename getUsr to getUser everywhere in src/.",
        steps=[grep, _shell("sed -i 's/getUsr/getUser/g' src/api/users.ts", "(exit code 0)")],
        final_answer="Renamed getUsr to getUser in src/api/users.ts.",
        failure_reason="README.md was not updated.",
    )
    assert tool_work_request(RunFacts.of(changed, None, changed.steps)) is None
    # A later command that only looks is a check of the same work.
    looked = changed.model_copy(update={"steps": [grep, _shell("ls src/api", "users.ts")]})
    assert tool_work_request(RunFacts.of(looked, None, looked.steps)) == (
        "Run grep -rn 'getUsr' src/ and show me the output."
    )


def test_a_dutch_request_left_on_its_particle_is_incomplete() -> None:
    # "… en bied haar maximaal 10% korting aan" without its limit ends on "aan".
    prompt = "Beantwoord de klacht in ticket 7781 en bied haar maximaal 10% korting aan."
    assert drop_constraints(prompt, find_constraints(prompt)) is None


def test_a_degree_sign_is_part_of_the_limit() -> None:
    # Without it a cut leaves "… set it °C".
    assert find_constraints("Keep the server room below 24 °C at night.")[0].text.endswith("°C")


def test_a_request_for_what_the_reason_says_was_never_made_at_all_is_refused() -> None:
    t = FailedTrajectory(
        original_prompt="Plan a week of high-protein breakfasts, each under 400 kcal.",
        steps=[
            AgentStep(
                action_name="search_recipes",
                action_input={"query": "high protein breakfast", "max_kcal": 400},
                observation='{"results": [{"title": "Greek yogurt berry bowl", "kcal": 310}, '
                '{"title": "Egg white veggie omelette", "kcal": 240}]}',
            ),
            AgentStep(
                action_name="get_nutrition",
                action_input={"food": "grande caffè latte, oat milk"},
                observation='{"kcal": 470, "protein_g": 4, "carbs_g": 37}',
            ),
        ],
        final_answer="A grande oat-milk caffè latte has 470 kcal and only 4 g of protein.",
        failure_reason="No breakfast plan at all; compared lattes.",
    )
    # Typed as a violated limit (the type model may say off topic), so the limit is cut.
    analysis = analyze_rules(t)
    assert analysis is not None
    analysis = analysis.model_copy(update={"failure_type": FailureType.CONSTRAINT_VIOLATION})
    decision = decide_by_rules(t, None, analysis)
    assert decision.relabeled is None
    assert "breakfast" in decision.reason


def test_a_relative_clause_left_without_its_when_goes() -> None:
    # "…for under $20 that arrives by Friday" with both limits cut by the failure reason.
    assert tidy("Order a pack of rechargeable AA batteries that arrives.") == (
        "Order a pack of rechargeable AA batteries."
    )
    assert tidy("Find a fix that works.") == "Find a fix that works."


def test_a_requirement_the_reason_quotes_is_cut_from_the_request() -> None:
    request = (
        "Build me a ~60-minute Spotify running playlist called 'Tempo Run' — tracks between 160 "
        "and 175 BPM, and no explicit songs please."
    )
    reason = (
        "'Till I Collapse' is flagged explicit, violating the user's 'no explicit songs' "
        "requirement."
    )
    assert cut_unmet_phrases(request, reason) == (
        "Build me a ~60-minute Spotify running playlist called 'Tempo Run' — tracks between 160 "
        "and 175 BPM."
    )
    # A quoted name is no requirement, and a quote of one word is too little to tell.
    named = "Make a running playlist called Tempo Run, with no explicit songs."
    assert cut_unmet_phrases(named, "The playlist 'Tempo Run' has an explicit song.") == named
    assert cut_unmet_phrases(request, "The user's 'songs' rule was broken.") == request


def test_a_cap_on_how_many_the_reason_names_is_cut_and_the_limits_stay() -> None:
    t = _run(
        "List open auto claims over €10,000 filed in Q1 2025 in Bavaria, biggest first — top "
        "10 only.",
        "claim_id | city | filed | amount\nAU-25-01933 | München | 2025-02-14 | 48750.00\n"
        "AU-25-00418 | Nürnberg | 2025-01-09 | 41200.00\n(14 rows) open auto Q1 2025 Bavaria",
        "Open auto claims over €10,000 filed in Bavaria in Q1 2025, largest first: AU-25-01933 "
        "(München, €48,750.00), AU-25-00418 (Nürnberg, €41,200.00), …",
        "The user asked for the top 10 only; the answer lists all 14 rows.",
    )
    analysis = FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    # The reason's 10 is the request's "top 10", not its "over €10,000".
    assert unmet_constraints(t, analysis) == []
    assert cut_unmet_phrases(t.original_prompt, t.failure_reason) == (
        "List open auto claims over €10,000 filed in Q1 2025 in Bavaria, biggest first."
    )


def test_stage_1_quoting_the_answer_s_limit_does_not_name_it_unmet() -> None:
    t = _run(
        "Export the final grades for BIO-201 to CSV, email the file to registrar@college.edu, "
        "and tell me how many students failed (below 60).",
        "exported /exports/bio201.csv (84 rows); 9 rows with final < 60",
        "I exported the BIO-201 final grades to /exports/bio201.csv. 9 of the 84 students "
        "finished below 60%.",
        "The CSV was never e-mailed to registrar@college.edu.",
    )
    analysis = FailureAnalysis(
        is_failure=True,
        failure_type=FailureType.CONSTRAINT_VIOLATION,
        explanation="constraint_violation: 1 signal(s) ('below 60'); 3 of 3 observations usable",
    )
    # The reason names the e-mail, another part of the request: the limit was met.
    assert unmet_constraints(t, analysis) == []
    # Without a reason of its own, Stage 1's words still name it; its tallies never do.
    silent = t.model_copy(update={"failure_reason": ""})
    assert [c.text for c in unmet_constraints(silent, analysis)] == ["below 60"]
    tally = FailureAnalysis(
        is_failure=True,
        failure_type=FailureType.INCOMPLETE,
        explanation="incomplete: 2 signal(s) ('missing'); 60 of 60 observations usable",
    )
    assert unmet_constraints(silent, tally) == []


def test_a_request_never_keeps_a_date_the_reason_says_failed() -> None:
    # Read on the twelfth set: "Backfill events_raw for 2024-09-10 through 2024-09-12." was
    # accepted with the row count dropped instead, though the 12th never loaded.
    logs = "[backfill] inserted {rows} rows into events_raw (partition dt=2024-09-{day})"
    t = FailedTrajectory(
        original_prompt="Backfill events_raw for 2024-09-10 through 2024-09-12 and give me the "
        "row count for each day.",
        steps=[
            AgentStep(
                action_name="run_command",
                action_input={"command": f"./bin/backfill.sh --date 2024-09-{day}"},
                observation=logs.format(rows=rows, day=day),
            )
            for day, rows in (("10", "1,204,331"), ("11", "1,187,902"))
        ]
        + [
            AgentStep(
                action_name="run_command",
                action_input={"command": "./bin/backfill.sh --date 2024-09-12"},
                observation="[backfill] reading s3://acme-lake/raw/events/dt=2024-09-12/\n"
                "botocore.exceptions.ProfileNotFound: The config profile (lake-reader) could "
                "not be found",
            )
        ],
        final_answer="Backfill results for events_raw:\n- 2024-09-10: 1,204,331 rows\n"
        "- 2024-09-11: 1,187,902 rows",
        failure_reason="The 12 September partition never loaded: listing the S3 prefix was "
        "denied. The answer quietly lists the two days that worked as if that were the job.",
    )
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.TOOL_ERROR)
    )
    assert not decision.accepted or "2024-09-12" not in decision.relabeled.hindsight_prompt, (
        decision
    )


def test_a_lookup_loses_the_closing_filter_the_reason_names() -> None:
    request = (
        "Find Ellis Island arrival records for Giovanni Russo between 1900 and 1905 — only "
        "ones that sailed from Naples."
    )
    reason = "The user limited results to departures from Naples; the Palermo record was included."
    assert cut_unmet_phrases(request, reason) == (
        "Find Ellis Island arrival records for Giovanni Russo between 1900 and 1905."
    )
    # Unnamed, the filter stays: the reason may be about something else.
    assert cut_unmet_phrases(request, "The 1903 record has the wrong age.") == request
    # The filter may be a sentence of its own.
    assert (
        cut_unmet_phrases(
            "Welche Deployments im Namespace billing sind gerade nicht bereit? Bitte nur eine "
            "schlichte Liste der Namen, keine Tabelle.",
            "Der Agent lieferte eine Tabelle statt einer schlichten Liste.",
        )
        == "Welche Deployments im Namespace billing sind gerade nicht bereit?"
    )
    # A condition is no filter.
    conditional = "Show my open orders, only if the shop is open."
    assert cut_unmet_phrases(conditional, "The shop was closed.") == conditional
    # In Chinese the reason shares two characters in a row with the filter.
    assert (
        cut_unmet_phrases(
            "帮我查一下2024年第一季度华东区销售额最高的10个客户,只看企业客户。",
            "没有按 customer_type = '企业' 过滤,结果里混入了个人客户。",
        )
        == "帮我查一下2024年第一季度华东区销售额最高的10个客户。"
    )


def test_a_side_effect_keeps_its_scope_in_any_language() -> None:
    # "Restart nginx on the staging servers, only on staging": cut, it would ask for a restart
    # anywhere. ``demanded_actions`` reads no Spanish "reinicia": the request must open as a
    # lookup for a filter to go.
    request = "Reinicia nginx en los servidores, solo en los de staging."
    assert cut_unmet_phrases(request, "Se reinició también staging y producción.") == request
    english = "Pay the three open invoices from Northwind, but only from the EUR account."
    assert cut_unmet_phrases(english, "It paid from the USD account, not the EUR one.") == english


def test_a_restatement_is_refused_when_the_answer_claims_the_expected_thing() -> None:
    t = _run(
        "Set the priority of ticket ZD-3307 to high.",
        '{"ticket_id": "ZD-3370", "subject": "Invoice title wrong", "priority": "high"}',
        "Ticket ZD-3307 now has priority high.",
        "Updated ZD-3370 instead of ZD-3307 and reported it as ZD-3307.",
    )
    facts = RunFacts.of(t, None, successful_tool_steps(t))
    assert restate_actual(t.original_prompt, t.failure_reason, facts.evidence) is not None
    assert (
        restate_actual(t.original_prompt, t.failure_reason, facts.evidence, t.final_answer) is None
    )


def test_a_chinese_lookup_without_its_filter_is_accepted() -> None:
    # Chinese puts no spaces between words: the subject and the second judge's support are
    # read off two-character words.
    t = _run(
        "帮我查一下2024年第一季度华东区销售额最高的3个客户,只看企业客户。",
        "customer | region | q1_2024_sales\n上海恒远贸易有限公司 | 华东区 | 1284600.00\n"
        "王建国 | 华东区 | 986000.00\n南京宏达机电设备有限公司 | 华东区 | 874210.00",
        "2024年第一季度华东区销售额前3的客户:上海恒远贸易有限公司 ¥1284600.00;王建国 "
        "¥986000.00;南京宏达机电设备有限公司 ¥874210.00。",
        "没有按 customer_type = '企业' 过滤,结果里混入了个人客户(王建国)。",
    )
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    )
    assert decision.accepted, decision
    assert decision.relabeled is not None
    assert decision.relabeled.hindsight_prompt == (
        "帮我查一下2024年第一季度华东区销售额最高的3个客户。"
    )


@pytest.mark.parametrize(
    ("request_text", "limit_text", "kept"),
    [
        pytest.param(
            "Trouve-moi des lithographies de Miró vendues aux enchères à Paris en octobre, avec "
            "une estimation basse inférieure à 3 000 €.",
            "inférieure à 3 000 €",
            "Trouve-moi des lithographies de Miró vendues aux enchères à Paris en octobre.",
            id="French thousands and the lead",
        ),
        pytest.param(
            "Busca 2 entradas juntas para 'Yerma' el sábado 5 de abril que no pasen de 30 € cada "
            "una. No compres nada todavía.",
            "no pasen de 30 € cada una",
            "Busca 2 entradas juntas para 'Yerma' el sábado 5 de abril. No compres nada todavía.",
            id="a Spanish cap per ticket, no stray space",
        ),
        pytest.param(
            "Simule un crédit auto de 18 000 € sur 5 ans, avec une mensualité maximale de 320 €.",
            "maximale de 320 €",
            "Simule un crédit auto de 18 000 € sur 5 ans.",
            id="a French maximum with the noun it limits",
        ),
        # Was read as English ("for"), and "List the 2025 til." was added.
        pytest.param(
            "Finn tre tilbud på leie av NVG-sildekvote for 2025 til under 6 kr/kg.",
            "under 6 kr/kg",
            "Finn tre tilbud på leie av NVG-sildekvote for 2025.",
            id="Norwegian, a rate per kilo",
        ),
        pytest.param(
            "Hitta tre hotell i Malmö för under 900 kr per natt.",
            "under 900 kr per natt",
            "Hitta tre hotell i Malmö.",
            id="Swedish, a rate per night",
        ),
    ],
)
def test_a_foreign_limit_goes_whole(request_text: str, limit_text: str, kept: str) -> None:
    [limit] = find_constraints(request_text)
    assert limit.text == limit_text
    assert drop_constraints(request_text, [limit]) == kept


def test_a_space_grouped_figure_is_read_whole() -> None:
    [limit] = find_constraints("Des lithographies avec une estimation inférieure à 3 000 €.")
    assert "3000" in limit.values


def test_a_price_per_bottle_goes_with_its_price() -> None:
    request = "Find me a Sancerre on vinoteca-shop.com for under €25 a bottle."
    [limit] = find_constraints(request)
    assert limit.text == "under €25 a bottle"


def test_no_higher_than_is_one_limit() -> None:
    request = "Get me a quote with lifetime cover and an excess no higher than £100."
    [limit] = find_constraints(request)
    assert limit.text == "no higher than £100"


def test_a_place_inside_a_closing_filter_is_not_cut_alone() -> None:
    request = (
        "Request samples of three sorghum accessions from the SeedNet catalogue — only ones "
        "collected in Sudan."
    )
    assert cut_unmet_phrases(request, "One of the three is from Ethiopia, not Sudan.") == request


def test_a_leading_only_loses_the_modifiers_the_reason_names() -> None:
    request = "List only the Atlas V launches scheduled from Vandenberg between 2 and 9 May 2025."
    reason = "The user asked for Atlas V only; the list also has Falcon 9 launches."
    assert cut_unmet_phrases(request, reason) == (
        "List the launches scheduled from Vandenberg between 2 and 9 May 2025."
    )
    # What is listed stays even when the reason names it; unnamed modifiers stay too.
    assert cut_unmet_phrases(
        "Show only direct flights to Oslo.", "It showed flights with a stop."
    ) == ("Show only direct flights to Oslo.")
    # A side effect keeps its "only".
    book = "Book only the Atlas V launch viewing tickets for 3 May."
    assert cut_unmet_phrases(book, "It booked a Falcon 9 viewing too, not Atlas V only.") == book


def test_a_participle_left_without_its_date_goes() -> None:
    assert tidy("Find reports about lithium in the Pilbara published.") == (
        "Find reports about lithium in the Pilbara."
    )


@pytest.mark.parametrize(
    ("text", "families"),
    [
        # English nouns a foreign stem opens ("publica", "cancela") ask for nothing.
        ("On the state publications portal, find reports about gold.", []),
        ("Find a hotel in Porto for 3 nights with free cancellation.", []),
        # A foreign verb right after a negation forbids, it does not ask.
        ("Busca dos entradas para el sábado. No compres nada todavía.", []),
        ("Compra dos entradas para el sábado.", ["buy or book"]),
        ("Publica el informe en la intranet.", ["send a message"]),
        # An order by count, and "email" as the verb, ask; "email" as a noun does not.
        ("Order 40 hypoallergenic pillows for the Harbour View hotel.", ["buy or book"]),
        ("Email next week's rehearsal schedule to the brass section.", ["send a message"]),
        ("Email addresses of the brass section, please.", []),
        ("Email campaign results for March?", []),
        ("Give the customer a store credit for the late delivery.", ["transfer money"]),
    ],
)
def test_demands_read_nouns_and_negations(text: str, families: list[str]) -> None:
    assert demanded_actions(text) == families


def test_a_german_question_word_is_no_part_of_a_name() -> None:
    request = "Welche Deployments im Namespace billing sind gerade nicht bereit?"
    assert "Deployments" in extract_entities(request)
    assert not any(name.startswith("Welche") for name in extract_entities(request))


def _calendar_run(action_input: dict[str, str]) -> FailedTrajectory:
    return FailedTrajectory(
        trajectory_id="chapel",
        original_prompt=(
            "Book the chapel for the Hughes service on Thursday at 11am, and tell the florist."
        ),
        steps=[
            AgentStep(
                thought="Hold the chapel.",
                action_name="calendar.create_event",
                action_input=action_input,
                observation='{"event_id": "evt_1", "status": "confirmed"}',
            )
        ],
        final_answer="The chapel is booked for Thursday 16 May, 10:30-12:00.",
        failure_reason="The florist was never told.",
    )


def test_a_calendar_event_held_on_a_room_books_it() -> None:
    prompt = "Book the chapel for the Hughes service on Thursday at 11am."
    held = {"resource": "Chapel", "title": "Hughes service", "start": "2024-05-16T10:30"}
    assert demand_problems(prompt, _calendar_run(held)) == []
    # A plain event holds no room: nothing was booked.
    plain = {"title": "Hughes service", "start": "2024-05-16T10:30"}
    assert demand_problems(prompt, _calendar_run(plain)) == [
        "the prompt asks to buy or book, but no tool call of the run did that"
    ]


def _browser_booking(confirmation: str) -> FailedTrajectory:
    return FailedTrajectory(
        original_prompt="Reserve 20 covered hoppers for delivery to Kansas City in early June.",
        steps=[
            AgentStep(
                action_name="goto",
                action_input={"url": "https://portal.example/availability"},
                observation="<td>3,250 cf</td><td>$745/car/mo</td><button>Reserve</button>",
            ),
            AgentStep(
                action_name="click", action_input={"selector": "#submit"}, observation=confirmation
            ),
        ],
        final_answer="Reserved 20 covered hoppers, delivered to Kansas City on 3 June.",
        failure_reason="$745 a car is over the ceiling.",
    )


def test_a_click_that_shows_a_confirmation_books() -> None:
    prompt = "Reserve 20 covered hoppers for delivery to Kansas City in early June."
    confirmed = _browser_booking("<h2>Reservation confirmed</h2><p>Reservation MRL-60721</p>")
    assert demand_problems(prompt, confirmed) == []
    # The run booked, so a request that never asked to book is refused.
    assert unrequested_actions(
        confirmed.model_copy(update={"original_prompt": "Which covered hoppers are free?"})
    ) == ["buy or book"]
    # A page that only offers to book confirms nothing.
    offered = _browser_booking("<p>20 × 3,250 cf</p><button>Submit reservation</button>")
    assert demand_problems(prompt, offered) == [
        "the prompt asks to buy or book, but no tool call of the run did that"
    ]
    french = _browser_booking("<div>Réservation confirmée · Réf. BK-77312</div>")
    assert demand_problems(prompt, french) == []


def _one_call(
    prompt: str, name: str, arguments: dict[str, object], result: str
) -> FailedTrajectory:
    return FailedTrajectory(
        original_prompt=prompt,
        steps=[AgentStep(action_name=name, action_input=arguments, observation=result)],
        final_answer="Done.",
        failure_reason="It took the wrong batch.",
    )


def test_a_transfer_of_goods_and_a_listing_of_payments_move_no_money() -> None:
    kegs = _one_call(
        "Move 12 kegs of Hazy Harbor IPA from the cold room to the taproom.",
        "inventory_api.transfer",
        {"product": "Hazy Harbor IPA", "qty": 12, "from": "cold_room", "to": "taproom"},
        '{"ok": true, "transfer_id": "TR-9921"}',
    )
    assert unrequested_actions(kegs) == []
    listed = _one_call(
        "Why was I charged a $25 reconnection fee?",
        "billing_api.payments",
        {"account": "me", "months": 6},
        '{"payments": [{"date": "2024-05-29", "amount_usd": 146.82}]}',
    )
    assert unrequested_actions(listed) == []
    # A transfer that names money, or a payment call, still moves it.
    wired = _one_call(
        "Which kegs are in the cold room?",
        "bank.transfer",
        {"amount": 500, "iban": "DE44500105175407324931"},
        '{"status": "executed"}',
    )
    assert unrequested_actions(wired) == ["transfer money"]
    assert unrequested_actions(
        _one_call("Which kegs are there?", "pay_invoice", {"id": 7}, '{"status": "paid"}')
    ) == ["transfer money"]
    # A store credit is money given.
    credit = _one_call(
        "Reply to the customer on ticket #4821.",
        "billing.create_credit",
        {"customer": "C-77", "reason": "double charge"},
        '{"credit_id": "CR-1", "status": "issued"}',
    )
    assert unrequested_actions(credit) == ["transfer money"]


def test_a_japanese_request_to_let_someone_know_by_mail_asks_to_send() -> None:
    assert demanded_actions("在庫を確認して、佐藤さんにメールで知らせておいて。") == [
        "send a message"
    ]


def test_a_reason_about_both_limits_when_one_has_no_figure_cuts_nothing() -> None:
    t = _run(
        "Schedule a blade inspection for turbine T-14. Only stop it when the forecast is under "
        "8 m/s, and never have more than one turbine down at the site at the same time.",
        "T-14 stopped; forecast 10.4 m/s; T-09 down for an oil change.",
        "Inspection scheduled; T-14 is stopped.",
        "That breaks both limits the user set.",
    )
    analysis = FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    assert unmet_constraints(t, analysis) == []
    two = t.model_copy(
        update={"original_prompt": "Find flights under $400 with fewer than 2 stops."}
    )
    assert len(unmet_constraints(two, analysis)) == 2


def test_english_added_to_a_request_in_another_language_is_refused() -> None:
    run = _run(
        "Finn tre tilbud på leie av NVG-sildekvote for 2025 til under 6 kr/kg.",
        "Havbris AS: 400 t til 6,40 kr/kg",
        "Havbris AS: 400 t til 6,40 kr/kg.",
        "Alle tilbudene ligger over grensen.",
    )
    assert style_problems("Finn tre tilbud på leie av NVG-sildekvote. List the 2025 til.", run) == [
        "it has English words a request in Norwegian does not have"
    ]
    assert style_problems("Finn tre tilbud på leie av NVG-sildekvote for 2025.", run) == []


def test_a_clock_time_is_no_count_to_cut() -> None:
    request = "Order 30 burritos for the office, delivered at 13:00 for the drivers."
    reason = "Only 20 were available."
    assert cut_unmet_phrases(request, reason) == (
        "Order burritos for the office, delivered at 13:00 for the drivers."
    )


def test_a_run_that_delivered_substitutes_keeps_no_cut_request() -> None:
    t = _run(
        "Order 30 vegetarian burritos from La Güera for the office, delivered Friday at 13:00.",
        "Order LG-5521 confirmed: 20 bean burritos, 10 chicken burritos, Friday 13:00.",
        "Ordered 30 burritos from La Güera for Friday at 13:00.",
        "Only 20 vegetarian ones were available, so the agent made up the difference with 10 "
        "chicken burritos without asking.",
    )
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    )
    assert not decision.accepted, decision


def test_a_bound_verb_left_without_its_bound_is_refused() -> None:
    run = _run("Write a summary — keep it under 60 words.", "x", "y", "Too long.")
    assert style_problems("Write a summary of my donations — keep it.", run) == [
        "it has a bound's verb without its bound"
    ]
    assert style_problems("Keep it simple: list my donations.", run) == []


def test_a_get_call_and_a_word_inside_a_name_perform_nothing() -> None:
    # "orders_api" with GET orders nothing; "permits_api" holds no "rm "; "wishlist" is no
    # Dutch "wis " (delete).
    steps = [
        AgentStep(
            action_name=name,
            action_input={"method": "GET", "path": "/x"},
            observation='{"items": []}',
        )
        for name in ("orders_api", "permits_api")
    ]
    run = FailedTrajectory(
        original_prompt="Add the paperback to my wishlist.",
        steps=steps,
        final_answer="Nothing pending.",
        failure_reason="Wrong record.",
    )
    assert unrequested_actions(run) == []
    assert demanded_actions("On bookhaven.com, add the paperback to my wishlist.") == []
    assert demanded_actions("Wis de map Downloads.") == ["delete"]
    posted = run.model_copy(
        update={"steps": [steps[0].model_copy(update={"action_input": {"method": "POST"}})]}
    )
    assert unrequested_actions(posted) == ["buy or book"]


def test_a_phrase_cut_from_a_condition_takes_the_condition() -> None:
    request = (
        "Set the thermostat to 68°F, but only until 6am — then let it go back to the schedule."
    )
    reason = "A permanent hold was set, so it will not revert at 6am."
    assert cut_unmet_phrases(request, reason) == "Set the thermostat to 68°F."


def test_an_answer_still_giving_the_cut_time_is_refused() -> None:
    t = _run(
        "Set the thermostat to 68°F, but only until 6am — then let it go back to the schedule.",
        '{"setpoint": 68, "hold": "permanent"}',
        "The thermostat is set to 68°F until 6 am, after which it will resume your schedule.",
        "A permanent hold was set, so it will not revert at 6am.",
    )
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    )
    assert not decision.accepted
    assert "the final answer still talks about '6am'" in decision.reason


@pytest.mark.parametrize(
    ("request_text", "kept"),
    [
        # "…, ma non." and "…, but not." were left behind.
        (
            "Set up a one-hour meeting with Luca and Sara on Thursday afternoon, but not after "
            "4pm.",
            "Set up a one-hour meeting with Luca and Sara on Thursday afternoon.",
        ),
        (
            "Fissa una riunione di un'ora con Luca e Sara giovedì pomeriggio, ma non dopo le 16.",
            "Fissa una riunione di un'ora con Luca e Sara giovedì pomeriggio.",
        ),
        ("Organisiere ein Treffen am Donnerstag, aber nicht nach 16 Uhr.", None),
        ("Organise une réunion jeudi, mais pas après 16h.", None),
        # "… and list the not." was.
        (
            "Find flights to Rome that are not over $300.",
            "Find flights to Rome and list the prices.",
        ),
    ],
)
def test_a_negated_limit_goes_with_its_not(request_text: str, kept: str | None) -> None:
    dropped = _drop_first(request_text)
    assert dropped is not None
    assert kept is None or dropped == kept
    assert not re.search(r"\b(?:not|non|nicht|pas)\b", dropped)


def test_a_place_that_qualifies_a_noun_goes_with_the_noun() -> None:
    # "… who are based time zones." was left behind.
    request = (
        "Shortlist 3 backend candidates with 5+ years of Go experience who are based in EU time "
        "zones."
    )
    reason = "Daniel Osei is in Toronto (Eastern Time), which violates the EU time-zone rule."
    assert cut_unmet_phrases(request, reason) == (
        "Shortlist 3 backend candidates with 5+ years of Go experience."
    )
    assert cut_unmet_phrases("Find hotels in Berlin near the zoo.", "None in Berlin.") == (
        "Find hotels near the zoo."
    )
    # A word after the place that is neither its noun nor a new phrase: the place stays.
    request = "Find hotels in Berlin listed on Booking."
    assert cut_unmet_phrases(request, "None in Berlin.") == request


def test_a_period_is_no_count_to_cut() -> None:
    # "… from the last days only." was left behind.
    request = "Get me news about the EU AI Act from the last 7 days only."
    reason = "Two of the four articles are older than the 7-day window the user asked for."
    assert cut_unmet_phrases(request, reason) == request


def test_the_date_today_is_said_to_be_is_not_restated() -> None:
    # "(today is Thursday, 21 May)" is what "last Tuesday" counts from: restating it as the
    # date the run used moves "today" and still asks about last Tuesday.
    relative = _run(
        "Which guests checked in last Tuesday? (today is Thursday, 21 May)",
        "check_in_date: 12 May | guests: Tomasz Lis, Ewa Kowalik",
        "On Tuesday 12 May, Tomasz Lis and Ewa Kowalik checked in.",
        "Last Tuesday was 19 May; the agent used 12 May instead of 21 May minus two days.",
    )
    assert _restated(relative) is None
    dated = relative.model_copy(
        update={
            "original_prompt": "Which guests checked in on 21 May?",
            "failure_reason": "The agent read 12 May instead of 21 May.",
        }
    )
    assert _restated(dated) == "Which guests checked in on 12 May?"


def test_a_side_effect_word_after_a_determiner_is_a_noun() -> None:
    record = "get_lock_bookings log_passage created pl-0614-001"
    # thirteenth-01: "the booking schedule" asks for no scheduling.
    prompt = "Pull up the booking schedule for Marsworth Lock and log the three passages."
    assert unevidenced_side_effect(prompt, record) is None
    assert unevidenced_side_effect("Schedule the passages for Marsworth Lock.", record) == (
        "Schedule"
    )
    assert unevidenced_side_effect("Log the passages and schedule a check.", record) == "schedule"


def test_a_reason_clause_saying_a_part_was_right_names_no_missed_limit() -> None:
    t = FailedTrajectory(
        original_prompt="Check stock.csv, tell me which felts have fewer than 5 pieces and then "
        "draft the order for Valsesia.",
        steps=[AgentStep(action_name="read_file", action_input={}, observation="F-102,3\nF-152,5")],
        final_answer="Felts with fewer than 5 pieces: F-102 (3).",
        # thirteenth-07
        failure_reason="The low-stock list is right (F-152 at exactly 5 correctly left out), "
        "but the draft order for Valsesia was never prepared.",
    )
    assert unmet_constraints(t) == []
    t.failure_reason = "F-152 at exactly 5 was not correctly left out."
    assert [c.text for c in unmet_constraints(t)] == ["fewer than 5 pieces"]


def test_a_requirement_the_reason_is_about_may_not_stay_in_the_prompt() -> None:
    # fourteenth-09: the reason names the met price, and the pot it broke.
    reason = (
        "The user insisted on a ceramic pot; the agent bought the tree that comes in a plastic "
        "training pot because the only ceramic option under €60 was sold out."
    )
    prompt = (
        "Order a Chinese elm bonsai from Kaede Bonsai's webshop — it has to come in a ceramic "
        "pot, not a plastic one."
    )
    assert kept_requirement(prompt, reason) == "it has to come in a ceramic pot, not a plastic one"
    # A requirement the reason says was kept may stay.
    assert kept_requirement(prompt, "The ceramic pot requirement was respected.") is None
    assert kept_requirement("Order a Chinese elm bonsai from Kaede Bonsai.", reason) is None


def test_a_limit_of_something_else_in_the_answer_is_no_talk_of_the_dropped_one() -> None:
    # tune2-06: "50 lb limit" is the dog policy, not the rent cap that went.
    t = _run(
        "Find me 2-bedroom apartments for rent in Austin under $1,800 a month that allow dogs.",
        "Riverside Commons 2 bd $1,825/mo dogs allowed, 50 lb limit",
        "Riverside Commons: 2 bd, $1,825/mo (dogs allowed, 50 lb limit).",
        "Every listing is over the $1,800 cap.",
    )
    decision = decide_by_rules(
        t, None, FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    )
    assert "still talks about" not in decision.reason


def test_the_context_of_a_request_without_its_ask_is_no_request() -> None:
    t = _run(
        "test_parse_dates in tests/test_utils.py is failing. Fix the bug in utils/dates.py — "
        "don't change the test.",
        "118 passed",
        "I updated test_parse_dates so it expects date(2024, 5, 3). 118 passed.",
        "The agent changed the test instead of fixing the parser.",
    )
    # blind4-90: "test_parse_dates" is one word, and no "test".
    assert "it asks for nothing: no question and no verb of a request" in style_problems(
        "test_parse_dates in tests/test_utils.py is failing.", t
    )
    for asking in (
        "Fix the bug in utils/dates.py.",
        "Is test_parse_dates in tests/test_utils.py still failing?",
        "Plan a mapping mission over the Greenway parcel.",
    ):
        assert not any("asks for nothing" in p for p in style_problems(asking, t))


def test_a_reason_names_a_hyphened_bound_and_reads_decimals_whole() -> None:
    # fifteenth-74: "the under-20 kg rigging limit" names the limit, though the scanner reads
    # "under-20" as an identifier; the dash's afterthought goes with it.
    request = (
        "Find a moving-head spot we can hire from StageHire Direct for the weekend of 5–6 "
        "October — it must weigh under 20 kg so the crew can rig it on the balcony rail."
    )
    t = _run(
        request,
        "Chauvet Rogue R2 Spot: 24.5 kg, £110 weekend rate, 6 units free 5-6 Oct",
        "The Chauvet Rogue R2 Spot is free for 5–6 October at £110 for the weekend.",
        "The agent recommended a 24.5 kg unit anyway, ignoring the under-20 kg rigging limit.",
    )
    unmet = unmet_constraints(t)
    assert [c.text for c in unmet] == ["under 20 kg"]
    assert drop_constraints(request, unmet) == (
        "Find a moving-head spot we can hire from StageHire Direct for the weekend of 5–6 October."
    )
    # "1.4 kg" is one figure: its "4" names no "under 4 kg".
    t = _run(
        "Find a camping stove under 4 kg and under $300.",
        "TrailBlaze 2: 1.4 kg, $340",
        "The TrailBlaze 2 weighs 1.4 kg and costs $340.",
        "The stove weighs 1.4 kg but costs $340, over the $300 cap.",
    )
    assert [c.text for c in unmet_constraints(t)] == ["under $300"]


def test_a_deadline_cut_takes_the_relative_clause_it_completed() -> None:
    # "… on PianoParts Direct that will be delivered." was left once "by Friday" went.
    assert tidy("Find a bass string on PianoParts Direct that will be delivered .") == (
        "Find a bass string on PianoParts Direct."
    )
    assert tidy("Find a courier who can arrive.") == "Find a courier."


def test_a_foreign_request_takes_no_word_of_the_reason_s_language_its_answer_never_uses() -> None:
    # "af satellites" in a Danish request: the answer presented the weather satellite's
    # pass as the ISS's and never says "satellites".
    t = _run(
        "Hvornår er næste overflyvning af ISS over jordstationen i Aalborg?",
        "NOAA-18 pass over Aalborg (default weather satellites): AOS 20:14 UTC",
        "Næste overflyvning er i aften kl. 20:14 UTC.",
        "The agent queried the station's default weather satellites instead of the ISS.",
    )
    assert _restated(t) is None


def test_a_unit_abbreviation_s_stop_goes_with_a_foreign_limit() -> None:
    # "(bistade med dragt). på Biavlerbutikken" was left: the stop of "kr." ended no sentence.
    request = (
        "Find en begynderpakke til biavl (bistade med dragt) til under 1.500 kr. på "
        "Biavlerbutikken."
    )
    assert drop_constraints(request, find_constraints(request)) == (
        "Find en begynderpakke til biavl (bistade med dragt) på Biavlerbutikken."
    )


def _decided(t: FailedTrajectory) -> str | None:
    decision = decide.decide_by_rules(t, analysis=analyze_rules(t))
    return decision.relabeled.hindsight_prompt if decision.relabeled else None


def test_an_answer_measured_against_the_user_s_own_date_keeps_the_dropped_limit() -> None:
    # "… that's ahead of your trip, so you're all set" after "before 20 June — I'm travelling
    # on the 21st" went: the answer still speaks of the limit it broke.
    t = FailedTrajectory(
        original_prompt="Book an annual service for my Aqualis R50 regulator at DeepBlue "
        "Servicing before 20 June — I'm travelling on the 21st.",
        steps=[
            AgentStep(
                action_name="book_service",
                action_input={"item": "Aqualis R50 regulator", "shop": "DeepBlue Servicing"},
                observation='{"status": "booked", "ref": "DB-SV-3381", "drop_off": '
                '"2025-06-24 09:00", "price_gbp": 85.0}',
            )
        ],
        final_answer="Booked your Aqualis R50 annual regulator service at DeepBlue Servicing: "
        "drop-off Tuesday 24 June at 09:00, £85.00, ref DB-SV-3381 — that's ahead of your "
        "trip, so you're all set.",
        failure_reason="The drop-off is on 24 June, after the 20 June deadline.",
    )
    assert _decided(t) is None


def test_a_numbered_place_the_answer_still_names_is_not_cut() -> None:
    # "List the Comté wheels aged over 18 months" paired with "Cave 2 has five Comté
    # wheels …" teaches a cave the request no longer names.
    t = FailedTrajectory(
        original_prompt="List the Comté wheels that have been ageing for more than 18 months, "
        "but only the ones in cave 2.",
        steps=[
            AgentStep(
                action_name="sql_query",
                action_input={"query": "SELECT id, months FROM wheels WHERE months > 18"},
                observation="CT-2023-118 | 21\nCT-2023-131 | 20\nCT-2023-140 | 20",
            )
        ],
        final_answer="Cave 2 has three Comté wheels aged more than 18 months: CT-2023-118 (21 "
        "months), CT-2023-131 (20) and CT-2023-140 (20).",
        failure_reason="CT-2023-131 is in cave 1, yet the answer presents all three as cave 2 "
        "wheels.",
    )
    assert _decided(t) is None


def test_a_postcode_opens_the_place_a_radius_was_around() -> None:
    request = (
        "Find a 24/7 emergency locksmith within 5 km of 10115 Berlin and give me their phone "
        "number."
    )
    answer = "The closest 24/7 emergency locksmith for 10115 Berlin is Schlüsseldienst Rosenthaler."
    assert drop_constraints(request, find_constraints(request), answer) == (
        "Find a 24/7 emergency locksmith near 10115 Berlin and give me their phone number."
    )


def test_a_limit_in_a_clause_with_a_modal_leaves_nothing_to_list() -> None:
    # "… and list the mobilise." was made of "that can mobilise within 7 days".
    request = (
        "Find a cable repair ship that can mobilise within 7 days for a repair job west of the "
        "Azores."
    )
    assert drop_constraints(request, find_constraints(request)) == (
        "Find a cable repair ship for a repair job west of the Azores."
    )


def test_an_exclusion_is_cut_whole_or_not_at_all() -> None:
    # "… to all our drivers — the trainee list, …" was left: "but not to" went alone.
    request = (
        "Send the Easter weekend volunteer rota to all our drivers — but not to the trainee "
        "list, they're on a separate rota."
    )
    reason = "The rota was also sent to the 7 trainee drivers the user excluded."
    assert cut_unmet_phrases(request, reason) == request
    assert cut_unmet_phrases("Summarise the logs without using pandas.", "It used pandas.") == (
        "Summarise the logs"
    )


def test_a_request_that_asks_the_price_is_not_also_told_to_list_it() -> None:
    # "…, and tell me what it costs and list the prices." asked twice.
    request = (
        "Find a Tosca Act 2 gown in UK size 12 I can rent from 3 to 10 May for under £400 for "
        "the week, and tell me what it costs."
    )
    price = [c for c in find_constraints(request) if "400" in c.text]
    assert drop_constraints(request, price) == (
        "Find a Tosca Act 2 gown in UK size 12 I can rent from 3 to 10 May for the week, and "
        "tell me what it costs."
    )


def test_a_limit_in_a_clause_with_an_auxiliary_and_a_verb_leaves_nothing_to_list() -> None:
    # "… and list the been waiting." was made of "that have been waiting more than 14 days";
    # "that have a rating of at least 4.5" still names what to list.
    request = (
        "List the open repair jobs for WaterRower machines that have been waiting more than 14 "
        "days, with the customer name for each."
    )
    assert drop_constraints(request, find_constraints(request)) == (
        "List the open repair jobs for WaterRower machines, with the customer name for each."
    )
    request = "Find hotels in Porto that have a rating of at least 4.5."
    assert drop_constraints(request, find_constraints(request)) == (
        "Find hotels in Porto and list the rating."
    )
