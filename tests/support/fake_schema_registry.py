"""A Confluent Schema Registry stand-in on loopback, for tests and benchmarks.

Real HTTP, so the client's URL handling, auth header and error mapping are exercised. It
implements what the service uses: register a version under a subject (same schema, same id),
get a schema by id, list subjects and their versions; plus optional basic auth and a switch
that makes every request answer 503.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass
class FakeSchemaRegistry:
    username: str | None = None
    password: str | None = None
    unavailable: bool = False
    schemas: dict[int, str] = field(default_factory=dict)
    subjects: dict[str, list[int]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/subjects/{subject}/versions", self._register)
        app.router.add_get("/schemas/ids/{schema_id}", self._schema_by_id)
        app.router.add_get("/subjects", self._list_subjects)
        app.router.add_get("/subjects/{subject}/versions", self._list_versions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def add_schema(self, subject: str, schema: str) -> int:
        canonical = _canonical(schema)
        same = [i for i, known in self.schemas.items() if _canonical(known) == canonical]
        schema_id = same[0] if same else len(self.schemas) + 1
        self.schemas.setdefault(schema_id, schema)
        versions = self.subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        self.authorizations.append(request.headers.get("Authorization"))
        if self.unavailable:
            return _error(503, 50003, "unavailable")
        if self.username is not None:
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {expected}":
                return _error(401, 40101, "Unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    async def _register(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            schema = body["schema"]
            json.loads(schema)
        except (ValueError, KeyError, TypeError):
            return _error(422, 42201, "Invalid schema")
        return _reply({"id": self.add_schema(request.match_info["subject"], schema)})

    async def _schema_by_id(self, request: web.Request) -> web.Response:
        schema = self.schemas.get(int(request.match_info["schema_id"]))
        if schema is None:
            return _error(404, 40403, "Schema not found")
        return _reply({"schema": schema})

    async def _list_subjects(self, request: web.Request) -> web.Response:
        return _reply(sorted(self.subjects))

    async def _list_versions(self, request: web.Request) -> web.Response:
        versions = self.subjects.get(request.match_info["subject"])
        if versions is None:
            return _error(404, 40401, "Subject not found")
        return _reply(list(range(1, len(versions) + 1)))


def _canonical(schema: str) -> str:
    return json.dumps(json.loads(schema), sort_keys=True)


def _reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type=_CONTENT_TYPE)


def _error(status: int, code: int, message: str) -> web.Response:
    return _reply({"error_code": code, "message": message}, status)
