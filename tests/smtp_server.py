"""A real aiosmtpd server on 127.0.0.1 for the SMTP tests, with the faults the issue asks
for: a refused recipient, a deferral, a connection dropped before or during DATA."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Handler:
    refuse: set[str] = field(default_factory=set)
    #: RCPT answers 451 this many times per address before accepting
    defer: dict[str, int] = field(default_factory=dict)
    #: drop the connection at MAIL FROM this many times
    drop_at_mail: int = 0
    #: drop the connection after reading DATA for these recipients (answer lost)
    drop_at_data: set[str] = field(default_factory=set)
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        with self.lock:
            drop = self.drop_at_mail > 0
            if drop:
                self.drop_at_mail -= 1
        if drop:
            server.transport.close()
            return "421 4.3.2 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        with self.lock:
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.received.append(msg)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if set(envelope.rcpt_tos) & self.drop_at_data:
            server.transport.close()
        return "250 2.0.0 queued"

    def delivered_to(self) -> list[str]:
        return [to for _, tos in self.envelopes for to in tos]


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"smtp-secret-pw"
    return AuthResult(success=ok, handled=False)


def self_signed(tmp_path: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 made with the openssl command, or None without it."""
    if not shutil.which("openssl"):
        return None
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def start(handler: Handler, *, port: int = 0, auth: bool = False, tls_context: Any = None, **kw: Any) -> Controller:
    extra: dict[str, Any] = {}
    if auth:
        extra.update(authenticator=_authenticate, auth_require_tls=tls_context is not None)
    if tls_context is not None:
        extra.update(tls_context=tls_context, require_starttls=True)
    if not port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, **extra, **kw)
    controller.start()
    return controller
