"""HTTP endpoints for the orchestrator: ``/metrics``, ``/healthz`` (alive), ``/readyz``."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

logger = logging.getLogger(__name__)


class HealthServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        is_live: Callable[[], bool],
        is_ready: Callable[[], bool],
        not_ready_reason: Callable[[], str] | None = None,
        host: str,
        port: int,
    ) -> None:
        self._registry = registry
        self._is_live = is_live
        self._is_ready = is_ready
        self._not_ready_reason = not_ready_reason
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Serve; returns the bound port (useful when ``port`` is 0 in tests)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        logger.info("metrics and health on http://%s:%d", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _: web.Request) -> web.Response:
        ok = self._is_live()
        return web.json_response({"status": "ok" if ok else "failing"}, status=200 if ok else 503)

    async def _readyz(self, _: web.Request) -> web.Response:
        ok = self._is_ready()
        body = {"status": "ready" if ok else "not ready"}
        if not ok and self._not_ready_reason is not None:
            body["reason"] = self._not_ready_reason()
        return web.json_response(body, status=200 if ok else 503)
