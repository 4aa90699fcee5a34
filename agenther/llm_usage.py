"""Token usage and estimated cost of LLM calls, per model.

The library only counts; a listener (``on_request``) lets the service export the same numbers
as Prometheus metrics without this package importing a metrics library.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from agenther.config import DEFAULT_PRICES

# (model, prompt_tokens, completion_tokens, cost_usd, cached, seconds)
RequestListener = Callable[[str, int, int, float, bool, float], None]
# (model, error class name): a call that failed for good, after the client's own retries
FailureListener = Callable[[str, str], None]
# (model, rung): the structured-output rung a client uses from now on
RungListener = Callable[[str, str], None]


@dataclass
class ModelUsage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0  # calls that ended in an error, after the client's own retries
    format_refusals: int = 0  # structured requests the endpoint refused (each steps down)
    structured_output: str = ""  # the ladder rung in use


class PriceTable:
    """USD per 1M tokens (input, output) by model; a dated variant such as
    ``gpt-4o-mini-2024-07-18`` is priced as its longest listed prefix."""

    def __init__(self, prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        self._prices = dict(DEFAULT_PRICES if prices is None else prices)

    def price(self, model: str) -> tuple[float, float] | None:
        if model in self._prices:
            return self._prices[model]
        prefixes = [name for name in self._prices if model.startswith(name)]
        return self._prices[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.price(model)
        if price is None:
            return 0.0  # unknown (e.g. a local vLLM model): counted in tokens, not money
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


class UsageTracker:
    """Counters shared by every client of a pipeline (main model and judge alike).

    A lock guards the counters, so clients on several threads or event loops may share one.
    """

    def __init__(self, on_request: RequestListener | None = None) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelUsage] = {}
        self._listeners: list[RequestListener] = [on_request] if on_request else []
        self._failure_listeners: list[FailureListener] = []
        self._rung_listeners: list[RungListener] = []

    def add_listener(self, listener: RequestListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def add_failure_listener(self, listener: FailureListener) -> None:
        with self._lock:
            self._failure_listeners.append(listener)

    def add_rung_listener(self, listener: RungListener) -> None:
        """Told the rung of every model already known, then each change."""
        with self._lock:
            self._rung_listeners.append(listener)
            known = [(m, u.structured_output) for m, u in self._models.items()]
        for model, rung in known:
            if rung:
                listener(model, rung)

    def record_request(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        *,
        cached: bool = False,
        seconds: float = 0.0,
    ) -> None:
        with self._lock:
            usage = self._models.setdefault(model, ModelUsage())
            if cached:
                usage.cache_hits += 1
            else:
                usage.requests += 1
                usage.prompt_tokens += prompt_tokens
                usage.completion_tokens += completion_tokens
                usage.cost_usd += cost_usd
            listeners = list(self._listeners)
        for listener in listeners:
            listener(model, prompt_tokens, completion_tokens, cost_usd, cached, seconds)

    def record_failure(self, model: str, error_type: str) -> None:
        with self._lock:
            self._models.setdefault(model, ModelUsage()).failures += 1
            listeners = list(self._failure_listeners)
        for listener in listeners:
            listener(model, error_type)

    def record_rung(self, model: str, rung: str) -> None:
        with self._lock:
            self._models.setdefault(model, ModelUsage()).structured_output = rung
            listeners = list(self._rung_listeners)
        for listener in listeners:
            listener(model, rung)

    def record_format_refusal(self, model: str) -> None:
        with self._lock:
            self._models.setdefault(model, ModelUsage()).format_refusals += 1

    def record_retry(self, model: str) -> None:
        with self._lock:
            self._models.setdefault(model, ModelUsage()).retries += 1

    def for_model(self, model: str) -> ModelUsage:
        with self._lock:
            return ModelUsage(**asdict(self._models.get(model, ModelUsage())))

    @property
    def total_cost_usd(self) -> float:
        with self._lock:
            return sum(usage.cost_usd for usage in self._models.values())

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(usage.requests for usage in self._models.values())

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        """Per-model counters as plain dicts (JSON-ready)."""
        with self._lock:
            return {model: asdict(usage) for model, usage in sorted(self._models.items())}
