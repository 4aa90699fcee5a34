"""Requests in other languages: their limits are read, dropped with the words that introduce
them, and their past forms and ways of asking are told apart."""

from __future__ import annotations

import pytest

from agenther.constraints import find_constraints, unmet_constraints
from agenther.demands import demanded_actions
from agenther.failure_detector import analyze_rules
from agenther.models import AgentStep, FailedTrajectory, FailureAnalysis, FailureType
from agenther.rules.actions import split_actions
from agenther.rules.clauses import without_failed_action
from agenther.rules.decide import decide_by_rules
from agenther.rules.drop_constraint import drop_constraints
from agenther.rules.figures import unsupported_figures
from agenther.words import latin_language


def _run(prompt: str, observation: str, answer: str, reason: str) -> FailedTrajectory:
    return FailedTrajectory(
        original_prompt=prompt,
        steps=[AgentStep(action_name="search", action_input={"q": "x"}, observation=observation)],
        final_answer=answer,
        failure_reason=reason,
    )


def _dropped(prompt: str, index: int = 0) -> str | None:
    return drop_constraints(prompt, [find_constraints(prompt)[index]])


def test_limits_are_found_in_the_request_s_language() -> None:
    found = find_constraints(
        "Suche mir 3-Zimmer-Wohnungen in Hamburg für maximal 1.600 € warm und frag nach einem "
        "Besichtigungstermin, Ankunft vor 12 Uhr."
    )
    assert [c.text for c in found] == ["maximal 1.600 € warm", "vor 12 Uhr"]
    # German groups thousands with a point: both readings are kept.
    assert found[0].values == {"1.6", "1600"}
    assert found[0].currency == "€"
    # A word after an amount of money is its own only at the clause's end.
    spanish = find_constraints("¿Cuántos pedidos con un importe superior a 500 € se enviaron?")
    assert [c.text for c in spanish] == ["superior a 500 €"]


def test_a_reason_naming_the_limit_in_another_notation_names_it() -> None:
    t = _run(
        "Pubblica l'annuncio per Sviluppatore Frontend su LinkedIn e Indeed, con una RAL "
        "massima di 45.000 €.",
        "Annuncio pubblicato su LinkedIn e Indeed.",
        "Fatto: l'annuncio è online su LinkedIn e Indeed.",
        "RAL pubblicata fino a 50k; l'utente aveva fissato un massimo di 45k.",
    )
    assert [c.text for c in unmet_constraints(t)] == ["massima di 45.000 €"]


def test_a_limit_goes_with_the_words_that_introduce_it() -> None:
    assert (
        _dropped("¿Cuántos pedidos con un importe superior a 500 € se enviaron a Madrid en 2024?")
        == "¿Cuántos pedidos se enviaron a Madrid en 2024?"
    )
    assert (
        _dropped("Recomiéndame 3 películas de ciencia ficción de 2023 que tengan más de 8 en IMDb.")
        == "Recomiéndame 3 películas de ciencia ficción de 2023."
    )
    assert (
        _dropped("Busca pisos en Valencia que admitan mascotas y cuesten menos de 900 € al mes.")
        == "Busca pisos en Valencia que admitan mascotas."
    )
    # After money, a place at the clause's end is where to look, not what was measured.
    assert (
        _dropped("Busca zapatillas por menos de 90 € en Amazon.") == "Busca zapatillas en Amazon."
    )
    assert (
        _dropped("Such mir einen ICE von München nach Köln am 14. März, für unter 60 €.")
        == "Such mir einen ICE von München nach Köln am 14. März."
    )
    assert (
        _dropped("Trouve-moi un hôtel à Lyon du 14 au 16 juin, à moins de 120 € la nuit.")
        == "Trouve-moi un hôtel à Lyon du 14 au 16 juin."
    )


def test_words_of_the_request_before_a_limit_stay() -> None:
    # "met dweilfunctie" (with a mop function) is what is searched for, not what is limited,
    # and nothing in English is added to a Dutch request.
    assert (
        _dropped(
            "Zoek een robotstofzuiger met dweilfunctie onder de €300 en met minstens 4 sterren."
        )
        == "Zoek een robotstofzuiger met dweilfunctie en met minstens 4 sterren."
    )
    assert (
        _dropped(
            "Zoek een robotstofzuiger met dweilfunctie onder de €300 en met minstens 4 sterren.", 1
        )
        == "Zoek een robotstofzuiger met dweilfunctie onder de €300."
    )


def test_past_forms_report_and_other_languages_ask_in_their_own_words() -> None:
    assert demanded_actions("¿Cuántos pedidos se enviaron a Madrid en enero?") == []
    assert demanded_actions("Quali articoli pubblicati nel 2021 sono più citati?") == []
    assert demanded_actions("Envía el informe a Ana.") == ["send a message"]
    # A stem as written asks, whatever its ending looks like ("leite" is no participle).
    assert demanded_actions("Leite die Rechnung an Ana weiter.") == ["send a message"]
    assert demanded_actions("Pubblica l'annuncio su LinkedIn.") == ["send a message"]
    assert demanded_actions("Busca zapatillas y añade al carrito las más baratas.") == [
        "buy or book"
    ]
    assert demanded_actions("Leg mir die Regenjacke in den Warenkorb.") == ["buy or book"]


def test_a_point_grouped_figure_in_another_language_is_read_as_thousands() -> None:
    observation = '{"results": [{"address": "Kanaalstraat 31", "rent": 1595}]}'
    dutch = _run(
        "Zoek appartementen in Utrecht.",
        observation,
        "Ik heb een appartement in Utrecht gevonden: Kanaalstraat 31 voor €1.595 per maand.",
        "Geen bezichtiging ingepland.",
    )
    assert unsupported_figures(dutch) == []
    # In English "1.595" is one and a half, which nothing shows.
    english = _run(
        "Find apartments in Utrecht.",
        observation,
        "I found an apartment in Utrecht: Kanaalstraat 31, rated 1.595 by its tenants.",
        "No viewing was booked.",
    )
    assert unsupported_figures(english) == ["1.595"]


def test_a_spanish_constraint_violation_becomes_the_request_without_its_limit() -> None:
    t = FailedTrajectory(
        original_prompt="¿Cuántos pedidos con un importe superior a 500 € se enviaron a Madrid "
        "en enero de 2024?",
        steps=[
            AgentStep(
                action_name="sql_query",
                action_input={"query": "SELECT COUNT(*) FROM pedidos WHERE ciudad = 'Madrid'"},
                observation="count\n-----\n1342\n(1 row) pedidos Madrid enero 2024",
            )
        ],
        final_answer="En enero de 2024 se enviaron 1342 pedidos a Madrid.",
        failure_reason="Query omitted the importe_total > 500 filter; the count covers all "
        "orders shipped to Madrid in January 2024.",
    )
    decision = decide_by_rules(t, analysis=analyze_rules(t))
    assert decision.relabeled is not None, decision.reason
    assert decision.relabeled.hindsight_prompt == (
        "¿Cuántos pedidos se enviaron a Madrid en enero de 2024?"
    )


def test_a_space_grouped_figure_in_another_language_is_one_number_when_the_run_backs_it() -> None:
    observation = "vendedor\nAna Costa       184320.50\nBruno Silva     152907.10\nTotal 337227.60"
    portuguese = _run(
        "Calcula o total de vendas por vendedor.",
        observation,
        "Ana Costa 184 320,50 €, Bruno Silva 152 907,10 €, num total de 337 227,60 €.",
        "Gráfico não criado.",
    )
    assert unsupported_figures(portuguese) == []
    # Not backed as a whole, the groups are read one by one: "Pro 3 3000" is a model name.
    german = _run(
        "Leg mir eine Zahnbürste in den Warenkorb.",
        "Oral-B Pro 3 3000, 54,99 €",
        "Ich habe die Oral-B Pro 3 3000 für 54,99 € in den Warenkorb gelegt.",
        "Zu teuer.",
    )
    assert unsupported_figures(german) == []
    # A group is whole numbers only: "3 3000" is not "3 300" and a stray "0".
    model = _run("Zeig mir Zahnbürsten.", "3300 Bewertungen", "Die Pro 3 3000 kostet 54 €.", "x")
    assert unsupported_figures(model) == ["3000", "54"]
    # A space-grouped figure nothing backs is still an invention.
    invented = _run("Calcula o total de vendas.", observation, "O total é 412 880,00 €.", "x")
    assert unsupported_figures(invented) == ["412", "880.00"]


def test_a_day_first_dotted_date_is_an_observed_iso_date() -> None:
    observation = '{"applications": [{"candidate": "Karolina", "date": "2024-05-20"}]}'
    polish = _run(
        "Pokaż odrzuconych kandydatów.",
        observation,
        "Odrzuciliśmy Karolinę (20.05) – decyzja z 20.05.2024.",
        "Brak szablonu.",
    )
    assert unsupported_figures(polish) == []
    # In English "20.05" is a figure of its own (a price, a score), not a date.
    english = _run("Show the rejected candidates.", observation, "Karolina scored 20.05.", "x")
    assert unsupported_figures(english) == ["20.05"]


def test_an_answer_to_a_request_in_another_language_groups_thousands_its_way() -> None:
    # English titles make the answer look English; the request says whose convention it is.
    spanish = _run(
        "Búscame artículos sobre aprendizaje federado en salud.",
        '{"results": [{"title": "The future", "publication_year": 2020, "cited_by_count": 2104}]}',
        "«The future of digital health with federated learning and the data» (2020), 2.104 citas.",
        "Ninguno es posterior a 2021.",
    )
    assert unsupported_figures(spanish) == []


@pytest.mark.parametrize(
    ("request_text", "dropped"),
    [
        # A limit alone in a bracket or between dashes goes with its marks, and the adjective
        # that asked for the length goes with a length limit.
        (
            "Escribe un aviso corto para los socios (máximo 80 palabras) sobre el cierre de las "
            "pistas el sábado.",
            "Escribe un aviso para los socios sobre el cierre de las pistas el sábado.",
        ),
        (
            "Schreib eine kurze Mitteilung an die Mitglieder – höchstens 80 Wörter – über die "
            "Schließung am Samstag.",
            "Schreib eine Mitteilung an die Mitglieder über die Schließung am Samstag.",
        ),
        # French "court" also names the court, and stays.
        (
            "Rédige une courte note aux membres (80 mots maximum) sur la fermeture du court "
            "central samedi.",
            "Rédige une note aux membres sur la fermeture du court central samedi.",
        ),
        # Only the whole word: a short film ("cortometraje") is not asked to be short.
        (
            "Escribe la sinopsis del cortometraje 'Marea' (máximo 80 palabras) para el programa.",
            "Escribe la sinopsis del cortometraje 'Marea' para el programa.",
        ),
        # A dash opens the limit and another closes what the aside said about it.
        (
            "Scrivi un avviso breve ai soci - massimo 80 parole, deve stare sul cartellino - "
            "sulla chiusura di sabato.",
            "Scrivi un avviso ai soci sulla chiusura di sabato.",
        ),
    ],
)
def test_a_limit_in_an_aside_goes_with_its_marks_in_any_language(
    request_text: str, dropped: str
) -> None:
    assert drop_constraints(request_text, find_constraints(request_text)) == dropped


@pytest.mark.parametrize(
    ("request_text", "limit", "values", "dropped"),
    [
        # thirteenth-68: a deadline word may name the weekday before the date.
        (
            "Zamów w sklepie Taxi-Art szklane oczy dla lisa, 16 mm, brązowe. Muszą dojść "
            "najpóźniej w piątek 14 czerwca.",
            "najpóźniej w piątek 14 czerwca",
            {"14"},
            "Zamów w sklepie Taxi-Art szklane oczy dla lisa, 16 mm, brązowe.",
        ),
        # A day written with a point before its month; the stub "Lieferung." goes too.
        (
            "Bestell die Glasaugen bei Taxi-Art. Lieferung spätestens am Freitag, 14. Juni.",
            "spätestens am Freitag, 14. Juni",
            {"14"},
            "Bestell die Glasaugen bei Taxi-Art.",
        ),
        # "… sie müssen da sein." has lost what it was about.
        (
            "Bestell die Glasaugen bei Taxi-Art, sie müssen spätestens am Freitag, 14. Juni da "
            "sein.",
            "spätestens am Freitag, 14. Juni",
            {"14"},
            None,
        ),
        # thirteenth-02: "vóór" (not "voor", which is "for") and a clock time.
        (
            "Reserveer een schutslot bij Sluis Weurt op zaterdag 8 juni voor ons jacht De "
            "Zwaluw (14 m), maar alleen vóór 10:00 uur — daarna moeten we de brug halen.",
            "vóór 10:00 uur",
            {"0", "10"},
            "Reserveer een schutslot bij Sluis Weurt op zaterdag 8 juni voor ons jacht De "
            "Zwaluw (14 m).",
        ),
        # fifteenth-38: the rate after a price goes with it.
        (
            "Trouve-moi 3 tissus batik bleus pour mon patchwork, à moins de 12 € le mètre, chez "
            "Tissus Léonie.",
            "moins de 12 € le mètre",
            {"12"},
            "Trouve-moi 3 tissus batik bleus pour mon patchwork, chez Tissus Léonie.",
        ),
        (
            "Réserve un vol biplace pour le samedi 22 juin, avant 12h00.",
            "avant 12h00",
            {"12"},
            "Réserve un vol biplace pour le samedi 22 juin.",
        ),
        # fifteenth-02: the "aber nur" before the condition's comma goes with it.
        (
            "Bestell mir bei knopfwelt-shop.de 500 Hornknöpfe in 20 mm, dunkelbraun – aber nur, "
            "wenn sie höchstens 0,30 € pro Stück kosten. Leg sie einfach in den Warenkorb, "
            "bezahlen mache ich selbst.",
            "höchstens 0,30 € pro Stück",
            {"0", "0.3", "30"},
            "Bestell mir bei knopfwelt-shop.de 500 Hornknöpfe in 20 mm, dunkelbraun. Leg sie "
            "einfach in den Warenkorb, bezahlen mache ich selbst.",
        ),
        # fifteenth-86: a window is both its figures, and its "och" joins no two requests.
        (
            "Boka en hopptid för 4 personer på Hoppland Göteborg på lördag 8 juni, mellan 10 "
            "och 12.",
            "mellan 10 och 12",
            {"10", "12"},
            "Boka en hopptid för 4 personer på Hoppland Göteborg på lördag 8 juni.",
        ),
        (
            "Busca un piso de alquiler en Valencia entre 800 y 1.000 € al mes.",
            "entre 800 y 1.000 € al mes",
            {"1", "800", "1000"},  # "1.000" may be 1 or 1,000
            "Busca un piso de alquiler en Valencia.",
        ),
        # set12-56: "aan" is the particle of "aankomen", no unit of the window.
        (
            "Welke containerschepen komen morgen tussen 06:00 en 12:00 aan in Rotterdam?",
            "tussen 06:00 en 12:00",
            {"0", "6", "12"},
            "Welke containerschepen komen morgen aan in Rotterdam?",
        ),
    ],
)
def test_deadlines_and_clock_times_are_limits_in_any_language(
    request_text: str, limit: str, values: set[str], dropped: str | None
) -> None:
    found = find_constraints(request_text)
    assert [(c.text, set(c.values)) for c in found] == [(limit, values)]
    assert drop_constraints(request_text, found) == dropped


CONSTRAINT_VIOLATION = FailureAnalysis(
    is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION
)


def test_a_reason_naming_no_limit_leaves_them_standing_beside_another_exclusion() -> None:
    # blind4-20: the reason is about "niet op woensdag"; "vóór 10 uur" was met, and cutting
    # it would keep the Wednesday the run broke.
    t = _run(
        "Plan volgende week een overleg van een uur met Sanne en Joris, niet op woensdag en niet "
        "vóór 10 uur.",
        "Event created: wo 22 mei 10:00-11:00, Sanne, Joris.",
        "Het overleg staat gepland op woensdag 22 mei van 10:00 tot 11:00.",
        "Booked on Wednesday although the user excluded Wednesdays.",
    )
    assert unmet_constraints(t, CONSTRAINT_VIOLATION) == []
    # Without another exclusion every limit is suspect.
    t.original_prompt = "Plan volgende week een overleg van een uur met Sanne, niet vóór 10 uur."
    assert [c.text for c in unmet_constraints(t, CONSTRAINT_VIOLATION)] == ["vóór 10 uur"]


def test_a_scandinavian_under_a_year_is_during_that_year() -> None:
    # fifteenth-33: "under 2023" is "during 2023", no limit to cut.
    assert find_constraints("Hur mycket arrende betalades för lotterna under 2023?") == []
    assert [c.text for c in find_constraints("Hitta lotter under 2 000 kr på Kvarnvägen.")] == [
        "under 2 000 kr"
    ]


@pytest.mark.parametrize(
    "request_text",
    [
        "Boka en tid mellan 10 och 12 och mejla mig bekräftelsen",
        "Buche einen Platz zwischen 10 und 12 Uhr und schick mir eine Mail",
    ],
)
def test_a_window_between_two_figures_is_one_part_of_the_request(request_text: str) -> None:
    assert len(split_actions(request_text)) == 2


@pytest.mark.parametrize(
    ("request_text", "dropped"),
    [
        # sixteenth-15: the "van" of a length goes with it.
        (
            "Schrijf een korte aankondiging van maximaal 80 woorden voor het beiaardconcert.",
            "Schrijf een aankondiging voor het beiaardconcert.",
        ),
        (
            "Schreib eine kurze Ankündigung von höchstens 80 Wörtern für das Konzert.",
            "Schreib eine Ankündigung für das Konzert.",
        ),
        # What follows a length says what the text is for, not where it was measured.
        (
            "Napisz krótkie ogłoszenie o długości maksymalnie 80 słów na koncert.",
            "Napisz ogłoszenie na koncert.",
        ),
    ],
)
def test_a_length_limit_goes_with_the_words_that_introduce_it(
    request_text: str, dropped: str
) -> None:
    assert drop_constraints(request_text, find_constraints(request_text)) == dropped


def test_french_and_swedish_requests_are_told_from_dutch() -> None:
    # sixteenth-44: "en poche, en bon état" is French; its "en" joins nothing.
    request = "Trouve-moi trois romans de Simenon en poche, en bon état, à moins de 5 € chacun."
    assert latin_language(request) == "fr"
    assert len(split_actions(request)) == 1
    assert latin_language("Boka en kanot hos Glaskogen Kanot från fredag till söndag.") == "sv"


def test_a_count_after_a_foreign_joiner_lists_and_starts_no_action() -> None:
    # sixteenth-91
    request = "Zoek wat een rondleiding kost voor 2 volwassenen en 1 kind"
    assert split_actions(request) == [request]


@pytest.mark.parametrize(
    ("request_text", "limit", "dropped"),
    [
        # sixteenth-44: "chacun" is the rate of the price.
        (
            "Trouve-moi trois romans de Simenon en poche, en bon état, à moins de 5 € chacun "
            "dans notre stock.",
            "moins de 5 € chacun",
            "Trouve-moi trois romans de Simenon en poche, en bon état dans notre stock.",
        ),
        # sixteenth-02: the sentence the limit was leaves one stop.
        (
            "Boka en tvåmanskanot hos Glaskogen Kanot från fredag 12 juli till söndag 14 juli. "
            "Max 350 kr per dygn.",
            "Max 350 kr per dygn",
            "Boka en tvåmanskanot hos Glaskogen Kanot från fredag 12 juli till söndag 14 juli.",
        ),
        # tenth-80: "men bara" opens a condition; "så" is no unit.
        (
            "Boka en inspektion av Tranebergsbron nästa vecka, men bara nattetid mellan 22:00 och "
            "05:00 så att vi slipper stänga körfält.",
            "mellan 22:00 och 05:00",
            "Boka en inspektion av Tranebergsbron nästa vecka.",
        ),
        # nineteenth-26: a clause whose purpose is the limit goes whole.
        (
            "Planifica la ruta del autobús 7 para el curso que viene de forma que ningún alumno "
            "pase más de 40 minutos en el autobús.",
            "más de 40 minutos",
            "Planifica la ruta del autobús 7 para el curso que viene.",
        ),
        (
            "Sett opp vaktene for uke 8 slik at ingen jobber mer enn 6 timer per dag.",
            "mer enn 6 timer per dag",
            "Sett opp vaktene for uke 8.",
        ),
        # twenty-first-22: the whole obligation goes, and the semicolon it followed.
        (
            "Reserva una visita guiada el martes 3 de junio; tiene que terminar antes de las "
            "13:00.",
            "antes de las 13:00",
            "Reserva una visita guiada el martes 3 de junio.",
        ),
        # twentieth-11: the "och" that joined the two limits goes with them.
        (
            "Köp solpaneler på solbutiken.se: monokristallina, minst 400 W, max 3 st och under "
            "15 000 kr totalt.",
            "max 3 st|under 15 000 kr totalt",
            "Köp solpaneler på solbutiken.se: monokristallina, minst 400 W.",
        ),
        (
            "Plane die Route für Bus 7, damit kein Kind mehr als 40 Minuten im Bus sitzt.",
            "mehr als 40 Minuten",
            "Plane die Route für Bus 7.",
        ),
    ],
)
def test_foreign_limits_go_with_their_rate_and_their_condition(
    request_text: str, limit: str, dropped: str
) -> None:
    found = find_constraints(request_text)
    unmet = [c for c in found if c.text in limit.split("|")]
    assert [c.text for c in unmet] == limit.split("|")
    assert drop_constraints(request_text, unmet) == dropped


def test_padding_with_one_more_of_the_kind_is_no_substitution() -> None:
    t = _run(
        "Trouve-moi trois romans de Simenon en poche, en bon état, à moins de 5 € chacun.",
        "Maigret et le clochard, bon état, 3,50 €; Le Chien jaune, bon état, 4,00 €; "
        "La Neige était sale, bon état, 6,50 €",
        "Voici trois romans de Simenon en poche et en bon état : Maigret et le clochard "
        "(3,50 €), Le Chien jaune (4,00 €), La Neige était sale (6,50 €).",
        "La Neige était sale costs 6,50 €, over the 5 € limit; the agent padded the list with a "
        "third without flagging the price.",
    )
    decision = decide_by_rules(t, None, CONSTRAINT_VIOLATION)
    assert decision.accepted, decision.reason
    t.failure_reason = t.failure_reason.replace("with a third", "with a Maigret omnibus")
    assert not decide_by_rules(t, None, CONSTRAINT_VIOLATION).accepted


def test_an_answer_saying_in_its_language_that_the_dropped_action_failed_keeps_it() -> None:
    # blind-b-25: "… a échoué" speaks of the dropped push.
    request = "Crée une branche feature/export-csv et pousse la branche sur origin."
    reason = "La branche n'a pas été poussée sur origin."
    answer = "J'ai créé la branche feature/export-csv."
    assert (
        without_failed_action(request, reason, answer, "") == "Crée une branche feature/export-csv."
    )
    answer += " En revanche, l'envoi a échoué."
    assert without_failed_action(request, reason, answer, "") is None
