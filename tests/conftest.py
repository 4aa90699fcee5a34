"""Shared fixtures live in tests/support/ so benchmarks can import the same fakes."""

pytest_plugins = [
    "tests.support.llm_fixtures",
    "tests.support.kafka_fixtures",
]
