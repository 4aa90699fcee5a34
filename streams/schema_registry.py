"""A small async client of the Confluent Schema Registry REST API.

Two calls are enough for the wire format: register a schema under a subject (its id goes into
every message we write) and fetch a schema by id (to read a message someone else wrote). Both
are cached for the life of the client, since an id never changes its schema.

Credentials come from the URL's user info or ``auth``; they are stripped from the URL kept for
messages, so no log line or exception shows them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp

logger = logging.getLogger(__name__)

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class SchemaRegistryError(Exception):
    """The registry refused a request; retrying the same request cannot help."""


class SchemaNotFoundError(SchemaRegistryError):
    """No schema has the requested id."""


class SchemaRegistryUnavailableError(SchemaRegistryError):
    """Connection failure, timeout or 5xx: transient, worth retrying with backoff."""


def redact_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """(URL without user info, the user info as (username, password))."""
    parts = urlsplit(url)
    if parts.username is None:
        return url.rstrip("/"), None
    auth = (unquote(parts.username), unquote(parts.password or ""))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc)).rstrip("/"), auth


class SchemaRegistryClient:
    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url, url_auth = redact_url(url)
        credentials = auth or url_auth
        self._headers = {"Accept": _CONTENT_TYPE}
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, str] = {}
        self._locks: dict[object, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"SchemaRegistryClient({self.url!r})"

    async def register(self, subject: str, schema: str) -> int:
        """The id of ``schema`` (Avro JSON text) under ``subject``, registering it if new."""
        key = (subject, schema)
        async with self._lock(key):
            if key not in self._ids:
                path = f"/subjects/{quote(subject, safe='')}/versions"
                reply = await self._request("POST", path, {"schema": schema})
                if not isinstance(reply.get("id"), int):
                    raise SchemaRegistryError(f"schema registry {self.url} sent no schema id")
                schema_id = reply["id"]
                self._ids[key] = schema_id
                self._schemas.setdefault(schema_id, schema)
        return self._ids[key]

    async def schema_by_id(self, schema_id: int) -> str:
        """The Avro JSON text of schema ``schema_id``; SchemaNotFoundError if there is none."""
        async with self._lock(schema_id):
            if schema_id not in self._schemas:
                reply = await self._request("GET", f"/schemas/ids/{schema_id}", None)
                schema_type = reply.get("schemaType", "AVRO")
                if schema_type != "AVRO":
                    raise SchemaRegistryError(f"schema {schema_id} is {schema_type}, not AVRO")
                if not isinstance(reply.get("schema"), str):
                    raise SchemaRegistryError(f"schema registry {self.url} sent no schema")
                self._schemas[schema_id] = reply["schema"]
        return self._schemas[schema_id]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _lock(self, key: object) -> asyncio.Lock:
        # Concurrent first uses of one key wait for one request instead of each sending their own.
        return self._locks.setdefault(key, asyncio.Lock())

    async def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": _CONTENT_TYPE} if data is not None else {}
        try:
            async with self._session.request(
                method, self.url + path, data=data, headers=headers
            ) as response:
                raw = await response.content.read(_MAX_RESPONSE_BYTES)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SchemaRegistryUnavailableError(
                f"schema registry {self.url} unreachable: {type(exc).__name__}"
            ) from exc
        reply = _json_object(raw)
        if status >= 500 or status == 429:
            raise SchemaRegistryUnavailableError(f"schema registry {self.url} answered {status}")
        if status == 404 and path.startswith("/schemas/ids/"):
            raise SchemaNotFoundError(f"schema registry has no schema {path.rsplit('/', 1)[1]}")
        if status >= 400:
            message = str(reply.get("message", ""))[:200]
            raise SchemaRegistryError(f"schema registry {self.url} answered {status}: {message}")
        return reply


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
