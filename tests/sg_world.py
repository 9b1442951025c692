"""A small world for the delivery tests: a config.toml in tmp_path with a copy of the
repository's templates, a real SQLite file, and subscribers in it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from scheduler.config import Config, load_config
from scheduler.content.links import Signer
from scheduler.store import Store, SubscriberRow

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2027, 1, 13, 6, 0, tzinfo=UTC)
API_KEY = "SG.test-key-Zq81-do-not-log.abcdefghijklmnop"
SIGNING_KEY = "signing-key-for-tests-0123456789"


def make_config(tmp_path: Path, transport: str = "", *, kind: str = "sendgrid") -> Config:
    shutil.copytree(REPO / "templates", tmp_path / "templates", dirs_exist_ok=True)
    text = f"""
[database]
url = "sqlite:///subscribers.db"

[sender]
from_email = "commemorations@example.org"
from_name = "Example Network"
postal_address = "1 Example St, Washington, DC 20001, USA"
public_url = "https://example.org/anniversary"

[transport]
kind = "{kind}"
{transport}

[[campaign]]
id = "black-january"
title = "Black January"
event_date = 1990-01-20
timezone = "Asia/Baku"
silence_time = 12:00:00
languages = ["en", "az", "ru", "tr"]
templates = "templates/black-january"

  [[campaign.stage]]
  id = "reminder"
  days_before = 7
  send_time = 10:00:00

  [[campaign.stage]]
  id = "day-of"
  days_before = 0
  send_time = 08:00:00
"""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


ZONES = ["Asia/Baku", "Europe/Berlin", "America/Los_Angeles"]
LANGS = ["en", "az", "ru", "tr"]


def subscriber_rows(n: int, *, start: int = 0) -> list[SubscriberRow]:
    rows = []
    for i in range(start, start + n):
        name = "" if i % 7 == 3 else f"Person {i} <&> Əliyeva"
        rows.append(SubscriberRow(f"person{i}@example.com", name, LANGS[i % 4], ZONES[i % 3]))
    return rows


def make_store(config: Config, n: int) -> Store:
    store = Store(config.database_url)
    store.upsert_subscribers(subscriber_rows(n), "import", NOW)
    return store


def signer() -> Signer:
    return Signer(SIGNING_KEY.encode())


def ledger_states(store: Store, stage: str = "reminder", year: int = 2027) -> dict[str, str]:
    """{email: state} over every ledger entry of the stage."""
    return {e["email"]: e["state"] for e in store.entries("black-january", year, stage)}
