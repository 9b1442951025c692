"""What the web app's tests share: the app around a real SQLite file in a copy of the
shipped project, a clock the test moves, and the confirmation emails the outbox
transport wrote, read back with the email package."""

from __future__ import annotations

import contextlib
import email
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from conftest import Project
from starlette.testclient import TestClient

from scheduler.config import load_config
from scheduler.web.app import create_app

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Web:
    project: Project
    client: TestClient
    clock: Clock
    base: str

    def app_state(self):  # type: ignore[no-untyped-def]
        return self.client.app.state  # type: ignore[attr-defined]

    def csrf(self, html: str) -> str:
        match = CSRF.search(html)
        assert match, html[:2000]
        return match.group(1)

    def sign_up(
        self, email_: str, *, name: str = "Aynur", language: str = "en", zone: str = "Asia/Baku", **headers: str
    ):  # type: ignore[no-untyped-def]
        page = self.client.get(f"{self.base}/subscribe", headers=headers)
        form = {
            "csrf_token": self.csrf(page.text),
            "email": email_,
            "name": name,
            "language": language,
            "timezone": zone,
        }
        return self.client.post(f"{self.base}/subscribe", data=form, headers=headers)

    def status(self, email_: str) -> str | None:
        return self.row(email_, "status")

    def row(self, email_: str, column: str) -> str | None:
        db = sqlite3.connect(self.project.root / "subscribers.db")
        try:
            found = db.execute(f"select {column} from subscriber where email = ?", (email_,)).fetchone()
        finally:
            db.close()
        return None if found is None else found[0]

    def messages(self) -> list[EmailMessage]:
        out = []
        for path in sorted(self.project.outbox.rglob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            out.append(email.message_from_bytes(path.read_bytes(), policy=policy.default))
        return out  # type: ignore[return-value]

    def link_in(self, message: EmailMessage, kind: str) -> str:
        """The path of the first ``{public_url}/{kind}/...`` link in the text part."""
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        match = re.search(r"https://\S+/" + kind + r"/\S+", text)
        assert match, text
        return urlsplit(match.group(0)).path

    def confirmation_path(self, email_: str) -> str:
        mine = [m for m in self.messages() if m["To"] and email_ in str(m["To"])]
        assert mine, f"no email to {email_}"
        return self.link_in(mine[-1], "confirm")

    def subscribe_and_confirm(self, email_: str, **kwargs: str) -> str:
        """A confirmed subscriber; returns their unsubscribe path."""
        assert self.sign_up(email_, **kwargs).status_code == 200
        path = self.confirmation_path(email_)
        page = self.client.get(path)
        done = self.client.post(path, data={"csrf_token": self.csrf(page.text)})
        assert done.status_code == 200, done.text
        assert self.status(email_) == "active"
        match = re.search(r'href="[^"]*/preferences/([^"]+)"', done.text)
        assert match
        return f"{self.base}/unsubscribe/{match.group(1)}"


def make_web(
    project: Project, *, public_url: str | None = None, extra_config: str = "", client: tuple[str, int] | None = None
) -> Web:
    if public_url is not None:
        project.edit_config('public_url = "https://example.org/anniversary"', f'public_url = "{public_url}"')
    if extra_config:
        text = project.config.read_text(encoding="utf-8")
        project.config.write_text(text + "\n" + extra_config, encoding="utf-8")
    config = load_config(project.config)
    clock = Clock()
    app = create_app(config, clock=clock)
    base = urlsplit(config.sender.public_url).path.rstrip("/")
    test_client = TestClient(
        app, raise_server_exceptions=False, follow_redirects=False, client=client or ("127.0.0.1", 50000)
    )
    return Web(project, test_client, clock, base)


def eml_paths(root: Path) -> list[Path]:
    return sorted(root.rglob("*.eml"))


class Forwarder:
    """A loopback TCP relay to a database server: stopping it makes the database
    unreachable to whoever connects through it, as a server that went away does."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.running:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for end in (src, dst):
            with contextlib.suppress(OSError):
                end.close()

    def stop(self) -> None:
        self.running = False
        # shutdown() wakes the accept() blocked in the other thread; close() alone would
        # leave the socket listening until that accept returned (Linux).
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for end in self.open:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
                end.close()


@contextlib.contextmanager
def serving(web: Web) -> Iterator[str]:
    """The web app on a free loopback port, in a thread, for a real browser; on the real
    clock, since a browser walk takes real time. Yields its base URL."""
    import time

    import uvicorn

    from scheduler.web.app import utc_clock

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(web.client.app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    web.client.app.state.clock = utc_clock  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
