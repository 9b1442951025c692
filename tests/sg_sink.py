"""A loopback stand-in for SendGrid's servers: the real ``sendgrid``
client talks HTTP to it; every body is validated against SendGrid's own OpenAPI spec of
mail send, and faults are injected per request. It serves SendGrid's suppression lists
too (empty unless a test fills them), which a run reads before it sends.

The spec lives outside the repo (``../shared/sendgrid-oai/tsg_mail_v3.yaml``); without
it these tests skip, saying so.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SPEC = Path(__file__).resolve().parents[2] / "shared" / "sendgrid-oai" / "tsg_mail_v3.yaml"
#: the suppression lists a run reads first (scheduler/transports/sendgrid_suppressions.py)
SUPPRESSION_LISTS = ("unsubscribes", "bounces", "blocks", "spam_reports", "invalid_emails")


def mail_send_validator() -> Any:
    if not SPEC.is_file():
        pytest.skip(f"SendGrid's OpenAPI spec is not at {SPEC}: cannot validate request bodies")
    return _validator()


@functools.cache
def _validator() -> Any:
    import jsonschema
    import yaml

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    schema = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        raise AssertionError("expected the mail send schema inline")
    # The spec declares the top-level custom_args a string; SendGrid takes an object
    # of string values, as at the personalization level.
    schema["properties"]["custom_args"] = {"type": "object", "additionalProperties": {"type": "string"}}
    root = {**schema, "components": spec["components"]}
    cls = jsonschema.validators.validator_for(root, default=jsonschema.Draft202012Validator)
    cls.check_schema(root)
    return cls(root)


@dataclass
class Fault:
    """What the sink does with one request instead of a plain 202."""

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    #: sleep this long before answering (a response slower than the client's timeout)
    delay: float = 0.0
    #: read the body, then close the connection without a word (the answer is lost)
    drop: bool = False
    #: close before reading the body (the request never fully arrives)
    refuse: bool = False


@dataclass
class Seen:
    body: dict[str, Any]
    fault: Fault
    authorization: str
    message_id: str | None
    #: the request body's length in bytes, as sent
    size: int = 0

    @property
    def accepted(self) -> bool:
        """Would real SendGrid have sent this? (a 2xx, even if the answer was lost)"""
        return 200 <= self.fault.status < 300 and not self.fault.refuse

    def addresses(self) -> list[str]:
        return [p["to"][0]["email"] for p in self.body.get("personalizations", [])]


class Sink:
    def __init__(self, validate: bool = True) -> None:
        self.validator = mail_send_validator() if validate else None
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        #: SendGrid's suppression lists, served at GET /v3/suppression/{name} (see handle_get)
        self.suppressions: dict[str, list[dict[str, Any]]] = {name: [] for name in SUPPRESSION_LISTS}
        #: the GET requests seen: (path, query, Authorization header)
        self.gets: list[tuple[str, dict[str, list[str]], str]] = []
        #: faults for GET requests, in order (POSTs take theirs from ``faults``)
        self.get_faults: list[Fault] = []
        #: when set, a GET without "Bearer <this>" is answered 401, as SendGrid answers it
        self.api_key: str | None = None
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                sink.handle(self)

            def do_GET(self) -> None:
                sink.handle_get(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            fault = self.faults.pop(0) if self.faults else Fault()
        if fault.refuse:
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        length = int(h.headers.get("Content-Length", 0))
        raw = h.rfile.read(length)
        problems: list[str] = []
        if h.path != "/v3/mail/send":
            problems.append(f"unexpected path {h.path}")
        media_type = h.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            problems.append(f"Content-Type should be application/json, not {h.headers.get('Content-Type')!r}")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            body = {}
            problems.append(f"not JSON: {exc}")
        if self.validator is not None and body:
            problems += [
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self.validator.iter_errors(body)
            ]
        message_id = uuid.uuid4().hex[:22] if 200 <= fault.status < 300 else None
        with self.lock:
            self.errors.extend(problems)
            self.seen.append(Seen(body, fault, h.headers.get("Authorization", ""), message_id, len(raw)))
        if problems and fault.status == 202:
            self._answer(h, 400, {}, {"errors": [{"message": p, "field": None} for p in problems[:5]]})
            return
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        headers = dict(fault.headers)
        if message_id:
            headers["X-Message-Id"] = message_id
        self._answer(h, fault.status, headers, fault.body)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        if data:
            h.send_header("Content-Type", "application/json")
        h.end_headers()
        h.wfile.write(data)

    def handle_get(self, h: BaseHTTPRequestHandler) -> None:
        """SendGrid's suppression endpoints: ``limit`` (at most 500), ``offset`` and
        ``start_time``/``end_time`` (Unix seconds, on ``created``), newest first."""
        from urllib.parse import parse_qs, urlsplit

        url = urlsplit(h.path)
        query = parse_qs(url.query)
        auth = h.headers.get("Authorization", "")
        with self.lock:
            self.gets.append((url.path, query, auth))
            fault = self.get_faults.pop(0) if self.get_faults else Fault(200)
        if fault.refuse or fault.drop:
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status != 200 or fault.body is not None:
            self._answer(h, fault.status, fault.headers, fault.body)
            return
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            self._answer(h, 401, {}, {"errors": [{"field": None, "message": "authorization required"}]})
            return
        name = url.path.removeprefix("/v3/suppression/")
        if not url.path.startswith("/v3/suppression/") or name not in self.suppressions:
            self._answer(h, 404, {}, {"errors": [{"field": None, "message": f"unexpected path {url.path}"}]})
            return
        limit = min(int(query.get("limit", ["500"])[0]), 500)
        offset = int(query.get("offset", ["0"])[0])
        start = int(query.get("start_time", ["0"])[0])
        end = int(query.get("end_time", [str(2**62)])[0])
        rows = sorted(self.suppressions[name], key=lambda r: -int(r["created"]))
        rows = [r for r in rows if start <= int(r["created"]) <= end]
        data = json.dumps(rows[offset : offset + limit]).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def accepted_addresses(self) -> list[str]:
        return [a for s in self.seen if s.accepted for a in s.addresses()]

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def running_sink(validate: bool = True) -> Iterator[Sink]:
    with Sink(validate) as sink:
        yield sink
