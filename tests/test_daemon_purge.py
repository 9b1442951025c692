"""The daemon deletes sign-ups never confirmed once ``web.purge_pending_days`` have
passed (README: The web app); a confirmed or older subscriber is never touched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from daemon_helpers import Z, add_subscribers, campaign_toml, project, stepping_daemon

from scheduler.store import Store


def test_a_wake_deletes_only_sign_ups_left_unconfirmed_past_the_purge_days(tmp_path: Path) -> None:
    config_path, config = project(tmp_path, campaign_toml() + "\n[web]\npurge_pending_days = 3\n")
    signed_up = Z("2027-02-01T09:00")
    add_subscribers(config, {"UTC": 2}, signed_up)
    store = Store(config.database_url)
    person = {"name": "", "language": "en", "timezone": "UTC"}
    store.signup({"email": "never@example.com", **person}, {}, signed_up)
    late = store.signup({"email": "late@example.com", **person}, {}, signed_up + timedelta(days=2))
    daemon, _ = stepping_daemon(config_path)

    daemon.tick(signed_up + timedelta(days=3) - timedelta(minutes=1))
    assert store.count_subscribers() == {"active": 2, "pending": 2}
    daemon.tick(signed_up + timedelta(days=3, minutes=1))
    assert store.count_subscribers() == {"active": 2, "pending": 1}
    assert store.get_subscriber("never@example.com") is None
    assert store.subscriber(late.subscriber_id) is not None
    store.close()
