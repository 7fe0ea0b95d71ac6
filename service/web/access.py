"""What ``sourcier serve`` writes to its log: JSON lines, and no reader's address or question by default.

The README promises that questions are recorded only with ``SOURCIER_QUERY_LOG`` and never with an address.
uvicorn's own access log broke that promise in every line (``127.0.0.1:50412 - "GET /api/ask?q=… HTTP/1.1"
200``), so it is off, and this module's middleware writes the access log instead, as
``SOURCIER_ACCESS_LOG`` says:

- ``paths`` (default): method, path without its query string, status and duration;
- ``full``: the client address and the query string too — personal data (a reader's address and what
  they asked): an operator turns it on knowingly, for debugging, and keeps those logs accordingly;
- ``off``: no access log.

Every record, uvicorn's and Sourcier's, is one JSON object per line (``time``, ``level``, ``logger``,
``message`` and the access fields), for log shippers.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS = logging.getLogger("sourcier.access")
FIELDS = ("method", "path", "query", "client", "status", "ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the access fields when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's ``log_config``: every logger through the JSON formatter to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"level": "WARNING"},  # never used: uvicorn runs with access_log=False
        },
    }


class AccessLog:
    """ASGI middleware: one ``sourcier.access`` record per HTTP request, as ``mode`` allows."""

    def __init__(self, app: ASGIApp, mode: str) -> None:
        self.app = app
        self.mode = mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.mode == "off":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the reader gets if the app fails before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            fields: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if self.mode == "full":
                client = scope.get("client")
                fields["client"] = f"{client[0]}:{client[1]}" if client else None
                fields["query"] = scope.get("query_string", b"").decode("latin-1")
            ACCESS.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
