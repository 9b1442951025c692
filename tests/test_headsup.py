"""The organizers' heads-up: sent by the daemon heads_up_days before
a campaign year's first send, once, with the check result and a preview of each stage."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner
from daemon_helpers import (
    SEASON_ZONES,
    Z,
    add_subscribers,
    campaign_toml,
    project,
    read_outbox,
    stepping_daemon,
)

from scheduler.cli import cli
from scheduler.store import Store

ORGANIZERS = ["ana@example.org", "bo@example.org"]


def test_heads_up_goes_to_the_organizers_30_days_before_the_first_send_once_with_check_and_previews(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with time_machine.travel(Z("2027-02-01T00:00"), tick=False) as traveller:
        config_path, config = project(tmp_path, campaign_toml(), organizers=ORGANIZERS)
        add_subscribers(config, {z: 2 for z in SEASON_ZONES}, datetime.now(UTC))
        add_subscribers(config, {"Asia/Baku": 3}, datetime.now(UTC), language="az", tag="az")
        # A language the campaign has no templates for is sent in its first, en.
        add_subscribers(config, {"Europe/Moscow": 1}, datetime.now(UTC), language="ru")
        # A hand-written number the check flags: the heads-up must carry it.
        tpl = tmp_path / "templates/black-january/en/reminder.subject.j2"
        tpl.write_text(tpl.read_text(encoding="utf-8").strip() + " (our 23rd year)\n", encoding="utf-8")

        daemon, sched = stepping_daemon(config_path)
        daemon.arm(datetime.now(UTC))
        sched.start()
        sched.step()
        assert read_outbox(config.outbox_dir) == []  # not yet
        # The first send is the reminder at 02:30 on 28 March in Pacific/Kiritimati
        # (12:30 UTC on the 27th); 30 days earlier is 25 February 12:30 UTC.
        assert sched.next_planned() == Z("2027-02-25T12:30")
        traveller.move_to(Z("2027-02-25T12:30"))
        sched.step()
        # Later wakes, and a second daemon on the same database, do not send it again.
        traveller.move_to(Z("2027-02-26T00:00"))
        daemon.tick(datetime.now(UTC))
        other, other_sched = stepping_daemon(config_path)
        other.arm(datetime.now(UTC))
        other_sched.start()
        other_sched.step()

    mails = read_outbox(config.outbox_dir)
    assert sorted(m.to for m in mails) == ORGANIZERS
    assert {m.stage for m in mails} == {"heads-up"} and {m.date for m in mails} == {Z("2027-02-25T12:30")}
    text = mails[0].msg.get_body(("plain",)).get_content()
    assert mails[0].subject == "Heads-up: the 37th anniversary messages of Spring Remembrance go out on 28 March"
    assert text.startswith(
        "The 37th anniversary messages go out on 28 March at 02:30 local time to 14 subscribers in 2 languages."
    )
    assert "Subscribers: 14 active (az 3, en 11) in 6 time zone(s)." in text
    assert "reminder.subject.j2:1: subject: hand-written number '23rd' is wrong in 2027–2037" in text
    for stage in ("reminder", "day-of"):
        for lang in ("en", "az"):
            assert f"----- Preview: {stage}, {lang} -----\nSubject: " in text
    assert "(our 23rd year)\n" in text  # the preview is the rendered template
    row = Store(config.database_url).heads_up("spring", 2027)
    assert row is not None and row["state"] == "sent"
    assert sum("heads-up for spring 2027 sent to 2 organizer(s)" in r.getMessage() for r in caplog.records) == 1


def test_heads_up_not_sent_when_the_daemon_starts_after_the_first_send(tmp_path: Path) -> None:
    with time_machine.travel(Z("2027-03-27T13:00"), tick=False):  # Kiritimati's reminder went at 12:30
        config_path, config = project(tmp_path, campaign_toml(), organizers=ORGANIZERS)
        add_subscribers(config, {"Europe/Berlin": 1}, Z("2027-01-01T00:00"))
        add_subscribers(config, {"Pacific/Kiritimati": 1}, Z("2027-01-01T00:00"))
        daemon, sched = stepping_daemon(config_path)
        daemon.arm(datetime.now(UTC))
        sched.start()
        sched.step()
    assert [m.stage for m in read_outbox(config.outbox_dir)] == ["reminder"]  # Kiritimati's, caught up


def test_heads_up_print_command_shows_the_text_without_sending(tmp_path: Path) -> None:
    config_path, config = project(tmp_path, campaign_toml(languages=["en"]), organizers=ORGANIZERS)
    add_subscribers(config, {"Europe/Berlin": 1}, Z("2027-01-01T00:00"))
    result = CliRunner().invoke(cli, ["heads-up", "spring", "--year", "2027", "--print", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Subject: Heads-up: the 37th anniversary messages of Spring Remembrance")
    assert "to 1 subscriber in 1 language." in result.output
    assert not config.outbox_dir.exists()
