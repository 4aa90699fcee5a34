"""Rule mode's drop_action: the request without the one later action the run failed."""

from __future__ import annotations

import pytest

from agenther.demands import unrequested_actions
from agenther.models import AgentStep, FailedTrajectory
from agenther.rules.actions import split_actions
from agenther.rules.clauses import without_failed_action, without_missing_detail
from agenther.rules.cut_repair import sentence
from agenther.rules.drop_entity import without_missing_entity
from agenther.rules.negation import kept_unmet_things
from agenther.rules.vocabulary import contains_words

CAR = (
    "Reserve a compact car at Denver International Airport from June 12 to June 15 and add a "
    "child seat."
)
RESERVED = "Your compact car is reserved: Enterprise, pick-up June 12 at 10:00. Total $198.40."


def test_the_failed_later_action_is_dropped() -> None:
    kept = without_failed_action(
        CAR, "Child seat was never added (extras list empty).", RESERVED, RESERVED
    )
    assert kept == "Reserve a compact car at Denver International Airport from June 12 to June 15."


def test_an_aside_keeps_no_dangling_dash() -> None:
    request = (
        "Compare Jalen Brunson and Tyrese Haliburton this season — points and assists per "
        "game — and tell me who has more triple-doubles."
    )
    answer = "Brunson averaged 28.7 points and 6.7 assists; Haliburton 20.1 and 10.9."
    kept = without_failed_action(request, "Triple-double counts were never fetched.", answer, "")
    assert kept == (
        "Compare Jalen Brunson and Tyrese Haliburton this season — points and assists per game."
    )


@pytest.mark.parametrize(
    ("request_text", "reason", "expected"),
    [
        # "What's the status of order 9042? If it's printed." was left behind: the condition
        # goes with the action it conditioned.
        (
            "What's the status of order 9042? If it's printed, book the courier to collect it "
            "tomorrow morning.",
            "The courier booking failed with 500/503 and was never made.",
            "What's the status of order 9042?",
        ),
        # "archived" names "archive it": ``stem`` alone gives "archiv" and "archive".
        (
            "Find the shipping notice from Norvik, forward it to ops@acme.io, and then archive it.",
            "The notice was never archived; the run stops after the forward.",
            "Find the shipping notice from Norvik and forward it to ops@acme.io.",
        ),
        # "non è stato scaricato": "stato" is the auxiliary, not the status the user asked
        # for; "scaricato" and "scaricami" are one verb.
        (
            "Sul portale controlla lo stato del mio accredito stampa e scaricami il badge in PDF.",
            "Il download del badge restituisce 404; il PDF non è stato scaricato.",
            "Sul portale controlla lo stato del mio accredito stampa.",
        ),
        # "n'a pas été envoyé": the elided "ne" and "pas" negate what follows.
        (
            "Trouve les horaires de la piscine Molitor et télécharge le planning du mois.",
            "Les horaires sont justes, mais le planning n'a pas été téléchargé.",
            "Trouve les horaires de la piscine Molitor.",
        ),
        # fifteenth-43: "text" starts an action; "neither … was texted" negates; the bookings
        # that "went through" and "both" name no failed action.
        (
            "Book shearing next week for Hillside Farm (420 ewes) and Brook Farm (180 ewes), and "
            "text both farmers the dates.",
            "Bookings went through, but neither farmer was texted; the agent finished after the "
            "second booking.",
            "Book shearing next week for Hillside Farm (420 ewes) and Brook Farm (180 ewes).",
        ),
        # "Record", which cuts no request, still makes the first part an action of its own.
        (
            "Record today's milk yields for groups A, B and C, and flag any cow that gave less "
            "than 15 litres.",
            "Yields were logged, but no cow under 15 litres was checked or flagged.",
            "Record today's milk yields for groups A, B and C.",
        ),
        # A list closed by the joiner is closed one item earlier once its last item goes.
        (
            "Donne-moi les coordonnées GPS des gares de Lyon Part-Dieu, Marseille "
            "Saint-Charles, Lille Flandres et Nantes.",
            "Run stopped at the step limit after 3 of 4 stations; Nantes is missing.",
            "Donne-moi les coordonnées GPS des gares de Lyon Part-Dieu, Marseille "
            "Saint-Charles et Lille Flandres.",
        ),
        # A kept quotation that ends on its stop ends the request (eleventh-40's "….“.").
        (
            "Change the show description to “Every Thursday from 22:00.” and upload the new logo "
            "from ~/logo.png.",
            "The logo was never uploaded.",
            "Change the show description to “Every Thursday from 22:00.”",
        ),
        # Czech ", a" (twentieth-27) and Turkish "ve" (eighteenth-44) join a later action.
        (
            "Najdi všechny naše houbařské vycházky v září 2024, které mají ještě volná místa, a "
            "pošli mi jejich seznam e-mailem.",
            "Seznam nebyl odeslán e-mailem.",
            "Najdi všechny naše houbařské vycházky v září 2024, které mají ještě volná místa.",
        ),
        (
            "Yarın saat 10:00'da halı teslim alımı için randevu oluştur ve kendisine SMS ile onay "
            "gönder.",
            "SMS onayı gönderilmedi.",
            "Yarın saat 10:00'da halı teslim alımı için randevu oluştur.",
        ),
        # Japanese: a "-te" form's comma or a sentence's "それと" joins a later action.
        (
            "マグロの在庫を確認して、足りなければ豊洲の業者に発注しておいて。",
            "豊洲の業者への発注がされていない。",
            "マグロの在庫を確認して。",
        ),
        (
            "今日の源泉温度の記録を見せて。それと、そのデータをCSVで共有ドライブに保存しておいて。",
            "CSV upload to the shared drive failed twice; file not saved.",
            "今日の源泉温度の記録を見せて。",
        ),
        # Chinese: "，然后" joins a later action; two characters in a row are a word.
        (
            "帮我查一下下学期日语N3晚班还有几个名额，然后给王磊报名。",
            "报名接口两次都返回500错误，王磊没有报上名。",
            "帮我查一下下学期日语N3晚班还有几个名额。",
        ),
    ],
)
def test_the_failed_action_the_reason_names_goes_cleanly(
    request_text: str, reason: str, expected: str
) -> None:
    # An answer that speaks of none of the dropped actions.
    answer = "Ouvert 10h–20h. Approvato il 5 agosto. Order 9042 is packed. Norvik's notice."
    assert without_failed_action(request_text, reason, answer, answer) == expected


def test_actions_that_act_on_the_dropped_ones_result_go_with_it() -> None:
    request = (
        "Scale the checkout deployment in staging to 5 replicas, then kick off the smoke-test "
        "pipeline and tell me whether it passes."
    )
    answer = "checkout in staging is now scaled to 5 replicas, all Running."
    reason = "Smoke-test pipeline was never triggered; the run stopped after scaling."
    kept = without_failed_action(request, reason, answer, answer)
    assert kept == "Scale the checkout deployment in staging to 5 replicas."


def test_the_answer_may_name_what_the_observations_show() -> None:
    request = "Check the status of my most recent order and start a return for the blender in it."
    reason = "Return was not started (RMA page 404)."
    answer = "Order #187 is Complete. It contained a Ninja Blender ($89.99)."
    observed = "order #187: status complete; items: ninja blender $89.99"
    assert without_failed_action(request, reason, answer, "") is None
    kept = without_failed_action(request, reason, answer, observed)
    assert kept == "Check the status of my most recent order."


def test_an_answer_saying_the_dropped_part_was_not_done_speaks_of_it() -> None:
    # twenty-first-60: the page offered the wash, so its words are observed; the answer says
    # it was left out.
    request = "Reserva estacionamento no parque P3 de 10 a 17 de julho e junta a lavagem exterior."
    reason = "Lavagem exterior não adicionada."
    observed = "Extras: [ ] Lavagem exterior (+14,00 €). Reserva confirmada LIS-P3-55102."
    denied = "Feito: P3, código LIS-P3-55102. A lavagem exterior não ficou incluída."
    assert without_failed_action(request, reason, denied, observed) is None
    # A negation far from the dropped part's words says nothing of it.
    listed = (
        "Feito: P3 (LIS-P3-55102); lavagem exterior disponível junto à entrada, hoje quase sem "
        "fila."
    )
    assert without_failed_action(request, reason, listed, observed) == (
        "Reserva estacionamento no parque P3 de 10 a 17 de julho."
    )
    # One of its words beside a negation names a place, not the part (eighth-75).
    lifts = "Donne-moi l'état des remontées ce matin, puis programme un damage de la piste Rhodos."
    state = "Télécabine Bellecôte : ouverte. Télésiège Rhodos : ouvert, sans attente."
    assert without_failed_action(lifts, "Aucun damage programmé.", state, state) == (
        "Donne-moi l'état des remontées ce matin."
    )


def test_an_answer_using_a_dropped_verb_claims_that_action() -> None:
    request = "Export the report to a CSV and email it to Dana."
    reason = "The email to Dana was never sent."
    assert without_failed_action(request, reason, "Exported and emailed.", "") is None


def test_a_verb_the_kept_request_uses_too_is_no_claim() -> None:
    request = "Add a last_login column, backfill it from sessions, and add an index."
    reason = "No index was created."
    answer = "Added last_login and backfilled 184220 users."
    kept = without_failed_action(request, reason, answer, "")
    assert kept == "Add a last_login column and backfill it from sessions."


RECIPE = (
    "Find me a chicken tikka masala recipe for 4 people, with the ingredient list and the "
    "calories per serving."
)


@pytest.mark.parametrize(
    ("request_text", "reason", "expected"),
    [
        (RECIPE, "Calories per serving were never obtained (nutrition API 429).",
         "Find me a chicken tikka masala recipe for 4 people, with the ingredient list."),
        ("List the top 5 products by units sold in Q3 2024, together with each product's "
         "supplier name.", "Supplier names missing: the join query failed.",
         "List the top 5 products by units sold in Q3 2024."),
    ],
)  # fmt: skip
def test_a_missing_detail_is_dropped(request_text: str, reason: str, expected: str) -> None:
    answer = "Here it is: 1. Tikka masala for 4 ... 5. Cable — 4,812 units"
    assert without_missing_detail(request_text, reason, answer, "") == expected


@pytest.mark.parametrize(
    ("reason", "answer"),
    [
        # The answer speaks of the dropped detail, or admits the failure.
        ("Calories per serving were never obtained.", "Recipe below; about 450 calories each."),
        ("Calories per serving were never obtained.", "I could not get the nutrition data."),
        # The reason also names the main request, or no detail at all.
        ("The recipe was not for 4 people and calories were missing.", "Recipe below."),
        ("The recipe site timed out.", "Recipe below."),
    ],
)
def test_no_detail_is_dropped_unless_cleanly(reason: str, answer: str) -> None:
    assert without_missing_detail(RECIPE, reason, answer, "") is None


@pytest.mark.parametrize(
    ("request_text", "actions"),
    [
        # "sign" gets somewhere too, and a later action may start with it.
        (
            "Add the blue kettle to my wishlist, then sign me up for the newsletter",
            ["Add the blue kettle to my wishlist", "sign me up for the newsletter"],
        ),
        # "then" before a noun phrase: the second action's verb is the first one's.
        (
            "Find a rental car in Porto for 3 to 6 May, and then a hotel near Ribeira",
            ["Find a rental car in Porto for 3 to 6 May", "a hotel near Ribeira"],
        ),
        # Without "then" the noun phrase is the first action's second object.
        (
            "Find a rental car and a hotel in Porto",
            ["Find a rental car and a hotel in Porto"],
        ),
        # In Spanish "en" is "in", not the Dutch "and": only the request's own conjunctions cut.
        (
            "Pídeme cita en la oficina de Chamberí el martes y luego descárgame el volante",
            ["Pídeme cita en la oficina de Chamberí el martes", "descárgame el volante"],
        ),
        (
            "Zoek de factuur van KPN in mijn mail en stuur hem naar Bas",
            ["Zoek de factuur van KPN in mijn mail", "stuur hem naar Bas"],
        ),
        # A verb made again ("regenerate") and a file put somewhere ("drop it in") are actions.
        (
            "Regenerate next week's driver duty roster PDF and email it to all drivers",
            ["Regenerate next week's driver duty roster PDF", "email it to all drivers"],
        ),
        (
            "Export the chair schedule to CSV and drop it in the nurses' shared folder",
            ["Export the chair schedule to CSV", "drop it in the nurses' shared folder"],
        ),
        # eighteenth-67: ordering again is an action; nineteenth-55: "Work out" opens one.
        (
            "On the portal, check what a bag of flour costs and reorder 20 bags",
            ["On the portal, check what a bag of flour costs", "reorder 20 bags"],
        ),
        (
            "Work out the mean depth for each transect in 2023 and compare it with 2022",
            ["Work out the mean depth for each transect in 2023", "compare it with 2022"],
        ),
    ],
)
def test_where_a_request_splits_into_actions(request_text: str, actions: list[str]) -> None:
    assert split_actions(request_text) == actions


@pytest.mark.parametrize(
    ("request_text", "actions"),
    [
        (
            "In Q2_sales.xlsx, add a Total column, then make a bar chart on a new sheet",
            ["In Q2_sales.xlsx, add a Total column", "make a bar chart on a new sheet"],
        ),
        # "Open" in a name is no verb: read as one, the lead-in became "Using NYC Open Data and
        # get the number ..." once the chart was dropped.
        (
            "Using NYC Open Data, get the monthly complaints and make a line chart",
            ["Using NYC Open Data, get the monthly complaints", "make a line chart"],
        ),
    ],
)
def test_a_lead_in_stays_with_the_first_action(request_text: str, actions: list[str]) -> None:
    assert split_actions(request_text) == actions


@pytest.mark.parametrize(
    ("request_text", "reason", "answer"),
    [
        # The answer speaks of the dropped action: it claims it, or says it failed.
        (CAR, "Child seat was never added.", RESERVED + " A child seat is included."),
        (CAR, "Child seat was never added.", RESERVED + " I could not add the extras."),
        # The reason names the first action: what follows may depend on it.
        ("Find the Q3 report and email the team.", "The Q3 report was not found.", "Done."),
        # A kept action refers back to the dropped one.
        ("Find the slides, export a PDF and send it to Dana.", "No PDF export.", "Sent."),
        # The reason speaks of two actions, or of none.
        ("Book the hotel and book the tour.", "Neither booking went through.", "Booked."),
        (CAR, "", RESERVED),
        # What is left only gets somewhere.
        ("Go through the PAY board backlog and archive stale tickets.", "Nothing archived.", "ok"),
        # One action: nothing to drop.
        ("Find a compact car in Denver under $30 a day.", "Nothing under $30.", "Found one."),
        # The kept action was done in part: "14 of the 40" counts short too.
        (
            "Move every applicant on the MSc Finance waitlist to 'admitted' and send each of "
            "them the standard offer email.",
            "Page 1 (14 of the 40 waitlisted applicants) was admitted before the run ended. "
            "The other 26 are still on the waitlist and nobody got an offer email, so 14 people "
            "are now marked admitted with no offer issued.",
            "Done.",
        ),
        (
            "Move every applicant on the MSc Finance waitlist to 'admitted' and send each of "
            "them the standard offer email.",
            "Only page 1 was admitted before the run ended. The other 26 are still on the "
            "waitlist and nobody got an offer email, so 14 people are now marked admitted with "
            "no offer issued.",
            "Done.",
        ),
        # A run that barely started did none of its actions, whatever the reason names.
        (
            "Reconcile the scale tickets against the hauler invoice and flag any load that "
            "differs.",
            "Barely started. It listed a folder, then stopped; no loads were compared.",
            "Here are the tickets.",
        ),
    ],
)
def test_no_request_when_dropping_is_not_clean(request_text: str, reason: str, answer: str) -> None:
    assert without_failed_action(request_text, reason, answer, "") is None


@pytest.mark.parametrize(
    ("request_text", "reason", "answer", "observed", "kept"),
    [
        pytest.param(
            "Plot monthly revenue from sales.csv as a line chart, save it to charts/rev.png and "
            "email it to the finance team.",
            "The chart was never emailed to the finance team (no email step performed).",
            "Saved a line chart of 2024 monthly revenue to charts/rev.png.",
            "Saved a line chart of 2024 monthly revenue to charts/rev.png.",
            "Plot monthly revenue from sales.csv as a line chart and save it to charts/rev.png.",
            id="chart names the first action too, only the e-mail did not happen",
        ),
        pytest.param(
            "Register the two new members (Ada Park, Ben Holt) at the club and add them to the "
            "Sunday beginners roster.",
            "Accounts were created, but none of the two were added to the Sunday beginners roster.",
            "Done: Ada Park (no. 301) and Ben Holt (no. 302) are registered.",
            "Done: Ada Park (no. 301) and Ben Holt (no. 302) are registered.",
            "Register the two new members (Ada Park, Ben Holt) at the club.",
            id="'none of the two' says who, not what failed",
        ),
        pytest.param(
            "Find the open faults for the Quay Tower lifts and assign the urgent one to Sam Lee.",
            "The faults were listed, but the urgent one was never assigned to Sam Lee.",
            "2 open faults: Lift 1 door sensor; Lift 2 stuck with one passenger inside.",
            "",  # nothing observed says "one": the answer's word is its own
            "Find the open faults for the Quay Tower lifts.",
            id="'one' in the answer is no word of the dropped action",
        ),
    ],
)
def test_the_negated_words_of_the_reason_name_the_failed_action(
    request_text: str, reason: str, answer: str, observed: str, kept: str
) -> None:
    assert without_failed_action(request_text, reason, answer, observed) == kept


def test_a_past_form_names_its_verb() -> None:
    request = "Draft the newsletter: gather the product updates, write it, and send it to the list."
    kept = without_failed_action(request, "The newsletter was never sent.", "Draft saved.", "")
    assert kept == "Draft the newsletter: gather the product updates and write it."


@pytest.mark.parametrize(
    "reason",
    [
        "The average basket size was never computed; the run stops after counting Lyon orders.",
        "Basket size not addressed; the run stops after counting Lyon orders.",
    ],
)
def test_the_subject_of_a_negated_passive_names_the_failed_part(reason: str) -> None:
    # "computed"/"addressed" name no action and "Lyon orders" names the kept one: what was not
    # computed tells them apart.
    request = "How many orders came from Lyon in May, and what was the average basket size?"
    answer = "There were 412 orders from Lyon in May."
    kept = without_failed_action(request, reason, answer, answer)
    assert kept == "How many orders came from Lyon in May?"


def test_a_partly_done_action_keeps_every_word_of_the_reason() -> None:
    # "no plot" is negated, but "only six months" says the kept action is partial too.
    request = "Give me monthly active users for each month of 2024 and plot the trend."
    reason = "Only six months returned and no plot was made."
    assert without_failed_action(request, reason, "Jan 120k ... Jun 150k", "") is None


def test_a_later_sentence_the_run_did_not_follow_is_dropped() -> None:
    request = (
        "Who designed the Millau Viaduct, when did it open, and how tall is it? Please take the "
        "height from the official website."
    )
    reason = (
        "The official website could not be fetched (404); the height was taken from Wikipedia "
        "instead."
    )
    answer = "Michel Virlogeux and Norman Foster; opened 16 December 2004; 336.4 m high."
    assert without_failed_action(request, reason, answer, "") == (
        "Who designed the Millau Viaduct, when did it open, and how tall is it?"
    )
    # Another language keeps its sentences: the answer checks read English only.
    assert without_failed_action("¿Qué tiempo hará? Reserva un hotel.", "hotel no", "", "") is None


def test_a_reason_more_about_a_kept_action_drops_nothing() -> None:
    # "no calendar event" is the negated phrase that names an action, but the reason is more
    # about the first one: two of its four speakers were never e-mailed.
    request = (
        "Send the workshop schedule to all four speakers — Amara, Joel, Wen and Ruth — and put "
        "the workshop on my calendar for June 12."
    )
    reason = "Wen and Ruth were never emailed and no calendar event was created."
    assert without_failed_action(request, reason, "Sent to Amara and Joel.", "") is None


def test_what_the_reason_says_the_run_did_not_use_is_named() -> None:
    request = "Get the top 5 customers. Run the query only on the read replica."
    reason = "The query ran on db-primary.internal, not the read replica."
    assert kept_unmet_things(request, reason) == ["replica"]
    # "No hub met the budget" says nothing was found, not that a hub was unwanted.
    assert kept_unmet_things("Find a USB-C hub.", "No hub met the under-$25 budget.") == []
    # twelfth-39: "the newsletter wasn't touched" says nothing was done to the newsletter.
    request = "Publish the draft posts and add them to Friday's newsletter."
    reason = "Two posts went live; the newsletter wasn't touched."
    assert kept_unmet_things(request, reason) == ["newsletter"]
    # "Reviews were not summarised" names the summarising, not the reviews the run found.
    request = "Search the web for Acme X200 reviews and list the results."
    assert kept_unmet_things(request, "Reviews were not summarised.") == []
    # Nor does an address the reason names make its domain a thing left undone.
    request = "On bookhaven.com, add 'The Glass Orchard' to my wishlist."
    reason = "The sign-up with jordan.lee@fastmail.com was never attempted."
    assert kept_unmet_things(request, reason) == []


def test_a_request_in_another_language_loses_the_part_the_reason_names() -> None:
    request = (
        "Such mir Direktflüge von München nach Lissabon am 12. Mai und ein Hotel in der "
        "Alfama für zwei Nächte."
    )
    answer = "Direktflüge München–Lissabon am 12. Mai: TAP TP 555, 10:35–12:55, 189 €."
    kept = without_failed_action(request, "Hotel search never done.", answer, answer.lower())
    assert kept == "Such mir Direktflüge von München nach Lissabon am 12. Mai."


def test_a_request_in_another_language_keeps_its_lead_in_and_commas() -> None:
    request = (
        "Trova l'ultima email di Giulia, inoltrala a marco@studio.it e poi archivia il thread."
    )
    answer = "Ho inoltrato l'email di Giulia a marco@studio.it."
    kept = without_failed_action(request, "The thread was never archived.", answer, "")
    assert kept == "Trova l'ultima email di Giulia, inoltrala a marco@studio.it."


def test_accented_words_and_elided_articles_name_the_failed_part() -> None:
    # "l'invitation" is "invitation", and "Réserve" no "serve": an English reason names the
    # French part it is about.
    request = (
        "Réserve une salle de réunion pour 8 personnes jeudi 16 mai de 14h à 16h, puis envoie "
        "l'invitation à l'équipe produit."
    )
    answer = "C'est réservé : salle Lumière, jeudi 16 mai de 14h à 16h, réf. BK-77312."
    reason = "The room is booked, but no invitation went to the product team."
    assert without_failed_action(request, reason, answer, "") == (
        "Réserve une salle de réunion pour 8 personnes jeudi 16 mai de 14h à 16h."
    )
    # A kept Spanish question stays one, whatever ended the request.
    request = "¿Qué tiempo hará el sábado en Sevilla y en Granada? Tengo que elegir una."
    answer = "En Sevilla, el sábado estará soleado, con una máxima de 34 °C."
    reason = "No se obtuvo el pronóstico de Granada (504)."
    assert without_failed_action(request, reason, answer, "") == (
        "¿Qué tiempo hará el sábado en Sevilla?"
    )


def test_a_part_in_another_language_that_only_gets_somewhere_is_no_request() -> None:
    request = (
        "Entra en la web del Ayuntamiento de Madrid y pídeme cita previa para el "
        "empadronamiento la semana que viene."
    )
    reason = "No pidió la cita de empadronamiento; se fue al programa de San Isidro."
    assert without_failed_action(request, reason, "Programa de San Isidro 2024: …", "") is None


def test_an_inflected_word_of_a_reason_in_another_language_names_its_action() -> None:
    # "testu" is the request's "test": both parts failed, so no part is kept as done.
    request = "Napraw parse_date w utils/dates.py. Dodaj test na ten przypadek i zrób commita."
    answer = "Poprawione: parse_date obsługuje teraz strefy czasowe. Wszystkie 42 testy przechodzą."
    reason = "Nie dodano testu dla strefy czasowej i nie zrobiono commita."
    assert without_failed_action(request, reason, answer, "") is None
    # Only a short ending inflects: "samenvatting" (a summary) is no form of "samen".
    request = "Zoek de mail van mijn verhuurder, vat samen wat er verandert en stuur het naar Bas."
    kept = without_failed_action(request, "Stopte na de samenvatting; Bas kreeg niets.", "", "")
    assert kept == "Zoek de mail van mijn verhuurder, vat samen wat er verandert."


def test_a_second_question_goes_when_the_reason_names_it() -> None:
    request = "What was our total revenue in 2023, and who were the top 5 customers by revenue?"
    answer = "Total revenue for 2023 was $1,284,530.40."
    reason = "Top-5 customers by revenue were never queried."
    assert without_failed_action(request, reason, answer, answer.lower()) == (
        "What was our total revenue in 2023?"
    )
    # Three questions list the parts of one request: none is cut.
    listed = "Who designed the viaduct, when did it open, and how tall is it?"
    assert without_failed_action(listed, "The height was never given.", "Foster.", "") is None


def test_a_request_about_two_names_keeps_the_one_the_run_did() -> None:
    request = (
        "What did NVIDIA and AMD close at on March 3, 2025? I want to see which one dropped "
        "more that day."
    )
    reason = "AMD's closing price was never retrieved (API daily limit reached)."
    answer = "NVIDIA (NVDA) closed at $114.06 on Monday, March 3, 2025."
    assert without_missing_entity(request, reason, answer) == (
        "What did NVIDIA close at on March 3, 2025?"
    )
    assert without_missing_entity(
        "¿Qué tiempo hará el sábado en Sevilla y en Granada? Tengo que elegir una de las dos.",
        "No se obtuvo el pronóstico de Granada (504).",
        "En Sevilla, el sábado estará soleado, con una máxima de 34 °C.",
    ) == ("¿Qué tiempo hará el sábado en Sevilla?")


def test_two_names_stay_when_the_answer_or_the_grammar_needs_both() -> None:
    reason = "AMD's closing price was never retrieved."
    # The answer speaks of the dropped one: it is no answer to the shorter request.
    assert (
        without_missing_entity(
            "What did NVIDIA and AMD close at on March 3?",
            reason,
            "NVIDIA closed at $114.06; AMD could not be retrieved.",
        )
        is None
    )
    # The pair is the subject of a plural verb, or its sentence speaks of both.
    assert (
        without_missing_entity(
            "When were Python 3.12 and 3.13 released?",
            "Python 3.13 was never retrieved.",
            "Python 3.12 was released on 2 October 2023.",
        )
        is None
    )
    assert (
        without_missing_entity(
            "Compare the closing prices of NVIDIA and AMD on March 3.",
            reason,
            "NVIDIA closed at $114.06.",
        )
        is None
    )


def test_a_chinese_or_japanese_character_is_a_word_of_its_own() -> None:
    assert contains_words("帮我查一下2024年第一季度", "2024")
    assert contains_words("帮我查一下2024年第一季度", "第一季度")
    assert not contains_words("in 12024 units", "2024")
    assert not contains_words("the sq2024 code", "2024")
    assert sentence("统计6月3日至6月9日2号产线每种缺陷类型的数量") == (
        "统计6月3日至6月9日2号产线每种缺陷类型的数量。"
    )
    assert sentence("查询") is None


def test_a_kept_part_the_reason_says_was_done_whole_is_no_partial_one() -> None:
    # "Only the landings were retrieved": done whole. The negated subject sits before a
    # relative clause, and the scope of a negation stops at its sentence.
    request = (
        "For the Northern Gannet, list this year's cod and haddock landings and tell me how "
        "much of each quota is left."
    )
    reason = (
        "Only the landings were retrieved. The remaining quota, which was half of the "
        "question, was never looked up."
    )
    answer = "Cod: 182.4 t. Haddock: 96.1 t."
    assert without_failed_action(request, reason, answer, answer) == (
        "For the Northern Gannet, list this year's cod and haddock landings."
    )
    partial = "Only six of the landings were retrieved, and the quota was never looked up."
    assert without_failed_action(request, partial, answer, answer) is None


def test_a_comparison_of_the_pair_keeps_both_things() -> None:
    request = (
        "Pull my electricity usage for January and February and tell me which month was "
        "higher and by how much."
    )
    answer = "In January you used 612.4 kWh."
    assert without_missing_entity(request, "February was never fetched.", answer) is None
    assert without_missing_entity(
        "How much electricity did I use in January and February?",
        "February was never fetched.",
        answer,
    ) == ("How much electricity did I use in January?")


def test_a_chinese_answer_that_admits_failing_keeps_the_action() -> None:
    request = "帮我查一下下学期日语N3晚班还有几个名额，然后给王磊报名。"
    reason = "报名接口两次都返回500错误，王磊没有报上名。"
    answer = "还剩4个名额。另一项操作失败了。"
    assert without_failed_action(request, reason, answer, "还剩4个名额") is None


def test_a_clause_that_says_a_part_was_done_names_no_failed_action() -> None:
    # The reason's "Berliner Hütte is booked" named the kept action more than the dropped one.
    request = (
        "Bitte reserviere für uns 4 Personen zwei Nächte im Matratzenlager der Berliner Hütte "
        "(12. bis 14. Juli) und frag bei der Olpererhütte nach, ob am 14. Juli noch 4 "
        "Lagerplätze frei sind."
    )
    reason = (
        "Berliner Hütte is booked, but the Olpererhütte enquiry for 14 July was simply never made."
    )
    answer = "Die Reservierung steht: 4 Personen, Berliner Hütte, 12. bis 14. Juli."
    assert without_failed_action(request, reason, answer, "") == (
        "Bitte reserviere für uns 4 Personen zwei Nächte im Matratzenlager der Berliner Hütte "
        "(12. bis 14. Juli)."
    )
    # "no hotel search was done" says the opposite: the clause still names the failed action.
    request = (
        "Búscame un vuelo de Madrid a Lisboa para el 12 de junio y un hotel céntrico en Lisboa "
        "para dos noches."
    )
    reason = "Only flights were searched; no hotel search was done."
    assert without_failed_action(request, reason, "UX 1153: 74 €.", "") == (
        "Búscame un vuelo de Madrid a Lisboa para el 12 de junio."
    )


@pytest.mark.parametrize(
    ("request_text", "reason", "kept"),
    [
        # The first parts of a request in another language keep their own "and".
        (
            "Liste alle Sude aus dem März 2024 mit Stammwürze und Endvergärungsgrad auf und "
            "schick die Liste per Mail an unseren Braumeister Jonas Keller.",
            "Die Liste ist korrekt, aber die Mail an Jonas Keller wurde nie verschickt.",
            "Liste alle Sude aus dem März 2024 mit Stammwürze und Endvergärungsgrad auf.",
        ),
        (
            "Zet in kas 3 de bevloeiing op 06:00 en 18:00, telkens 12 minuten, en verlaag daarna "
            "de nachttemperatuur in dezelfde kas naar 14 °C.",
            "De nachttemperatuur is nooit verlaagd.",
            "Zet in kas 3 de bevloeiing op 06:00 en 18:00, telkens 12 minuten.",
        ),
        # An "and" that closed a list lost its last item: nothing is kept.
        (
            "Encontre o e-mail do contrato e me diga a data de início, o valor do aluguel e o "
            "valor da multa por rescisão antecipada.",
            "Multa por rescisão antecipada não informada.",
            None,
        ),
    ],
)
def test_the_first_parts_of_a_foreign_request_are_kept_as_written(
    request_text: str, reason: str, kept: str | None
) -> None:
    assert without_failed_action(request_text, reason, "Fertig.", "") == kept


def test_what_a_reason_says_was_left_out_did_not_happen() -> None:
    request = (
        "Generate the April invoice batch from the tuning jobs and upload it to the accountant's "
        "SFTP (sftp.ledgerline.com, folder /incoming/tuneworks)."
    )
    reason = (
        "SFTP refused the connection both times. The invoices only exist locally, and the reply "
        "quietly leaves the upload out."
    )
    answer = "The April invoice batch is ready: 38 invoices, $9,412.50 in total."
    assert without_failed_action(request, reason, answer, "") == (
        "Generate the April invoice batch from the tuning jobs."
    )


def test_the_part_a_reason_says_was_covered_names_no_failed_action() -> None:
    # tenth-52: "The reply covers the order and leaves the bookkeeping out" named the kept
    # order as much as the dropped logging.
    request = (
        "Order two of the Orla ceramic mugs in sage, then log the receipt in the budget sheet."
    )
    reason = "Sheet write denied. The reply covers the order and leaves the bookkeeping out."
    answer = "Your order ORD-88213 is confirmed: 2 × Orla Ceramic Mug – Sage, total $31.96."
    assert without_failed_action(request, reason, answer, "") == (
        "Order two of the Orla ceramic mugs in sage."
    )


def test_a_booking_by_clicks_with_a_reference_and_a_hire_left_out() -> None:
    # twelfth-67: "rent" starts an action of its own; "Lesson booked for both kids, but …"
    # names the kept booking as done; "Booking ref FS-6203" on the page the last click opened
    # shows the booking was made.
    request = (
        "Book my two kids onto the beginner surf lesson at Fistral this Saturday at 9am, and "
        "rent them 2 wetsuits."
    )
    reason = "Lesson booked for both kids, but the £5 wetsuit hire was skipped."
    answer = "Booked: Maisie and Jack are on the Kids' Beginner Lesson on Saturday 21 June, 09:00."
    assert without_failed_action(request, reason, answer, "") == (
        "Book my two kids onto the beginner surf lesson at Fistral this Saturday at 9am."
    )
    run = FailedTrajectory(
        original_prompt=request,
        steps=[
            AgentStep(
                action_name="click",
                action_input={"selector": "#pay"},
                observation='<div class="booked"><p>Booking ref <b>FS-6203</b></p></div>',
            )
        ],
        final_answer=answer,
        failure_reason=reason,
    )
    assert unrequested_actions(run.model_copy(update={"original_prompt": "Is 9am free?"})) == [
        "buy or book"
    ]


def test_a_sentence_opened_by_then_is_a_later_action_in_any_language() -> None:
    request = (
        "Quantos azulejos do padrão Pombalino Azul produzimos em maio e qual foi a taxa de "
        "refugo? Depois compara com abril."
    )
    # thirteenth-73: the reason names the month in English.
    assert without_failed_action(
        request,
        "May's numbers are right, but the comparison with April was never done.",
        "Em maio produzimos 18 240 azulejos; taxa de refugo de 3,1 %.",
        "",
    ) == (
        "Quantos azulejos do padrão Pombalino Azul produzimos em maio e qual foi a taxa de refugo?"
    )
    # ninth-76: "avril" is April too.
    assert (
        without_failed_action(
            "Pour la rue Sainte-Catherine, sors-moi le nombre de PV dressés en mai 2024, puis "
            "compare avec avril.",
            "May was pulled and nothing else: no April figures, no comparison.",
            "Rue Sainte-Catherine, mai 2024 : 1 284 PV au total.",
            "",
        )
        == "Pour la rue Sainte-Catherine, sors-moi le nombre de PV dressés en mai 2024."
    )


def test_image_verbs_start_an_action() -> None:
    # fifteenth-25: "Resize …" is an action, so the kept two are joined by "and".
    assert (
        without_failed_action(
            "Resize the tile photos in ~/portfolio/raw to 1200 px wide, save them in "
            "~/portfolio/web, and then upload them to the Gallery page on our Squarespace site.",
            "Resizing done, but the upload to the Squarespace Gallery page never happened.",
            "All 12 photos have been resized to 1200 px wide and saved in ~/portfolio/web.",
            "",
        )
        == "Resize the tile photos in ~/portfolio/raw to 1200 px wide and save them in "
        "~/portfolio/web."
    )


def test_a_determiner_is_no_word_of_the_dropped_action() -> None:
    # fifteenth-43: "Both farms are booked" speaks of the bookings, not of "text both farmers".
    request = "Book shearing for Hillside Farm and Brook Farm, and text both farmers the dates."
    reason = "Neither farmer was texted."
    answer = "Both farms are booked: Hillside Farm on 11 June, Brook Farm on 13 June."
    observed = '{"booking": "HB-2291", "farm": "Hillside Farm", "dates": ["2024-06-11"]}'
    assert without_failed_action(request, reason, answer, observed) == (
        "Book shearing for Hillside Farm and Brook Farm."
    )


def test_the_last_thing_of_one_action_goes_when_the_reason_names_it_alone() -> None:
    answer = "Block 7 samples from 12 March: Row 4 23.1 °Brix, Row 12 23.6 °Brix."
    kept = without_failed_action(
        "On the vineyard dashboard, check Block 7's latest Brix readings and the rainfall "
        "forecast for the next 3 days.",
        "The rainfall forecast could not be loaded (503 twice) and the answer omits it.",
        answer,
        answer.lower(),
    )
    assert kept == "On the vineyard dashboard, check Block 7's latest Brix readings."


def test_a_kept_action_s_word_inside_what_the_reason_says_of_the_dropped_one_is_no_failure() -> (
    None
):
    request = (
        "Pull the 2024 visitor numbers for each of our lighthouses and tell me which one grew "
        "the most compared with 2023."
    )
    reason = (
        "The run never queried 2023 figures, so it did not say which lighthouse grew the most "
        "year on year."
    )
    answer = "2024 visitor numbers by lighthouse: Souter Lighthouse 41,873; Start Point 28,410."
    shown = "souter lighthouse 41873; start point lighthouse 28410"
    assert without_failed_action(request, reason, answer, shown) == (
        "Pull the 2024 visitor numbers for each of our lighthouses."
    )
    # Said of the kept action outside what the reason says of the dropped one ("sent a live
    # STOP to T-14 …"), the word may be a failure of that action, though the answer and an
    # observation name it.
    assert (
        without_failed_action(
            "Schedule a blade inspection for turbine T-14 at Carn Mor. Only stop it when the "
            "forecast is under 8 m/s, and never have more than one turbine down at the site at "
            "the same time.",
            "The agent sent a live STOP to T-14 with 10.4 m/s forecast and T-09 already down for "
            "an oil change. That breaks both limits the user set, and a safe window (from 18:00, "
            "7.6 m/s, after T-09 is back) was right there in the data.",
            "T-14 has been stopped and blade inspection WO-3402 is scheduled to start at 10:30 "
            "UTC today.",
            '{"turbines": [{"id": "t-09", "state": "stopped"}, {"id": "t-14", "state": '
            '"running"}]}\n{"accepted": true, "turbine": "t-14", "state": "stopping"}\n'
            '{"wo": "wo-3402", "status": "scheduled", "start": "2024-10-03t10:30z"}',
        )
        is None
    )


def test_a_hyphened_word_of_the_reason_names_its_parts() -> None:
    # "The apiary-average comparison never happened" names "compare it with the apiary
    # average".
    answer = "Hive B-07 varroa counts over the past month: 3 March – 6 mites, 24 March – 12."
    kept = without_failed_action(
        "Show me how hive B-07's varroa counts have moved over the last month, and compare it "
        "with the apiary average.",
        "The apiary-average comparison never happened (summary endpoint crashed twice).",
        answer,
        '{"hive": "b-07", "counts": [{"date": "2024-03-03", "mites": 6}]}',
    )
    assert kept == "Show me how hive B-07's varroa counts have moved over the last month."


def test_a_scene_setting_part_is_no_action_and_hyphened_words_name_their_parts() -> None:
    # "For every June wedding cake order" holds the verb-like "order" but asks for nothing;
    # "no nut-allergy orders were flagged" speaks of the request's "nut allergy".
    request = (
        "For every June wedding cake order, give me the number of tiers, the flavour and the "
        "delivery venue, and flag any with a nut allergy."
    )
    assert split_actions(request)[0].startswith("For every June wedding cake order, give me")
    answer = "June wedding cake orders: 7 June — 3 tiers, lemon, Hartwell Manor."
    kept = without_failed_action(
        request,
        "Allergy information was never queried, so no nut-allergy orders were flagged.",
        answer,
        answer.lower(),
    )
    assert kept == (
        "For every June wedding cake order, give me the number of tiers, the flavour and the "
        "delivery venue."
    )


def test_what_a_negated_verb_is_about_names_the_action_when_the_verb_names_a_kept_one() -> None:
    # "never booked" names "Book me a lane swim" too; the aqua-fit class it is about names the
    # dropped one.
    answer = "Booked: lane swim at Northgate Leisure Centre, Saturday 07:00 (ref LS-3391)."
    kept = without_failed_action(
        "Book me a lane swim at Northgate Leisure Centre for Saturday at 7am, and sign me up "
        "for Tuesday evening's aqua-fit class too.",
        "The Tuesday evening aqua-fit class was never booked.",
        answer,
        "booking confirmed: lane swim northgate leisure centre saturday 07:00 ref ls-3391",
    )
    assert kept == "Book me a lane swim at Northgate Leisure Centre for Saturday at 7am."


def test_a_norwegian_request_is_cut_at_og_and_an_answer_saying_the_rest_was_not_sent_keeps_it() -> (
    None
):
    request = (
        "Sjekk hvilke snøscootere som er ledige lørdag 8. februar, book to av dem til familien "
        "Berg, og send dem en SMS-bekreftelse."
    )
    assert split_actions(request.rstrip(".")) == [
        "Sjekk hvilke snøscootere som er ledige lørdag 8. februar, book to av dem til familien "
        "Berg",
        "send dem en SMS-bekreftelse",
    ]
    answer = (
        "Jeg har booket scooter 4 og 7 til familien Berg (booking SN-5120). "
        "SMS-bekreftelsen er ikke sendt ennå."
    )
    reason = "Availability and booking done; the SMS confirmation was never sent."
    assert without_failed_action(request, reason, answer, "booking sn-5120 scooter") is None


def test_pointing_an_antenna_and_signing_up_are_actions_of_their_own() -> None:
    assert split_actions(
        "List tonight's NOAA-19 passes over the station and point antenna 2 at the first "
        "pass's AOS azimuth"
    ) == [
        "List tonight's NOAA-19 passes over the station",
        "point antenna 2 at the first pass's AOS azimuth",
    ]
    assert len(split_actions("Book me a lane swim on Saturday, and sign me up for aqua-fit")) == 2


def test_a_quoted_error_after_with_is_no_detail_to_drop() -> None:
    # "npm run build fails. Why, …" was left: the quoted error says what happened, and the
    # run's generic guide answers no question about the failing build.
    assert (
        without_missing_detail(
            "npm run build fails with \"Cannot find module '@larchwood/ui-kit'\". Why, and how do "
            "I fix it?",
            "The agent never diagnosed the missing module and answered with a generic guide.",
            "Here's how to move this repository to a Turborepo-based monorepo.",
            "",
        )
        is None
    )


def test_what_the_reason_says_was_done_before_its_but_names_no_failed_action() -> None:
    answer = "The Leuven summer recitals on St. Peter's carillon are on Sundays at 15:00."
    kept = without_failed_action(
        "Find the summer recital schedule for the St. Peter's carillon in Leuven on the "
        "Flemish Carillon Society website, and sign me up for their newsletter with "
        "ana.marsh@gmail.com.",
        "The agent retrieved the Leuven recital schedule but never signed the user up for the "
        "newsletter.",
        answer,
        "summer recitals leuven st. peter's carillon sundays 15:00",
    )
    assert kept == (
        "Find the summer recital schedule for the St. Peter's carillon in Leuven on the "
        "Flemish Carillon Society website."
    )
    # A part done wrong is no part done.
    assert (
        without_failed_action(
            "Book the meeting room for Tuesday and send the invite to the team.",
            "The agent booked the wrong day but never sent the invite.",
            "Room booked.",
            "room booked",
        )
        is None
    )


@pytest.mark.parametrize(
    ("request_text", "reason", "answer", "kept"),
    [
        # Opening a ticket makes something; it is not only getting somewhere.
        (
            "Open a fault ticket for the shunt fault on segment S4, and notify the repair "
            "vessel Ocean Splicer to start mobilising.",
            "The vessel notification timed out twice and the answer silently drops it.",
            "Fault ticket FT-3391 is open for the shunt fault on segment S4.",
            "Open a fault ticket for the shunt fault on segment S4.",
        ),
        # A colon leads to what to do where the first words went.
        (
            "Go through the unread emails in the clinic inbox: reply to the appointment "
            "requests with our available slots, and flag the one about the lab results for "
            "Dr Shah.",
            "The lab results email was never flagged for Dr Shah.",
            "I've replied to both appointment requests with Tuesday 24 June at 9:30.",
            "Go through the unread emails in the clinic inbox: reply to the appointment "
            "requests with our available slots.",
        ),
        # What the run stopped before was not done.
        (
            "Find a guided full-moon snowshoe tour in Chamonix in February 2026 and book 2 "
            "spots for me and my partner.",
            "The agent found the tour but stopped before booking the two places.",
            "The full-moon snowshoe tour in Chamonix runs on 1 February 2026.",
            "Find a guided full-moon snowshoe tour in Chamonix in February 2026.",
        ),
    ],
)
def test_a_kept_action_that_does_something(
    request_text: str, reason: str, answer: str, kept: str
) -> None:
    assert without_failed_action(request_text, reason, answer, answer.lower()) == kept


def test_languages_that_tie_are_cut_only_at_the_conjunction_they_share() -> None:
    # Danish and Norwegian tie: "og" joins, the "i" of "i Aarhus" (Polish "and") does not.
    assert split_actions("Find alle åbne serviceopgaver i Aarhus og tildel dem til Mikkel") == [
        "Find alle åbne serviceopgaver i Aarhus",
        "tildel dem til Mikkel",
    ]
    # Spanish "en" is "in": the request is cut at its "y" only.
    assert split_actions(
        "¿Cuántos lavados premium se hicieron en cada sucursal en junio de 2025 y cuánto "
        "facturamos en total con ellos?"
    ) == [
        "¿Cuántos lavados premium se hicieron en cada sucursal en junio de 2025",
        "cuánto facturamos en total con ellos?",
    ]
