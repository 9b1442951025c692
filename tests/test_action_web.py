"""The action page through the web app (FastAPI's TestClient, a real SQLite file, the
outbox): the form's contract, its words in every language, bad input answered in the
page's language with nothing sent, a replayed form, an expired link."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from conftest import Project
from web_helpers import Web, make_web

from scheduler.web.action_i18n import STRINGS

ADDRESS = "350 Fifth Avenue, New York, NY 10118, USA"


@pytest.fixture
def web(project: Project) -> Web:
    return make_web(project)


def _action_path(web: Web, email_: str, **kw: str) -> str:
    """A confirmed subscriber's action link for 2027, as the messages carry it."""
    web.subscribe_and_confirm(email_, **kw)
    sid = int(web.row(email_, "id"))  # type: ignore[arg-type]
    return f"{web.base}/action/{web.app_state().lifecycle.keyring.action(sid, 'black-january', 2027)}"


def _text(page: str) -> str:
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
    return re.sub(r" ([,.:])", r"\1", text)


def test_every_language_has_every_word() -> None:
    for language, words in STRINGS.items():
        assert set(words) == set(STRINGS["en"]), language


def test_pick_a_region_edit_and_send_then_see_it_sent(web: Web) -> None:
    path = _action_path(web, "leyla@example.com", name="Leyla")
    page = web.client.get(path)
    assert page.status_code == 200
    assert "Letters sent for the 37th anniversary so far: 0" in _text(page.text)
    assert "Choose your region above" in _text(page.text)
    assert 'name="letter"' not in page.text  # no letter form before a region is chosen
    page = web.client.get(path, params={"region": "US-NY"})
    assert "Sample Legislator Three (example), Assembly Member (sample) (District 3)" in _text(page.text)
    assert "On Wednesday, January 20, 2027, we mark the 37th anniversary" in page.text
    form = {
        "csrf_token": web.csrf(page.text),
        "region": "US-NY",
        "name": "Leyla Mammadova",
        "address": ADDRESS,
        "letter": "Dear Member,\r\n\r\nPlease remember the victims of 20 January 1990.",
    }
    sent = web.client.post(path, data=form)
    assert sent.status_code == 200, sent.text
    text = _text(sent.text)
    assert "Thank you. Your letter is on its way." in text
    assert "Letters sent for the 37th anniversary so far: 1" in text
    assert "Sample Legislator Three (example), Assembly Member (sample) — sent" in text
    to = sorted(m["To"].addresses[0].addr_spec for m in web.messages() if "Your letter" in str(m["Subject"]))
    assert to == ["leyla@example.com"]
    assert web.row("leyla@example.com", "region") == "US-NY"
    again = web.client.get(path)
    assert "You have already sent your letter for this anniversary" in _text(again.text)
    assert 'name="letter"' not in again.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("letter", "", "Letter: please fill this in."),
        ("letter", "y" * 5001, "Letter: this is too long."),
        ("name", "", "Name: please fill this in."),
        ("address", "", "Postal address: please fill this in."),
        ("region", "DE-BY", "Region: we have no legislators for this region yet; please choose another."),
        ("name", "<script>alert(1)</script>", "Name: please leave out the characters < and >."),
        ("address", "1 Main St\r\nBcc: x@example.net", "Postal address: please keep this on one line"),
    ],
)
def test_bad_input_is_answered_on_the_page_and_nothing_is_sent(web: Web, field: str, value: str, message: str) -> None:
    path = _action_path(web, "leyla@example.com")
    before = len(web.messages())
    page = web.client.get(path, params={"region": "US-TX"})
    form = {"csrf_token": web.csrf(page.text), "region": "US-TX", "name": "Leyla", "address": ADDRESS}
    form["letter"] = "Dear Senator"
    form[field] = value
    answer = web.client.post(path, data=form)
    assert answer.status_code == 400
    assert message in _text(answer.text)
    assert "<script>alert" not in answer.text
    assert len(web.messages()) == before


def test_the_page_speaks_the_subscribers_language(web: Web) -> None:
    path = _action_path(web, "aysel@example.com", language="az")
    page = web.client.get(path, params={"region": "US-TX"})
    assert '<html lang="az">' in page.text
    assert "37-ci ildönümü üçün indiyədək göndərilən məktublar: 0" in _text(page.text)
    form = {"csrf_token": web.csrf(page.text), "region": "US-TX", "name": "", "address": ADDRESS, "letter": "Salam"}
    answer = web.client.post(path, data=form)
    assert "Ad: bu sahəni doldurun." in _text(answer.text)


def test_a_replayed_form_is_refused_in_the_pages_language(web: Web) -> None:
    path = _action_path(web, "leyla@example.com")
    page = web.client.get(path, params={"region": "US-TX"})
    form = {"csrf_token": web.csrf(page.text), "region": "US-TX", "name": "", "address": ADDRESS, "letter": "x"}
    assert web.client.post(path, data=form).status_code == 400
    form["name"] = "Leyla"
    answer = web.client.post(path, data=form)
    assert answer.status_code == 409
    assert "This form was already sent." in _text(answer.text)
    assert web.client.get(path).text.count("Letters sent for the 37th anniversary so far: 0") == 1


def test_an_expired_link_says_so(web: Web) -> None:
    path = _action_path(web, "leyla@example.com")
    web.clock.now = datetime(2028, 1, 19, 20, 0, tzinfo=UTC)
    page = web.client.get(path)
    assert page.status_code == 410
    assert "Each year's letter can be sent until the next anniversary." in _text(page.text)


def test_a_forged_link_opens_nothing(web: Web) -> None:
    path = _action_path(web, "leyla@example.com")
    assert web.client.get(path[:-3] + "abc").status_code == 404
