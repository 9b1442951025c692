"""SMTP through the standard library's ``smtplib`` (README: Transports).

One connection per worker thread, reused across batches; STARTTLS (RFC 3207), implicit
TLS (RFC 8314) or, for loopback tests only, none. The password comes from the
environment variable ``[transport.smtp] password_env`` names.

Each message goes through MAIL, RCPT and DATA by hand rather than ``sendmail`` so a
failure says how far the message got:

* before DATA's final reply is awaited (connection dropped at MAIL/RCPT, or an idle
  connection the server closed): nothing was accepted, reconnect and retry;
* RCPT refused (``SMTPRecipientsRefused`` in sendmail's terms): that entry fails alone;
* a 4xx reply: retry up to ``max_retries``; a 5xx reply: failed with the server's words;
* the connection lost during DATA: the server may have queued it, so ``unknown``
  (never resent automatically, as for SendGrid).
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from email.errors import HeaderDefect
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from scheduler.content.groups import Batch
from scheduler.content.message import POLICY, Outgoing, to_email_message
from scheduler.content.mime import GroupMime, GroupMimes, unaddressable
from scheduler.core.outcomes import Result, State
from scheduler.errors import MissingSecret, TransportError
from scheduler.transports.base import Settings, Transport, answers_kept, unsupported_feature

log = logging.getLogger("scheduler.transports.smtp")

#: RFC 5321 section 2.3.8: CRLF ends every line on the wire
_WIRE = POLICY.clone(linesep="\r\n")
#: RFC 6532: headers as UTF-8, for a server that offers SMTPUTF8
_WIRE_UTF8 = _WIRE.clone(utf8=True)  # type: ignore[call-arg]


class SmtpSettings(Settings):
    """``[transport.smtp]``"""

    #: required: an empty host would make smtplib talk to localhost without a word
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str = "SMTP_PASSWORD"
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    #: attempts after a dropped connection or a 4xx answer before the entry fails
    max_retries: Annotated[int, Field(ge=0, le=20)] = 3

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f'must name the SMTP server, e.g. "smtp.example.org" (got {value!r})')
        return value.strip()


class _Retry(Exception):
    """Nothing was accepted; reconnect and try this message again. ``connection``: the
    server could not be reached or dropped the connection (not a 4xx answer)."""

    def __init__(self, message: str, *, connection: bool = False) -> None:
        super().__init__(message)
        self.connection = connection


def _text(resp: bytes | str) -> str:
    value = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(value.split())[:300]


class SmtpTransport(Transport):
    name = "smtp"
    settings_model = SmtpSettings
    max_batch = 100

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.password: str | None = None
        if self.settings.username:
            self.password = os.environ.get(self.settings.password_env)
            if not self.password:
                raise MissingSecret(self.settings.password_env, "transport.smtp.password_env")
        self.sleep = sleep
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._local = threading.local()
        self._all: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        #: connections opened, for tests and the log
        self.connects = 0
        self.mimes = GroupMimes(linesep="\r\n")

    @classmethod
    def from_config(cls, options: Any, base_dir: Path) -> SmtpTransport:
        return cls(options.smtp)

    def __repr__(self) -> str:
        return f"SmtpTransport({self.settings.host}:{self.settings.port}, password=<hidden>)"

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn: smtplib.SMTP
            if s.security == "tls":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self.ssl_context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            conn.ehlo()
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    conn.close()
                    raise TransportError(
                        f"SMTP server {s.host}:{s.port} does not offer STARTTLS; set transport.smtp.security",
                        fatal=True,
                    )
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if s.username:
                conn.login(s.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(
                f"SMTP server {s.host}:{s.port} refused the login for {s.username!r} ({exc.smtp_code} "
                f"{_text(exc.smtp_error)}); check ${s.password_env}",
                fatal=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _Retry(f"cannot connect to SMTP server {s.host}:{s.port}: {exc}", connection=True) from None
        with self._lock:
            self._all.append(conn)
            self.connects += 1
        return conn

    def _conn(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                with contextlib.suppress(OSError):
                    conn.close()
        self._local = threading.local()

    # -- the pipeline ------------------------------------------------------------------

    def prepare(self, batch: Batch) -> GroupMime:
        return self.mimes.get(batch.envelope, batch.personal)

    def send_group(self, batch: Batch, prepared: Any = None) -> list[Result]:
        """Each recipient's message from the group's, built once (README: Transports);
        a non-ASCII address's is made whole with UTF-8 headers when it goes out."""
        mime: GroupMime = prepared if isinstance(prepared, GroupMime) else self.prepare(batch)
        messages = batch.messages()
        payload = [
            (m, mime.message(m, r.substitutions() if batch.personal else {}) if _ascii(m) else None)
            for m, r in zip(messages, batch.recipients, strict=True)
        ]
        results = self.post_to_esp(payload, messages)
        if len(results) != len(messages):  # the check send_batch makes
            raise TransportError(f"smtp returned {len(results)} results for {len(messages)} messages")
        return results

    def build_message_payload(self, messages: Sequence[Outgoing]) -> list[tuple[Outgoing, bytes | None]]:
        """Messages one by one, through the ``email`` package (the reference path)."""
        return [(m, to_email_message(m).as_bytes(policy=_WIRE) if _ascii(m) else None) for m in messages]

    def post_to_esp(self, payload: list[tuple[Outgoing, bytes | None]], messages: Sequence[Outgoing]) -> list[Result]:
        done: list[Result] = []
        # A reconnect whose login fails stops the run; what went before is recorded.
        with answers_kept(done):
            for out, data in payload:
                done.append(self._send_one(out, data))
        return done

    def parse_recipient_status(self, response: list[Result], messages: Sequence[Outgoing]) -> list[Result]:
        return response

    def _send_one(self, out: Outgoing, data: bytes | None) -> Result:
        entry = out.entry_id or 0
        attempt = 0
        while True:
            try:
                state, reason = self._transaction(out, data)
                if state is State.SENT:
                    return Result(entry, State.SENT, out.message_id, None)
                return Result(entry, state, None, reason)
            except _Retry as exc:
                self._drop()
                if attempt >= self.settings.max_retries:
                    if exc.connection:
                        # The server cannot be reached: stop the run and give the unsent
                        # claims back, rather than fail every subscriber one by one.
                        raise TransportError(
                            f"{exc} (gave up after {attempt + 1} attempts); stopped, nothing more was sent",
                            fatal=True,
                        ) from None
                    return Result(entry, State.FAILED, None, f"{exc} (gave up after {attempt + 1} attempts)")
                wait = min(30.0, 0.5 * 2**attempt)
                log.warning("%s; retrying in %.1f s", exc, wait)
                self.sleep(wait)
                attempt += 1

    def _transaction(self, out: Outgoing, data: bytes | None) -> tuple[State, str | None]:
        """``data``: the message on the wire, or None for one to a non-ASCII address."""
        conn = self._conn()
        options: list[str] = []
        if data is None:
            # RFC 6531: a non-ASCII address needs SMTPUTF8 on the server.
            if not conn.has_extn("smtputf8"):
                return State.FAILED, str(
                    unsupported_feature("smtp", f"a non-ASCII address (server {self.settings.host} lacks SMTPUTF8)")
                )
            options = ["SMTPUTF8", "BODY=8BITMIME"]
            try:
                data = to_email_message(out).as_bytes(policy=_WIRE_UTF8)
            except HeaderDefect as exc:
                return State.FAILED, unaddressable(self.name, out.to_email, exc)
        try:
            code, resp = conn.mail(out.from_email, options)
            if code != 250:
                conn.rset()
                return self._refused("MAIL FROM", code, resp)
            code, resp = conn.rcpt(out.to_email)
            if code not in (250, 251):
                conn.rset()
                return self._refused(f"RCPT TO <{out.to_email}>", code, resp)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Retry(f"SMTP connection lost before the message was handed over ({exc})", connection=True) from None
        try:
            code, resp = conn.data(data)
        except smtplib.SMTPDataError as exc:
            conn.rset()
            return self._refused("DATA", exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            return State.UNKNOWN, (
                f"SMTP connection lost during DATA ({exc}): the server may have accepted it; not resent automatically"
            )
        return State.SENT, None

    def _refused(self, stage: str, code: int, resp: bytes | str) -> tuple[State, str | None]:
        if 400 <= code < 500:
            raise _Retry(f"SMTP server deferred {stage}: {code} {_text(resp)}")
        return State.FAILED, f"SMTP server refused {stage}: {code} {_text(resp)}"


def _ascii(out: Outgoing) -> bool:
    return out.to_email.isascii() and out.from_email.isascii()
