"""The daemon sends the letters a target's hourly limit held back: each wake drains what
the queue lets go, in order (README: The statement for the record)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from daemon_helpers import ROOT, Z, add_subscribers, campaign_toml, project, stepping_daemon

from scheduler.store import Store

ACTION = '\n  [campaign.action]\n  targets = "targets.csv"\n  per_target_per_hour = 2\n  copy_to_subscriber = false\n'


def test_each_wake_sends_what_the_hourly_limit_lets_go(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "targets.csv", tmp_path / "targets.csv")
    config_path, config = project(tmp_path, campaign_toml() + ACTION)
    now = Z("2027-02-01T09:00")
    add_subscribers(config, {"UTC": 5}, now)
    store = Store(config.database_url)
    for sid in range(1, 6):
        letter = {
            "campaign": "spring", "year": 2027, "subscriber_id": sid, "language": "en", "region": "US-TX",
            "name": f"Writer {sid}", "address": "1 Main St", "subject": "For the record", "text": "Dear Senator,\n",
        }  # fmt: skip
        store.record_letter(letter, [{"email": "rep.one@example.org", "name": "Rep One"}], now, copy=False)
    daemon, _ = stepping_daemon(config_path)

    def sent() -> list[int]:
        return [i for i in range(1, 6) if store.letter_of("spring", 2027, i)["deliveries"][0]["state"] == "sent"]  # type: ignore[index]

    daemon.tick(now)
    assert sent() == [1, 2]
    daemon.tick(now + timedelta(minutes=30))
    assert sent() == [1, 2]
    daemon.tick(now + timedelta(hours=1, minutes=1))
    assert sent() == [1, 2, 3, 4]
    daemon.tick(now + timedelta(hours=2, minutes=2))
    assert sent() == [1, 2, 3, 4, 5]
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 5
    store.close()
