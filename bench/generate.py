"""Seeded generator of failed agent runs for the benchmarks.

``generate(n, seed)`` returns ``n`` dicts in the FailedTrajectory shape, covering the six
failure types in turn, 1-12 steps, observations shaped like the real thing (web search result
lists, fetched pages, API JSON, code runs with tracebacks, kubectl/helm output, HTTP and tool
errors) across a dozen domains. Record ``i`` depends only on ``(seed, i)``, so a smaller ``n``
is a prefix of a larger one. ``metadata.generated_type`` is the type the story was written for.

    python -m bench.generate -n 10000 --seed 7 -o bench/out/runs.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAILURE_TYPES = (
    "constraint_violation",
    "wrong_result",
    "incomplete",
    "tool_error",
    "hallucination",
    "off_topic",
)

Step = dict[str, Any]
Story = tuple[str, list[Step], str, str]  # prompt, steps, final answer, failure reason


@dataclass(frozen=True)
class Attr:
    """A numeric attribute of a catalog item, e.g. the price of a supplier's wire."""

    key: str  # field name in API JSON
    label: str  # words in prose
    unit: str  # shown after the number ("" for none)
    prefix: str  # shown before the number ("$" or "")
    lo: float
    hi: float
    decimals: int

    def value(self, rng: random.Random) -> float:
        return round(rng.uniform(self.lo, self.hi), self.decimals)

    def show(self, v: float) -> str:
        number = f"{v:,.{self.decimals}f}"
        return f"{self.prefix}{number}{self.unit}"


@dataclass(frozen=True)
class Catalog:
    """A domain where runs search for items and compare their attributes."""

    domain: str
    plural: str
    subjects: tuple[str, ...]
    names: tuple[str, ...]
    attrs: tuple[Attr, Attr, Attr]
    search_tool: str
    api_tool: str
    asks: tuple[str, ...]  # prompt openings, "{plural}" and "{subject}" are filled in


CATALOGS: tuple[Catalog, ...] = (
    Catalog(
        "procurement",
        "suppliers",
        (
            "copper wire",
            "stainless steel sheet",
            "PET resin pellets",
            "aluminium extrusions",
            "corrugated cartons",
            "M8 hex bolts",
            "nitrile gloves",
            "LiFePO4 cells",
        ),
        (
            "MetalWorks Inc",
            "WireWorld",
            "CopperDirect",
            "AlloySupply",
            "BulkMetals",
            "MicroMetals",
            "Nordic Alloys",
            "Shenzhen Fasteners Co",
            "PackRight",
            "Gulf Polymers",
            "Ruhr Stahl GmbH",
            "Pacific Resin",
            "Atlas Industrial",
            "Keystone Supply",
            "Iberia Metales",
        ),
        (
            Attr("price_usd_per_kg", "price", "/kg", "$", 1.5, 12.0, 2),
            Attr("moq_kg", "minimum order", " kg", "", 10, 2000, 0),
            Attr("lead_time_days", "lead time", " days", "", 3, 60, 0),
        ),
        "web_search",
        "supplier_directory_api",
        (
            "Find {plural} of {subject}",
            "I need {plural} for {subject}",
            "Source {subject} from {plural}",
            "Get me quotes from {plural} of {subject}",
        ),
    ),
    Catalog(
        "travel",
        "flights",
        (
            "Lisbon to Berlin",
            "Boston to Denver",
            "Singapore to Sydney",
            "Madrid to Rome",
            "Toronto to Vancouver",
            "Nairobi to Cape Town",
            "Seoul to Osaka",
            "Chicago to Miami",
        ),
        (
            "TAP 532",
            "Lufthansa 1171",
            "easyJet 7421",
            "United 2290",
            "Delta 884",
            "Qantas 6",
            "Singapore Airlines 221",
            "Iberia 3240",
            "Air Canada 117",
            "Kenya Airways 780",
            "Jeju Air 1302",
            "American 1456",
            "Ryanair 8812",
            "Vueling 6203",
        ),
        (
            Attr("price_usd", "fare", "", "$", 49, 1400, 0),
            Attr("duration_h", "duration", " h", "", 1.0, 26.0, 1),
            Attr("stops", "stops", " stops", "", 0, 3, 0),
        ),
        "flight_search",
        "fares_api",
        (
            "Book one of the {plural} for {subject}",
            "Find {plural} {subject}",
            "Look up {plural} for a trip {subject}",
            "Which {plural} go {subject}",
        ),
    ),
    Catalog(
        "finance",
        "index funds",
        (
            "US total market",
            "emerging markets",
            "European small caps",
            "global bonds",
            "US dividend growth",
            "clean energy",
            "Japanese equities",
        ),
        (
            "VTI",
            "ITOT",
            "SCHB",
            "VWO",
            "IEMG",
            "SPEM",
            "VGK",
            "IEUS",
            "BNDW",
            "VIG",
            "DGRO",
            "ICLN",
            "QCLN",
            "EWJ",
            "DXJ",
        ),
        (
            Attr("expense_ratio_pct", "expense ratio", "%", "", 0.03, 0.95, 2),
            Attr("aum_billion_usd", "assets under management", " bn", "$", 0.2, 310.0, 1),
            Attr("yield_pct", "dividend yield", "%", "", 0.1, 4.8, 2),
        ),
        "web_search",
        "market_data_api",
        (
            "Find {plural} for {subject}",
            "Recommend {plural} tracking {subject}",
            "Compare {plural} covering {subject}",
            "Screen {plural} for {subject} exposure",
        ),
    ),
    Catalog(
        "research",
        "papers",
        (
            "retrieval-augmented generation",
            "protein folding",
            "graph neural networks for traffic",
            "federated learning privacy",
            "LLM agents with tool use",
            "diffusion models for audio",
            "battery degradation prediction",
        ),
        (
            "Lewis et al.",
            "Jumper et al.",
            "Li et al.",
            "McMahan et al.",
            "Yao et al.",
            "Kong et al.",
            "Severson et al.",
            "Borgeaud et al.",
            "Wu et al.",
            "Schick et al.",
            "Huang et al.",
            "Chen et al.",
            "Zhang et al.",
        ),
        (
            Attr("pages", "length", " pages", "", 4, 48, 0),
            Attr("price_usd", "paywall price", "", "$", 0, 45, 2),
            Attr("citations", "citations", " citations", "", 3, 9800, 0),
        ),
        "scholar_search",
        "semantic_scholar_api",
        (
            "Find {plural} on {subject}",
            "Collect {plural} about {subject}",
            "List influential {plural} on {subject}",
            "Survey recent {plural} on {subject}",
        ),
    ),
    Catalog(
        "e-commerce",
        "products",
        (
            "noise-cancelling headphones",
            "espresso machines",
            "standing desks",
            "trail running shoes",
            "4K monitors",
            "robot vacuums",
            "mechanical keyboards",
        ),
        (
            "Sony WH-1000XM5",
            "Bose QC Ultra",
            "Breville Bambino",
            "De'Longhi Dedica",
            "FlexiSpot E7",
            "Uplift V2",
            "Hoka Speedgoat 6",
            "Salomon Sense Ride",
            "Dell U2723QE",
            "LG 27UP850",
            "Roborock S8",
            "iRobot j7",
            "Keychron Q1",
            "Logitech MX Mechanical",
        ),
        (
            Attr("price_usd", "price", "", "$", 39, 1299, 2),
            Attr("rating", "rating", " stars", "", 2.8, 4.9, 1),
            Attr("reviews", "review count", " reviews", "", 12, 24000, 0),
        ),
        "shop_search",
        "catalog_api",
        (
            "Find {plural} in {subject}",
            "Recommend {subject}",
            "Shortlist {subject}",
            "Buy one of the best {subject}",
        ),
    ),
    Catalog(
        "real estate",
        "apartments",
        (
            "Kreuzberg, Berlin",
            "Mission District, San Francisco",
            "Gràcia, Barcelona",
            "Shoreditch, London",
            "Plateau, Montreal",
            "Södermalm, Stockholm",
        ),
        (
            "Listing 4471",
            "Listing 1820",
            "Listing 9033",
            "Listing 5512",
            "Listing 7708",
            "Listing 2264",
            "Listing 3019",
            "Listing 6645",
            "Listing 8150",
            "Listing 1197",
        ),
        (
            Attr("rent_eur", "monthly rent", "", "€", 650, 4200, 0),
            Attr("area_m2", "floor area", " m²", "", 18, 140, 0),
            Attr("commute_min", "commute", " min", "", 5, 75, 0),
        ),
        "listing_search",
        "listings_api",
        (
            "Find {plural} in {subject}",
            "Look for {plural} to rent in {subject}",
            "Shortlist {plural} in {subject}",
            "Search {plural} near {subject}",
        ),
    ),
    Catalog(
        "recruiting",
        "candidates",
        (
            "senior backend engineer",
            "data scientist",
            "site reliability engineer",
            "product designer",
            "Android developer",
            "security analyst",
        ),
        (
            "A. Okafor",
            "M. Lindqvist",
            "R. Tanaka",
            "S. Haddad",
            "J. Moreau",
            "P. Kowalski",
            "L. Fernández",
            "T. Nguyen",
            "D. Mensah",
            "K. Ivanova",
            "H. Patel",
            "C. Rossi",
        ),
        (
            Attr("years_experience", "experience", " years", "", 1, 18, 0),
            Attr("salary_ask_usd", "salary expectation", "", "$", 55000, 240000, 0),
            Attr("notice_weeks", "notice period", " weeks", "", 0, 16, 0),
        ),
        "talent_search",
        "ats_api",
        (
            "Find {plural} for the {subject} role",
            "Shortlist {plural} for a {subject} opening",
            "Screen {plural} who could join as {subject}",
            "Source {plural} for {subject}",
        ),
    ),
)

SEARCH_ERRORS = (
    "HTTP 503 Service Unavailable: upstream search backend is overloaded, retry later",
    '{"error": {"code": 429, "message": "Rate limit exceeded: 60 requests per minute", '
    '"retry_after": 37}}',
    "TimeoutError: request to {tool} timed out after 30.0 seconds",
    "ConnectionResetError: [Errno 104] Connection reset by peer",
    '{"error": "invalid_api_key", "detail": "The API key supplied for {tool} has expired"}',
    "HTTP 502 Bad Gateway\n<html><body><h1>502 Bad Gateway</h1>nginx/1.24.0</body></html>",
    "ToolError: {tool} returned malformed JSON (Expecting ',' delimiter: line 1 column 8193)",
)

FILLER = (
    "Prices are indicative and may change without notice.",
    "Terms and conditions apply to every order placed through this portal.",
    "Shipping is calculated at checkout based on weight and destination.",
    "Data last refreshed automatically from the provider feed.",
    "Customers who viewed this also compared several alternatives.",
    "Availability depends on regional stock and seasonal demand.",
    "All figures are reported in the provider's base currency.",
    "See the full methodology section for how rankings are computed.",
    "Sponsored placements are marked and do not affect the ordering.",
    "Cookie settings: we use cookies to personalise content and ads.",
)


# --------------------------------------------------------------------------- helpers


def _items(rng: random.Random, cat: Catalog, k: int) -> list[dict[str, Any]]:
    names = rng.sample(cat.names, min(k, len(cat.names)))
    return [{"name": n, **{a.key: a.value(rng) for a in cat.attrs}} for n in names]


def _describe(cat: Catalog, item: dict[str, Any]) -> str:
    parts = [a.label + " " + a.show(item[a.key]) for a in cat.attrs]
    return f"{item['name']} - " + ", ".join(parts)


def _search_obs(rng: random.Random, cat: Catalog, items: list[dict[str, Any]], query: str) -> str:
    style = rng.randrange(3)
    if style == 0:
        lines = [f"Found {len(items)} results for '{query}':"]
        lines += [f"{i + 1}) {_describe(cat, it)}." for i, it in enumerate(items)]
        return " ".join(lines)
    if style == 1:
        blocks = []
        for it in items:
            slug = it["name"].lower().replace(" ", "-").replace(".", "")
            blocks.append(
                f"{it['name']} | {cat.domain.title()}\nhttps://www.{slug[:18]}.example.com/\n"
                f"{_describe(cat, it)}. {rng.choice(FILLER)}"
            )
        return "\n\n".join(blocks)
    rows = [" | ".join(["name", *(a.label for a in cat.attrs)])]
    rows += [" | ".join([it["name"], *(a.show(it[a.key]) for a in cat.attrs)]) for it in items]
    return f"Search results ({len(items)}):\n" + "\n".join(rows)


def _api_obs(rng: random.Random, items: list[dict[str, Any]]) -> str:
    payload = {
        "status": "ok",
        "request_id": f"{rng.getrandbits(48):012x}",
        "page": 1,
        "total": len(items),
        "results": items,
    }
    return json.dumps(payload)


def _page_obs(rng: random.Random, cat: Catalog, item: dict[str, Any]) -> str:
    # A fetched product/profile page: the facts buried in boilerplate, 1-8 KB.
    sentences = [f"{_describe(cat, item)}."]
    for _ in range(rng.randint(8, 150)):
        sentences.append(rng.choice(FILLER))
    rng.shuffle(sentences)
    return f"<title>{item['name']}</title> " + " ".join(sentences)


def _tool_error(rng: random.Random, tool: str) -> str:
    return rng.choice(SEARCH_ERRORS).replace("{tool}", tool)


def _thought(rng: random.Random, options: tuple[str, ...], **kw: str) -> str:
    return rng.choice(options).format(**kw)


def _pick(rng: random.Random, cat: Catalog) -> tuple[Attr, Attr]:
    a, b = rng.sample(cat.attrs, 2)
    return a, b


def _fmt_limit(attr: Attr, v: float) -> str:
    return attr.show(v)


# --------------------------------------------------------------------------- catalog stories


def _catalog_story(rng: random.Random, cat: Catalog, ftype: str, n_steps: int) -> Story:
    subject = rng.choice(cat.subjects)
    a, b = _pick(rng, cat)
    items = _items(rng, cat, rng.randint(3, 9))
    lim_a = round((a.lo + a.hi) / 2 * rng.uniform(0.5, 0.9), a.decimals)
    lim_b = round((b.lo + b.hi) / 2 * rng.uniform(0.6, 1.1), b.decimals)
    opener = rng.choice(cat.asks).format(plural=cat.plural, subject=subject)
    joiner = rng.choice((" with", " that have", ", only ones with", " where"))
    prompt = (
        f"{opener}{joiner} {a.label} under {_fmt_limit(a, lim_a)} and {b.label} below "
        f"{_fmt_limit(b, lim_b)}."
    )
    query = f"{subject} {cat.plural} {a.label}"
    steps: list[Step] = []

    def search_step(batch: list[dict[str, Any]], q: str) -> Step:
        use_api = rng.random() < 0.4
        tool = cat.api_tool if use_api else cat.search_tool
        obs = _api_obs(rng, batch) if use_api else _search_obs(rng, cat, batch, q)
        thought = _thought(
            rng,
            (
                "Let me search for {s}.",
                "I'll query for {s} first.",
                "Searching {s} options.",
                "Start by listing {s}.",
                "Check what is available for {s}.",
            ),
            s=subject,
        )
        return {
            "thought": thought,
            "action_name": tool,
            "action_input": {"query": q},
            "observation": obs,
        }

    if ftype == "constraint_violation":
        # Every item breaks at least one of the two limits.
        for it in items:
            if rng.random() < 0.5:
                it[a.key] = round(lim_a * rng.uniform(1.05, 1.8), a.decimals)
            else:
                it[b.key] = round(max(lim_b, b.lo) * rng.uniform(1.1, 2.0) + 1, b.decimals)
        chunks = _chunks(items, max(1, n_steps - 1))
        steps += [search_step(c, f"{query} page {i + 1}") for i, c in enumerate(chunks)]
        best = min(items, key=lambda it: it[a.key])
        steps = _pad(rng, cat, steps, items, n_steps)
        final = (
            f"I could not find {cat.plural} meeting both limits. The closest is {best['name']} "
            f"with {a.label} {a.show(best[a.key])} and {b.label} {b.show(best[b.key])}."
        )
        reason = rng.choice(
            (
                f"No option satisfies both the {a.label} and the {b.label} constraint.",
                f"Every result found violates the {b.label} or {a.label} limit.",
                f"Constraint not met: {a.label} under {_fmt_limit(a, lim_a)} with {b.label} below "
                f"{_fmt_limit(b, lim_b)}.",
            )
        )
    elif ftype == "wrong_result":
        # A valid answer exists, but the agent reports a worse one as the best.
        good = items[0]
        good[a.key] = round(lim_a * rng.uniform(0.5, 0.9), a.decimals)
        good[b.key] = round(max(lim_b, b.lo + 1) * rng.uniform(0.3, 0.9), b.decimals)
        wrong = items[-1]
        wrong[a.key] = round(lim_a * rng.uniform(1.1, 1.5), a.decimals)
        rng.shuffle(items)
        chunks = _chunks(items, max(1, n_steps - 1))
        steps += [search_step(c, f"{query} {i + 1}") for i, c in enumerate(chunks)]
        steps = _pad(rng, cat, steps, items, n_steps)
        final = f"The best match is {wrong['name']} with {a.label} {a.show(wrong[a.key])}."
        reason = rng.choice(
            (
                f"The answer picked {wrong['name']}, but {good['name']} meets both limits.",
                f"Wrong result: {wrong['name']} exceeds the {a.label} limit; "
                f"{good['name']} qualified.",
                f"Reported {wrong['name']} instead of the qualifying {good['name']}.",
            )
        )
    elif ftype == "incomplete":
        want = rng.randint(4, 8)
        prompt = (
            f"{opener}: compare {want} of them and report {a.label}, {b.label} and "
            f"{cat.attrs[2].label if cat.attrs[2] not in (a, b) else cat.attrs[0].label} "
            f"for each, then recommend one."
        )
        got = items[: max(1, min(len(items), want - rng.randint(1, 3)))]
        chunks = _chunks(got, max(1, n_steps))
        steps += [search_step(c, f"{query} {i + 1}") for i, c in enumerate(chunks)]
        steps = _pad(rng, cat, steps, got, n_steps)
        final = rng.choice(
            (
                "",
                f"So far I have details for {len(got)} {cat.plural}; I ran out of steps before "
                f"comparing the rest.",
                f"Partial results: {', '.join(it['name'] for it in got)}.",
            )
        )
        reason = rng.choice(
            (
                f"Reached the step limit after covering {len(got)} of {want} {cat.plural}.",
                f"Incomplete: no recommendation and only {len(got)} of {want} compared.",
                "The agent stopped before finishing the comparison.",
            )
        )
    elif ftype == "tool_error":
        tool = cat.search_tool
        ok_steps = rng.randint(0, max(0, n_steps - 1)) if rng.random() < 0.6 else 0
        for i in range(n_steps):
            if i < ok_steps:
                steps.append(search_step(items[: rng.randint(1, len(items))], f"{query} {i}"))
            else:
                steps.append(
                    {
                        "thought": _thought(
                            rng,
                            (
                                "Retrying the search.",
                                "Try the {t} again.",
                                "The previous call failed; one more attempt.",
                            ),
                            t=tool,
                        ),
                        "action_name": tool,
                        "action_input": {"query": query, "attempt": i + 1},
                        "observation": _tool_error(rng, tool),
                    }
                )
        final = rng.choice(
            (
                "",
                f"The {tool} service kept failing, so I could not finish.",
                "I was unable to complete the request because the tools returned errors.",
            )
        )
        reason = rng.choice(
            (
                f"{tool} returned errors on {n_steps - ok_steps} of {n_steps} calls.",
                "Tool failures (timeouts, rate limits) prevented completion.",
                f"The {tool} backend was unavailable.",
            )
        )
    elif ftype == "hallucination":
        chunks = _chunks(items, max(1, n_steps - 1))
        steps += [search_step(c, f"{query} {i + 1}") for i, c in enumerate(chunks)]
        steps = _pad(rng, cat, steps, items, n_steps)
        fake = rng.choice(
            [n for n in cat.names if n not in {it["name"] for it in items}] or ["Acme Global"]
        )
        fake_a = round(lim_a * rng.uniform(0.4, 0.8), a.decimals)
        final = (
            f"{fake} meets both requirements: {a.label} {a.show(fake_a)} and {b.label} "
            f"{b.show(round(max(lim_b, b.lo + 1) * 0.5, b.decimals))}."
        )
        reason = rng.choice(
            (
                f"The answer cites {fake}, which appears in no observation.",
                f"Hallucinated result: {fake} and its figures were never returned by a tool.",
                "Final answer invents an option not present in the search results.",
            )
        )
    else:  # off_topic
        other = rng.choice([s for s in cat.subjects if s != subject])
        q2 = f"{other} {cat.plural}"
        chunks = _chunks(items, max(1, n_steps))
        for i, c in enumerate(chunks):
            st = search_step(c, f"{q2} {i + 1}")
            st["thought"] = rng.choice(
                (
                    f"Looking into {other}.",
                    f"Searching {other} listings.",
                    f"{other.capitalize()} seems relevant; checking it.",
                )
            )
            steps.append(st)
        steps = _pad(rng, cat, steps, items, n_steps)
        best = min(items, key=lambda it: it[a.key])
        final = f"For {other}, the best option is {best['name']} at {a.show(best[a.key])}."
        reason = rng.choice(
            (
                f"The agent researched {other} instead of {subject}.",
                f"Off topic: results are about {other}, the user asked about {subject}.",
                f"Answered a different question ({other}).",
            )
        )
    return prompt, steps[:n_steps], final, reason


def _chunks(items: list[dict[str, Any]], k: int) -> list[list[dict[str, Any]]]:
    k = max(1, min(k, len(items)))
    size = -(-len(items) // k)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _pad(
    rng: random.Random, cat: Catalog, steps: list[Step], items: list[dict[str, Any]], n: int
) -> list[Step]:
    """Fill up to ``n`` steps with page fetches, a filter computation and a summary."""
    while len(steps) < n:
        kind = rng.random()
        it = rng.choice(items)
        if kind < 0.5:
            steps.append(
                {
                    "thought": f"Open the page for {it['name']} to confirm the details.",
                    "action_name": "fetch_page",
                    "action_input": {"url": f"https://example.com/{cat.domain}/{len(steps)}"},
                    "observation": _page_obs(rng, cat, it),
                }
            )
        elif kind < 0.8:
            a = cat.attrs[0]
            code = (
                f"rows = {json.dumps([{'name': x['name'], a.key: x[a.key]} for x in items])}\n"
                f"print(sorted(rows, key=lambda r: r['{a.key}'])[:3])"
            )
            top = sorted(items, key=lambda x: x[a.key])[:3]
            steps.append(
                {
                    "thought": f"Sort the options by {a.label}.",
                    "action_name": "python",
                    "action_input": {"code": code},
                    "observation": repr([{"name": x["name"], a.key: x[a.key]} for x in top]),
                }
            )
        else:
            steps.append(
                {
                    "thought": "Summarize what I have.",
                    "action_name": "summarize",
                    "action_input": {"n_items": len(items)},
                    "observation": "Summary generated.",
                }
            )
    return steps


# --------------------------------------------------------------------------- technical stories

CODE_TASKS = (
    (
        "reads orders.csv, keeps rows where status is 'shipped', and writes shipped.csv",
        "shipped.csv",
        "shipped.xlsx",
    ),
    ("parses access.log and prints the 10 most frequent client IPs", "top IPs", "top URLs"),
    ("computes the median response time per endpoint from metrics.json", "median", "mean"),
    (
        "deduplicates contacts.csv by email, case-insensitively",
        "lowercased emails",
        "exact-match emails",
    ),
    ("converts all timestamps in events.jsonl to UTC ISO-8601", "UTC", "local time"),
)


def _coding_story(rng: random.Random, ftype: str, n_steps: int) -> Story:
    task, right, wrong = rng.choice(CODE_TASKS)
    lang = "Python"
    prompt = rng.choice(
        (
            f"Write a {lang} script that {task}.",
            f"Can you write {lang} code that {task}? Use only the standard library.",
            f"I need a {lang} program that {task}, with a unit test.",
        )
    )
    rows = rng.randint(40, 5000)
    steps: list[Step] = []
    code = f"import csv, json, sys\n# {task}\n" + "\n".join(
        f"line_{i} = {rng.randint(0, 999)}" for i in range(rng.randint(3, 40))
    )
    steps.append(
        {
            "thought": "Write a first version.",
            "action_name": "code_write",
            "action_input": {"language": "python", "path": "solution.py", "code": code},
            "observation": f"Wrote solution.py ({len(code)} bytes).",
        }
    )
    tb = (
        'Traceback (most recent call last):\n  File "solution.py", line '
        f'{rng.randint(3, 90)}, in <module>\n    main()\n  File "solution.py", line '
        f"{rng.randint(3, 90)}, in main\n    "
        + rng.choice(
            (
                "KeyError: 'status'",
                "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in position 1043",
                "ModuleNotFoundError: No module named 'pandas'",
                "FileNotFoundError: [Errno 2] No such file or directory: 'orders.csv'",
                "json.decoder.JSONDecodeError: Extra data: line 2 column 1 (char 87)",
            )
        )
    )
    ok_out = f"Processed {rows} rows in {rng.uniform(0.05, 3.0):.2f}s; wrote {right}."
    if ftype == "tool_error":
        for i in range(1, n_steps):
            steps.append(
                {
                    "thought": "Run it.",
                    "action_name": "run_python",
                    "action_input": {"path": "solution.py", "attempt": i},
                    "observation": rng.choice(
                        (
                            "SandboxError: execution environment unavailable (exit 137)",
                            "TimeoutError: sandbox did not respond within 120 s",
                            tb,
                        )
                    ),
                }
            )
        final = "The code could not be run because the sandbox kept failing."
        reason = "The execution sandbox returned errors on every run."
    elif ftype == "wrong_result":
        for _ in range(1, n_steps):
            steps.append(
                {
                    "thought": "Run the script.",
                    "action_name": "run_python",
                    "action_input": {"path": "solution.py"},
                    "observation": ok_out.replace(right, wrong),
                }
            )
        final = f"Done: the script handles the file and writes {wrong}."
        reason = f"The script produces {wrong}, but the task required {right}."
    elif ftype == "incomplete":
        for _ in range(1, n_steps):
            steps.append(
                {
                    "thought": "Fix and rerun.",
                    "action_name": "run_python",
                    "action_input": {"path": "solution.py"},
                    "observation": rng.choice((tb, ok_out)),
                }
            )
        final = ""
        reason = "No unit test was written and the run stopped at the step limit."
    elif ftype == "constraint_violation":
        steps[0]["action_input"]["code"] = "import pandas as pd\n" + code
        for _ in range(1, n_steps):
            steps.append(
                {
                    "thought": "Run it with pandas.",
                    "action_name": "run_python",
                    "action_input": {"path": "solution.py"},
                    "observation": ok_out,
                }
            )
        final = f"Here is the script; it uses pandas and writes {right}."
        reason = "The user asked for the standard library only; the script imports pandas."
    elif ftype == "hallucination":
        for _ in range(1, n_steps):
            steps.append(
                {
                    "thought": "Run the tests.",
                    "action_name": "run_tests",
                    "action_input": {"cmd": "pytest -q"},
                    "observation": f"F.F\n{tb}\n2 failed, 1 passed in 0.31s",
                }
            )
        final = "All tests pass and the script is ready for production."
        reason = "The answer claims all tests pass; the test run shows 2 failures."
    else:
        steps[0]["action_input"]["language"] = "javascript"
        for _ in range(1, n_steps):
            steps.append(
                {
                    "thought": "Run it with node.",
                    "action_name": "run_node",
                    "action_input": {"path": "solution.js"},
                    "observation": f"node solution.js\n{ok_out}",
                }
            )
        final = "Here is a Node.js implementation."
        reason = "The user asked for Python; the agent wrote JavaScript."
    return prompt, steps[:n_steps], final, reason


DEPLOYMENTS = (
    "checkout-api",
    "payments-worker",
    "search-indexer",
    "auth-gateway",
    "ml-scorer",
    "notifications",
    "inventory-sync",
)
NAMESPACES = ("prod", "staging", "payments", "platform", "data")


def _kubectl_pods(rng: random.Random, dep: str, n: int, bad: bool) -> str:
    head = "NAME                                READY   STATUS             RESTARTS   AGE"
    rows = []
    for _ in range(n):
        status = (
            rng.choice(("CrashLoopBackOff", "ImagePullBackOff", "Pending")) if bad else ("Running")
        )
        rows.append(
            f"{dep}-{rng.getrandbits(36):09x}-{rng.getrandbits(20):05x}   "
            f"{'0/1' if bad else '1/1'}     {status:<18} {rng.randint(0, 40):<10} "
            f"{rng.randint(1, 59)}m"
        )
    return "\n".join([head, *rows])


def _devops_story(rng: random.Random, ftype: str, n_steps: int) -> Story:
    dep, ns = rng.choice(DEPLOYMENTS), rng.choice(NAMESPACES)
    want = rng.randint(3, 12)
    chart_v = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    prompt = rng.choice(
        (
            f"Scale the {dep} deployment in namespace {ns} to {want} replicas and verify "
            "the rollout.",
            f"Upgrade the helm release {dep} in {ns} to chart version {chart_v} with zero "
            "downtime.",
            f"Find out why {dep} pods in {ns} keep restarting and fix it.",
        )
    )
    steps: list[Step] = []
    bad = ftype in ("tool_error", "incomplete", "hallucination")
    for _ in range(n_steps):
        r = rng.random()
        if r < 0.45:
            obs = _kubectl_pods(rng, dep, rng.randint(1, want), bad and rng.random() < 0.7)
            cmd = f"kubectl get pods -n {ns} -l app={dep}"
        elif r < 0.7:
            obs = (
                f"Events:\n  Type     Reason     Age   From     Message\n  Warning  BackOff    "
                f"{rng.randint(1, 50)}m   kubelet  Back-off restarting failed container {dep}\n"
                f"  Warning  Failed     {rng.randint(1, 50)}m   kubelet  Error: "
                + rng.choice(
                    (
                        "OOMKilled (limit 512Mi)",
                        'secret "db-creds" not found',
                        "failed to pull image: 403 Forbidden",
                    )
                )
            )
            cmd = f"kubectl describe deployment {dep} -n {ns}"
        elif r < 0.85:
            obs = rng.choice(
                (
                    f"Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in "
                    f"progress on release {dep}",
                    f'Release "{dep}" has been upgraded. Happy Helming!\nNAME: {dep}\nNAMESPACE: '
                    f"{ns}\nSTATUS: deployed\nREVISION: {rng.randint(2, 80)}",
                    'Error: Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": '
                    "dial tcp 10.0.0.1:6443: i/o timeout",
                )
            )
            cmd = f"helm upgrade {dep} charts/{dep} -n {ns} --version {chart_v}"
        else:
            obs = (
                f"deployment.apps/{dep} scaled"
                if ftype != "tool_error"
                else (
                    'Error from server (Forbidden): deployments.apps "' + dep + '" is forbidden: '
                    f'User "ci-bot" cannot patch resource "deployments/scale" in namespace "{ns}"'
                )
            )
            cmd = f"kubectl scale deployment {dep} -n {ns} --replicas={want}"
        if ftype == "tool_error" and rng.random() < 0.6:
            obs = rng.choice(
                (
                    "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout",
                    "error: You must be logged in to the server (Unauthorized)",
                    f'Error from server (NotFound): namespaces "{ns}" not found',
                )
            )
        steps.append(
            {
                "thought": rng.choice(
                    (
                        "Check the current state.",
                        "Look at the pods.",
                        "Inspect events.",
                        "Apply the change.",
                    )
                ),
                "action_name": "shell",
                "action_input": {"cmd": cmd},
                "observation": obs,
            }
        )
    final, reason = {
        "constraint_violation": (
            f"Scaled {dep} by recreating the pods (brief outage).",
            "The user required zero downtime; pods were recreated at once.",
        ),
        "wrong_result": (
            f"{dep} now runs {want - 1} replicas.",
            f"Scaled to {want - 1} replicas instead of {want}.",
        ),
        "incomplete": ("", "Stopped before verifying the rollout."),
        "tool_error": (
            "Could not reach the cluster.",
            "kubectl/helm calls failed with connection and permission errors.",
        ),
        "hallucination": (
            f"Rollout complete: all {want} pods of {dep} are Running and healthy.",
            "The answer claims healthy pods; kubectl shows CrashLoopBackOff.",
        ),
        "off_topic": (
            f"I cleaned up unused ConfigMaps in {ns}.",
            f"The agent tidied ConfigMaps instead of working on {dep}.",
        ),
    }[ftype]
    return prompt, steps, final, reason


TABLES = ("sales", "orders", "sessions", "invoices", "tickets")
REGIONS = ("EMEA", "APAC", "NA", "LATAM")


def _data_story(rng: random.Random, ftype: str, n_steps: int) -> Story:
    table = rng.choice(TABLES)
    year = rng.randint(2019, 2025)
    prompt = rng.choice(
        (
            f"Using the {table} table, compute total revenue per region for {year} and chart it.",
            f"What was the monthly average of {table} per region in {year}? Give a table.",
            f"Break down {year} {table} by region and flag any region that fell more than 10%.",
        )
    )
    steps: list[Step] = []
    for i in range(n_steps):
        if ftype == "tool_error" and rng.random() < 0.7:
            obs = rng.choice(
                (
                    'psycopg.errors.UndefinedColumn: column "region" does not exist\nLINE 1: '
                    f"SELECT region, SUM(amount) FROM {table}",
                    "OperationalError: could not connect to server: Connection refused",
                    "QueryTimeout: statement exceeded 60000 ms",
                )
            )
        else:
            res = [
                {
                    "region": r,
                    "total": round(rng.uniform(1e4, 9e6), 2),
                    "rows": rng.randint(10, 90000),
                }
                for r in REGIONS
            ]
            obs = json.dumps(
                {
                    "columns": ["region", "total", "rows"],
                    "data": res,
                    "elapsed_ms": rng.randint(4, 4000),
                }
            )
        q = f"SELECT region, SUM(amount) AS total, COUNT(*) AS rows FROM {table} " + (
            f"WHERE year = {year if ftype != 'off_topic' else year - 1} GROUP BY region"
        )
        steps.append(
            {
                "thought": "Query the warehouse." if i == 0 else "Refine the query.",
                "action_name": "sql_query",
                "action_input": {"sql": q},
                "observation": obs,
            }
        )
    final, reason = {
        "constraint_violation": (
            "Here are the totals (no chart: plotting disabled).",
            "The user asked for a chart; only a table was returned.",
        ),
        "wrong_result": (
            "EMEA leads with the highest total.",
            "EMEA is reported as the leader although NA has the higher total.",
        ),
        "incomplete": ("", "Only the query ran; no per-region summary was given."),
        "tool_error": ("The database kept failing.", "SQL errors and timeouts blocked the task."),
        "hallucination": (
            "LATAM revenue doubled versus the year before.",
            "No prior-year data was ever queried; the growth claim is invented.",
        ),
        "off_topic": (
            f"Totals for {year - 1} are in the table.",
            f"Queried {year - 1} instead of {year}.",
        ),
    }[ftype]
    return prompt, steps, final, reason


def _support_story(rng: random.Random, ftype: str, n_steps: int) -> Story:
    order = f"#{rng.randint(100000, 999999)}"
    prompt = rng.choice(
        (
            f"Customer asks where order {order} is and wants a refund if it is late.",
            f"Handle this ticket: order {order} arrived damaged, customer wants a replacement.",
            f"Reply to the customer about order {order}: they were charged twice.",
        )
    )
    steps: list[Step] = []
    for i in range(n_steps):
        if ftype == "tool_error" and rng.random() < 0.7:
            obs = rng.choice(
                (
                    '{"error": "orders service unavailable", "status": 503}',
                    "HTTP 401 Unauthorized: token expired",
                    "TimeoutError: refunds API did not answer in 10 s",
                )
            )
            tool = rng.choice(("orders_api", "refunds_api"))
        elif i % 2 == 0:
            tool = "orders_api"
            obs = json.dumps(
                {
                    "order_id": order,
                    "status": rng.choice(("shipped", "delayed", "delivered")),
                    "carrier": rng.choice(("DHL", "UPS", "PostNL", "FedEx")),
                    "eta": f"{rng.randint(2024, 2025)}-{rng.randint(1, 12):02d}-"
                    f"{rng.randint(1, 28):02d}",
                    "amount_charged": round(rng.uniform(9, 900), 2),
                    "charges": rng.randint(1, 2),
                }
            )
        else:
            tool = "kb_search"
            obs = (
                "Refund policy: orders delayed more than 7 days qualify for a full refund. "
                "Damaged items: replacement shipped within 3 business days after photo proof."
            )
        steps.append(
            {
                "thought": "Look up the order." if i == 0 else "Check policy or status.",
                "action_name": tool,
                "action_input": {"order_id": order},
                "observation": obs,
            }
        )
    final, reason = {
        "constraint_violation": (
            "I issued a refund right away.",
            "Policy requires photo proof before a replacement or refund.",
        ),
        "wrong_result": (
            "Your order was delivered yesterday.",
            "The order API shows the order as delayed, not delivered.",
        ),
        "incomplete": ("", "The reply to the customer was never written."),
        "tool_error": ("I can't access your order right now.", "Order and refund APIs failed."),
        "hallucination": (
            "A 20% voucher has been added to your account.",
            "No voucher tool was called; the answer invents a voucher.",
        ),
        "off_topic": (
            "Here are our new arrivals for the season!",
            "The agent promoted products instead of handling the ticket.",
        ),
    }[ftype]
    return prompt, steps, final, reason


TECHNICAL: tuple[tuple[str, Callable[[random.Random, str, int], Story]], ...] = (
    ("coding", _coding_story),
    ("devops", _devops_story),
    ("data analysis", _data_story),
    ("customer support", _support_story),
)


# --------------------------------------------------------------------------- public API


def generate_one(seed: int, index: int) -> dict[str, Any]:
    rng = random.Random(seed * 1_000_003 + index)
    ftype = FAILURE_TYPES[index % len(FAILURE_TYPES)]
    n_steps = rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12))
    pick = rng.randrange(len(CATALOGS) + len(TECHNICAL))
    if pick < len(CATALOGS):
        cat = CATALOGS[pick]
        domain = cat.domain
        prompt, steps, final, reason = _catalog_story(rng, cat, ftype, n_steps)
    else:
        domain, story = TECHNICAL[pick - len(CATALOGS)]
        prompt, steps, final, reason = story(rng, ftype, n_steps)
    return {
        "trajectory_id": f"gen-{seed}-{index:06d}",
        "original_prompt": prompt,
        "steps": steps,
        "final_answer": final,
        "failure_reason": reason,
        "metadata": {"domain": domain, "generated_type": ftype, "generator_seed": seed},
    }


def generate(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` failed runs as FailedTrajectory-shaped dicts, reproducible from ``seed``."""
    return [generate_one(seed, i) for i in range(n)]


def write_jsonl(records: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, default=Path("bench/out/runs.jsonl"))
    args = parser.parse_args(argv)
    out = write_jsonl(generate(args.n, args.seed), args.output)
    print(f"wrote {args.n} runs to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
