"""Every message of a campaign with an action carries the subscriber's own signed link to
the action page (``action_url``), while each content group is still rendered once: the
outbox files and SendGrid's substitutions give each recipient exactly what rendering
them alone gives, with a link that names them, the campaign and the year."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from conftest import SIGNING_KEY, Project
from sg_sink import Sink
from sg_world import NOW, REPO, make_config, make_store, signer, subscriber_rows

from scheduler.config import load_config
from scheduler.content.links import Signer
from scheduler.content.templates import SubscriberView
from scheduler.content.tokens import Keyring
from scheduler.delivery.runs import Delivery
from scheduler.lifecycle import Lifecycle
from scheduler.lifecycle.action import Actions, LetterForm
from scheduler.transports.sendgrid import SendgridTransport

LINK = re.compile(r"https://example\.org/anniversary/action/(a1\.[^\s\"<]+)")


def test_each_outbox_message_links_its_own_subscribers_action_page(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    rows = "a@example.com,Ana,en,America/Chicago\nb@example.com,Bəxtiyar,az,Asia/Baku\nc@example.com,,ru,UTC\n"
    run("subscribers", "import", str(project.write_csv(rows)))
    assert run("send", "black-january", "reminder", "--year", "2027", "--yes").exit_code == 0
    keyring = Keyring(Signer(SIGNING_KEY.encode()))
    seen = {}
    for path in project.emls():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        body = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        (token,) = LINK.findall(text)
        assert LINK.findall(body) == [token]
        seen[msg["To"].addresses[0].addr_spec] = keyring.read_action(token)
    assert seen == {
        "a@example.com": (1, "black-january", 2027),
        "b@example.com": (2, "black-january", 2027),
        "c@example.com": (3, "black-january", 2027),
    }


def test_a_campaign_without_an_action_prints_no_link(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    text = project.config.read_text(encoding="utf-8")
    start = text.index("  [campaign.action]")
    project.config.write_text(text[:start] + text[text.index("  [[campaign.stage]]") :], encoding="utf-8")
    run("subscribers", "import", str(project.write_csv("a@example.com,Ana,en,UTC\n")))
    assert run("send", "black-january", "day-of", "--year", "2027", "--yes").exit_code == 0
    (path,) = project.emls()
    raw = path.read_bytes().decode("ascii")
    assert "/action/" not in raw and "%anv-" not in raw
    assert "two clicks" not in raw


def test_sendgrid_substitutions_fill_each_link_as_rendering_alone_does(
    tmp_path: Path, sink: Sink, sendgrid_env: None
) -> None:
    make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    shutil.copy(REPO / "examples" / "targets.csv", tmp_path / "targets.csv")
    with (tmp_path / "config.toml").open("a", encoding="utf-8") as f:
        f.write('\n  [campaign.action]\n  targets = "targets.csv"\n')
    cfg = load_config(tmp_path / "config.toml")
    store = make_store(cfg, 24)
    sender = Delivery(cfg, store, signer(), transport=SendgridTransport(cfg.transport.sendgrid))
    sender.send_stage("black-january", "reminder", 2027, NOW)
    campaign = cfg.get_campaign("black-january")
    stage = campaign.get_stage("reminder")
    rows = {r.email: (i + 1, r) for i, r in enumerate(subscriber_rows(24))}
    keyring = Keyring(signer())
    checked = 0
    for request in sink.seen:
        text, body = (c["value"] for c in request.body["content"])
        assert text.count("%anv-act-t%") == 1  # rendered once, with the placeholder
        for p in request.body["personalizations"]:
            sid, row = rows[p["to"][0]["email"]]
            subject, t, h = request.body["subject"], text, body
            for key, value in p["substitutions"].items():
                subject, t, h = subject.replace(key, value), t.replace(key, value), h.replace(key, value)
            alone = sender.composer.render(
                campaign, stage, 2027, SubscriberView(row.name, row.language, row.timezone), sid
            )
            assert (subject, t, h) == (alone.subject, alone.text, alone.html)
            (token,) = LINK.findall(t)
            assert keyring.read_action(token) == (sid, "black-january", 2027)
            checked += 1
    assert checked == 24


def test_a_letter_through_sendgrid_names_the_target_and_replies_to_the_subscriber(
    tmp_path: Path, sink: Sink, sendgrid_env: None
) -> None:
    make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    shutil.copy(REPO / "examples" / "targets.csv", tmp_path / "targets.csv")
    with (tmp_path / "config.toml").open("a", encoding="utf-8") as f:
        f.write('\n  [campaign.action]\n  targets = "targets.csv"\n  copy_to_subscriber = false\n')
    lc = Lifecycle.open(load_config(tmp_path / "config.toml"))
    now = datetime(2027, 1, 10, tzinfo=UTC)
    person = {"email": "eve@example.com", "name": "Eve", "language": "en", "timezone": "UTC"}
    sid = lc.store.signup(person, {}, now).subscriber_id
    token = lc.keyring.action(sid, "black-january", 2027)
    actions = Actions(lc)
    form = LetterForm("US-NY", "Eve Example", "1 Main St, Albany, NY", "Dear Member,\nPlease remember them.")
    view, _ = actions.submit(token, form, actions.form_token(token, now), token, now)
    assert view.sent is not None and [d["state"] for d in view.sent["deliveries"]] == ["sent", "sent"]
    bodies = [s.body for s in sink.seen]
    assert sorted(b["personalizations"][0]["to"][0]["email"] for b in bodies) == [
        "member.three@example.org",
        "sen.four@example.org",
    ]
    for body in bodies:
        assert body["from"] == {"email": "commemorations@example.org", "name": "Example Network"}
        assert body["reply_to"] == {"email": "eve@example.com"}
        text = body["content"][0]["value"]
        assert text.startswith("Dear Member,\nPlease remember them.\n\nEve Example\n1 Main St, Albany, NY\n")
