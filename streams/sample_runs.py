"""Sample agent runs for ``agenther demo``: varied failures, a success and two bad records.

Kept as a module (not a data file) so the demo works from an installed wheel without package
data. Each failure has tool observations that establish something other than what was asked.
"""

from __future__ import annotations

import json
from typing import Any


def _run(
    run_id: str,
    prompt: str,
    steps: list[tuple[str, str, dict[str, Any], str]],
    *,
    final: str,
    reason: str,
    status: str = "failure",
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "source": "demo",
        "status": status,
        "original_prompt": prompt,
        "steps": [
            {"thought": t, "action_name": a, "action_input": i, "observation": o}
            for t, a, i, o in steps
        ],
        "final_answer": final,
        "failure_reason": reason,
    }


FAILED_RUNS: list[dict[str, Any]] = [
    _run(
        "demo-copper",
        "Find copper wire suppliers under $5/kg with a minimum order below 100kg.",
        [
            (
                "Search suppliers.",
                "web_search",
                {"query": "copper wire suppliers price per kg"},
                "MetalWorks: $6.20/kg, MOQ 50kg. CopperDirect: $4.90/kg, MOQ 500kg. "
                "BulkMetals: $5.50/kg, MOQ 100kg.",
            ),
            (
                "Check CopperDirect.",
                "web_search",
                {"query": "CopperDirect minimum order"},
                "CopperDirect minimum order is 500kg for all wire products.",
            ),
        ],
        # Lists the suppliers without saying none meets both limits: a demonstration of
        # "list copper wire suppliers", where "no supplier meets both" would demonstrate nothing.
        final="MetalWorks sells at $6.20/kg (MOQ 50kg), CopperDirect at $4.90/kg (MOQ 500kg) "
        "and BulkMetals at $5.50/kg (MOQ 100kg).",
        reason="constraint violation: no supplier under $5/kg with MOQ below 100kg",
    ),
    _run(
        "demo-flight",
        "Book the cheapest direct flight from Boston to Lisbon on 12 May under $400.",
        [
            (
                "Search flights.",
                "flight_search",
                {"from": "BOS", "to": "LIS", "date": "2025-05-12"},
                "TAP Air Portugal TP218 direct, departs 21:40, $612. Azores Airlines S4224 via "
                "Ponta Delgada, $389.",
            ),
        ],
        final="The only direct flight costs $612.",
        reason="price constraint not met: cheapest direct flight is $612",
    ),
    _run(
        "demo-weather",
        "Give me the 7-day forecast for Oslo and the warmest day.",
        [
            (
                "Get forecast.",
                "weather_api",
                {"city": "Oslo", "days": 7},
                "Oslo today: 14°C, light rain, wind 5 m/s, humidity 81%.",
            ),
            (
                "Get more days.",
                "weather_api",
                {"city": "Oslo", "days": 7, "page": 2},
                "Error: rate limit exceeded, try again later.",
            ),
        ],
        final="Today in Oslo it is 14°C with light rain.",
        reason="incomplete: only today's forecast was retrieved",
    ),
    _run(
        "demo-sql",
        "How many orders did customers in Germany place in March 2024?",
        [
            (
                "Query the database.",
                "sql_query",
                {"sql": "SELECT COUNT(*) FROM orders WHERE country='DE' AND month='2024-03'"},
                'ERROR: column "month" does not exist',
            ),
            (
                "Query with dates.",
                "sql_query",
                {"sql": "SELECT COUNT(*) FROM orders WHERE country='DE'"},
                "count: 18342 (all orders from customers in Germany, all time)",
            ),
        ],
        final="Customers in Germany placed 18342 orders.",
        reason="wrong result: the count covers all time, not March 2024",
    ),
    _run(
        "demo-hotel",
        "Find a pet-friendly hotel in Kyoto under ¥15000 per night near Gion.",
        [
            (
                "Search hotels.",
                "hotel_search",
                {"city": "Kyoto", "area": "Gion"},
                "Hotel Gion Shinmonso: ¥18500/night, no pets. Ryokan Motonago: ¥24000/night. "
                "Gion Hanaya Inn: ¥13200/night, pets not allowed.",
            ),
        ],
        final="Gion Hanaya Inn is ¥13200 per night.",
        reason="constraint violation: the hotel does not allow pets",
    ),
    _run(
        "demo-repo",
        "Find the Python file that defines parse_config and fix its failing test.",
        [
            (
                "Search the code.",
                "grep",
                {"pattern": "def parse_config"},
                "src/app/settings.py:42: def parse_config(path: str) -> dict:",
            ),
            (
                "Run the tests.",
                "run_tests",
                {"path": "tests/test_settings.py"},
                "3 passed, 1 failed: test_parse_config_env - KeyError: 'APP_HOME'",
            ),
        ],
        final="parse_config is in src/app/settings.py; one test fails with KeyError.",
        reason="incomplete: the failing test was located but not fixed",
    ),
    _run(
        "demo-stock",
        "What was Apple's closing price yesterday and its 52-week high?",
        [
            (
                "Fetch the quote.",
                "stock_quote",
                {"symbol": "AAPL"},
                "AAPL close 189.84 USD, volume 51.2M, change -0.7%.",
            ),
        ],
        final="Apple closed at 189.84 USD.",
        reason="incomplete: the 52-week high was not retrieved",
    ),
    _run(
        "demo-recipe",
        "Find a vegan lasagna recipe that takes under 30 minutes.",
        [
            (
                "Search recipes.",
                "recipe_search",
                {"query": "vegan lasagna quick"},
                "Classic Vegan Lasagna: 75 minutes, 12 ingredients, cashew ricotta, spinach.",
            ),
            (
                "Search again.",
                "recipe_search",
                {"query": "vegan lasagna 30 minutes"},
                "Skillet Vegan Lasagna Soup: 35 minutes, lentils, broken lasagna noodles.",
            ),
        ],
        final="The fastest option is a 35 minute skillet lasagna soup.",
        reason="constraint violation: no recipe under 30 minutes found",
    ),
    _run(
        "demo-translate",
        "Translate the product manual into French and Spanish.",
        [
            (
                "Translate to French.",
                "translate",
                {"target": "fr", "doc": "manual.txt"},
                "Translated 14 pages to French: manual.fr.txt written (31,204 characters).",
            ),
            (
                "Translate to Spanish.",
                "translate",
                {"target": "es", "doc": "manual.txt"},
                "Error 503: translation service unavailable.",
            ),
        ],
        final="French translation done; Spanish failed.",
        reason="tool error: Spanish translation failed",
    ),
    _run(
        "demo-news",
        "Summarise today's top three technology headlines.",
        [
            (
                "Fetch headlines.",
                "news_search",
                {"topic": "technology", "date": "today"},
                "1) Chipmaker announces 2nm production line in Arizona.",
            ),
        ],
        final="One headline: a chipmaker plans a 2nm line in Arizona.",
        reason="incomplete: only one of three headlines was found",
    ),
]

SUCCESS_RUN: dict[str, Any] = _run(
    "demo-success",
    "What is the capital of Australia?",
    [
        (
            "Look it up.",
            "web_search",
            {"query": "capital of Australia"},
            "Canberra is the capital city of Australia.",
        )
    ],
    final="The capital of Australia is Canberra.",
    reason="",
    status="success",
)

# Bad input the service must dead-letter without stopping.
MALFORMED_VALUES: list[bytes] = [
    b'{"run_id": "demo-broken", "original_prompt": "unterminated',
    json.dumps({"run_id": "demo-no-steps", "original_prompt": "Do it", "steps": []}).encode(),
]


def demo_messages() -> list[tuple[bytes | None, bytes]]:
    """(key, value) pairs in publishing order."""
    messages: list[tuple[bytes | None, bytes]] = [
        (run["run_id"].encode(), json.dumps(run).encode()) for run in [*FAILED_RUNS, SUCCESS_RUN]
    ]
    messages.insert(3, (b"demo-broken", MALFORMED_VALUES[0]))
    messages.insert(7, (b"demo-no-steps", MALFORMED_VALUES[1]))
    return messages
