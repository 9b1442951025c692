"""The web app's routes through Starlette's TestClient, on a real SQLite file in a copy
of the shipped project, with the outbox transport catching the confirmation emails:
double opt-in, RFC 8058 one-click, tokens bound to a purpose and a subscriber, forms
without cookies, hostile input, health, paths, headers and the client's address."""

from __future__ import annotations

import html
import re
import sqlite3
from urllib.parse import quote

import pytest
from conftest import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from web_helpers import Forwarder, Web, make_web

from scheduler.web.i18n import STRINGS
from scheduler.web.security import CSP, client_ip, networks

EN = STRINGS["en"]


@pytest.fixture
def web(project: Project) -> Web:
    return make_web(project)


def title_of(html: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert match, html[:500]
    return match.group(1)


# -- sign-up and confirmation -------------------------------------------------------


def test_sign_up_stays_pending_until_the_confirm_button_posts_and_opening_the_link_confirms_nothing(web: Web) -> None:
    answer = web.sign_up("aynur@example.com")
    assert (answer.status_code, title_of(answer.text)) == (200, EN["subscribed_title"])
    assert web.status("aynur@example.com") == "pending"
    [message] = web.messages()
    assert str(message["To"]) == "Aynur <aynur@example.com>"
    path = web.link_in(message, "confirm")
    assert path.startswith("/anniversary/confirm/c1.")

    page = web.client.get(path)
    assert page.status_code == 200 and title_of(page.text) == EN["confirm_title"]
    assert f'<form method="post" action="{path}">' in page.text and EN["confirm_button"] in page.text
    web.client.get(path)
    web.client.head(path)
    assert web.status("aynur@example.com") == "pending"

    done = web.client.post(path, data={"csrf_token": web.csrf(page.text)})
    assert (done.status_code, title_of(done.text)) == (200, EN["confirmed_title"])
    assert web.status("aynur@example.com") == "active"
    assert web.row("aynur@example.com", "confirmed_ip") == "127.0.0.1"
    assert web.row("aynur@example.com", "consent_page") == "https://example.org/anniversary/subscribe"
    assert web.row("aynur@example.com", "consent_wording").startswith("sha256:")


def test_an_expired_confirmation_link_is_a_410_page_that_says_sign_up_again(web: Web) -> None:
    web.sign_up("late@example.com")
    path = web.confirmation_path("late@example.com")
    page = web.client.get(path)
    web.clock.advance(hours=72)
    for answer in (web.client.get(path), web.client.post(path, data={"csrf_token": web.csrf(page.text)})):
        assert answer.status_code == 410
        assert title_of(answer.text) == "This link has expired; sign up again"
        assert 'href="/anniversary/subscribe"' in answer.text
    assert web.status("late@example.com") == "pending"


def test_signing_up_again_answers_exactly_as_for_a_new_address(web: Web) -> None:
    first = web.sign_up("new@example.com")
    web.subscribe_and_confirm("known@example.com")
    again_active = web.sign_up("known@example.com")
    again_pending = web.sign_up("new@example.com")
    assert first.status_code == again_active.status_code == again_pending.status_code == 200
    assert first.text == again_active.text == again_pending.text
    assert web.status("known@example.com") == "active"


def test_sign_ups_past_the_limit_for_one_address_are_429_with_retry_after(web: Web) -> None:
    for _ in range(3):
        assert web.sign_up("many@example.com").status_code == 200
    answer = web.sign_up("many@example.com")
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) > 0
    assert title_of(answer.text) == "Too many requests"
    assert re.search(r"Please try again in \d+ minutes\.", answer.text)


# -- one-click unsubscribe ----------------------------------------------------------


def _one_click(web: Web, path: str, encoding: str):  # type: ignore[no-untyped-def]
    if encoding == "multipart":
        return web.client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    return web.client.post(path, data={"List-Unsubscribe": "One-Click"})


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_one_click_post_to_the_list_unsubscribe_url_unsubscribes_and_the_next_run_due_skips_them(
    web: Web, run, project: Project, encoding: str
) -> None:
    rows = "stay@example.com,S,en,Asia/Baku\nleave@example.com,L,az,Asia/Baku\n"
    assert run("subscribers", "import", str(project.write_csv(rows))).exit_code == 0
    reminder = run("run-due", "--now", "2027-01-13T06:00:00Z")
    assert reminder.stdout == "black-january 2027 reminder (Asia/Baku): sent 2\n"
    [leaving] = [m for m in web.messages() if "leave@example.com" in str(m["To"])]
    assert leaving["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(https://[^>]+)>", str(leaving["List-Unsubscribe"])).group(1)  # type: ignore[union-attr]
    path = url.removeprefix("https://example.org")

    web.client.cookies.clear()
    answer = _one_click(web, path, encoding)
    assert answer.status_code == 200 and "location" not in answer.headers and "set-cookie" not in answer.headers
    assert title_of(answer.text) == STRINGS["az"]["unsubscribed_title"]
    assert web.status("leave@example.com") == "unsubscribed"
    assert _one_click(web, path, encoding).status_code == 200  # twice is harmless

    day_of = run("run-due", "--now", "2027-01-20T04:00:00Z")
    assert day_of.stdout == "black-january 2027 day-of (Asia/Baku): sent 1\n"
    db = sqlite3.connect(project.root / "subscribers.db")
    got = db.execute(
        "select s.email, l.stage from ledger l join subscriber s on s.id = l.subscriber_id order by 2, 1"
    ).fetchall()
    assert got == [("stay@example.com", "day-of"), ("leave@example.com", "reminder"), ("stay@example.com", "reminder")]


def test_get_of_the_unsubscribe_url_shows_a_button_and_never_unsubscribes(web: Web) -> None:
    path = web.subscribe_and_confirm("look@example.com")
    for _ in range(3):
        page = web.client.get(path)
        assert page.status_code == 200 and title_of(page.text) == EN["unsubscribe_title"]
    assert f'<form method="post" action="{path}">' in page.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert web.status("look@example.com") == "active"


@pytest.mark.parametrize("body", [{}, {"List-Unsubscribe": "yes"}, {"other": "One-Click"}])
def test_a_post_without_list_unsubscribe_one_click_is_400_and_changes_nothing(web: Web, body: dict[str, str]) -> None:
    path = web.subscribe_and_confirm("post@example.com")
    answer = web.client.post(path, data=body)
    assert answer.status_code == 400 and title_of(answer.text) == EN["error_bad_request_title"]
    assert web.status("post@example.com") == "active"


# -- tokens -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_forged_or_mutated_token_is_refused_and_unsubscribes_no_one(web: Web, data: st.DataObject) -> None:
    if web.status("victim@example.com") is None:
        web.subscribe_and_confirm("victim@example.com")
    good = web.app_state().keyring.unsubscribe(1)
    i = data.draw(st.integers(0, len(good) - 1))
    c = data.draw(st.characters(codec="utf-8", exclude_characters="/?#%"))
    forged = data.draw(st.sampled_from([good[:i] + c + good[i + 1 :], good[:i] + good[i + 1 :], good + c]))
    if forged == good:
        return
    path = f"{web.base}/unsubscribe/{quote(forged, safe='')}"
    answer = web.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 404, forged
    assert title_of(answer.text) == "This link is not valid"
    assert web.client.get(path).status_code == 404
    assert web.status("victim@example.com") == "active"


def test_tokens_for_another_purpose_or_subscriber_are_refused(web: Web) -> None:
    path_a = web.subscribe_and_confirm("a@example.com")
    web.subscribe_and_confirm("b@example.com")
    keyring = web.app_state().keyring
    token_a = path_a.rsplit("/", 1)[1]
    sid_b = int(web.row("b@example.com", "id"))  # type: ignore[arg-type]
    other_subscriber = f"v1.{sid_b}.{token_a.rsplit('.', 1)[1]}"
    confirm_token = keyring.confirm(1, web.clock.now.replace(year=2027))
    refused = {
        f"/anniversary/unsubscribe/{other_subscriber}": "post",
        f"/anniversary/unsubscribe/{confirm_token}": "post",
        f"/anniversary/preferences/{confirm_token}": "get",
        f"/anniversary/confirm/{token_a}": "get",
        f"/anniversary/unsubscribe/{keyring.action(1, 'black-january', 2027)}": "post",
        f"/anniversary/unsubscribe/{keyring.unsubscribe(999)}": "post",  # signed, but no one
    }
    for path, method in refused.items():
        answer = web.client.request(method, path, data={"List-Unsubscribe": "One-Click"} if method == "post" else None)
        assert (answer.status_code, title_of(answer.text)) == (404, "This link is not valid"), path
    assert web.status("a@example.com") == web.status("b@example.com") == "active"


# -- forms without cookies ------------------------------------------------------------


def _signup_form(web: Web, token: str) -> dict[str, str]:
    return {"csrf_token": token, "email": "csrf@example.com", "name": "", "language": "en", "timezone": "UTC"}


def test_the_sign_up_form_refuses_a_missing_forged_stale_or_replayed_token(web: Web) -> None:
    url = f"{web.base}/subscribe"
    token = web.csrf(web.client.get(url).text)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    confirm_form = web.app_state().lifecycle.form_token("confirm", "", web.clock.now)
    for bad in ("", forged, "f1.signup.-.1.x.y", confirm_form, "<script>"):
        answer = web.client.post(url, data=_signup_form(web, bad))
        assert (answer.status_code, title_of(answer.text)) == (403, EN["error_form_title"]), bad
    web.clock.advance(minutes=121)
    answer = web.client.post(url, data=_signup_form(web, token))
    assert (answer.status_code, title_of(answer.text)) == (403, EN["error_form_title"])
    assert web.status("csrf@example.com") is None and web.messages() == []

    fresh = web.csrf(web.client.get(url).text)
    assert web.client.post(url, data=_signup_form(web, fresh)).status_code == 200
    again = web.client.post(url, data=_signup_form(web, fresh))
    assert (again.status_code, title_of(again.text)) == (409, EN["error_replayed_title"])
    assert len(web.messages()) == 1


def test_a_confirm_form_token_works_only_for_its_own_link(web: Web) -> None:
    web.sign_up("one@example.com")
    web.sign_up("two@example.com")
    one, two = web.confirmation_path("one@example.com"), web.confirmation_path("two@example.com")
    token_for_one = web.csrf(web.client.get(one).text)
    answer = web.client.post(two, data={"csrf_token": token_for_one})
    assert answer.status_code == 403
    assert web.status("two@example.com") == "pending"


# -- hostile input ---------------------------------------------------------------------

HOSTILE = {
    "html": ('<img src=x onerror="alert(1)">', "markup"),
    "script": ("<script>alert(1)</script>", "markup"),
    "crlf": ("a\r\nBcc: all@example.com", "line_breaks"),
    "long": ("x" * 10_000, "too_long"),
}


@pytest.mark.parametrize("field", ["email", "name", "timezone", "language"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_input_in_each_sign_up_field_is_refused_with_its_message_and_shown_escaped(
    web: Web, field: str, kind: str
) -> None:
    value, code = HOSTILE[kind]
    page = web.client.get(f"{web.base}/subscribe")
    form = {"csrf_token": web.csrf(page.text), "email": "ok@example.com", "name": "Ok", "language": "en"}
    form["timezone"] = "Asia/Baku"
    form[field] = value
    answer = web.client.post(f"{web.base}/subscribe", data=form)
    expected = "language" if field == "language" else code
    assert answer.status_code == 400
    assert f'<p class="error" id="{field}-error">{escape(EN["code_" + expected])}</p>' in answer.text
    assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
    assert "\r\nBcc" not in answer.text
    if field in ("email", "name"):
        shown = value.replace("\r\n", "  ")[: 254 if field == "email" else 200]
        assert f'value="{escape(shown)}"' in answer.text
    assert web.messages() == [] and web.status("ok@example.com") is None


@pytest.mark.parametrize("field", ["timezone", "region", "language"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_input_in_each_preferences_field_is_refused_and_changes_nothing(
    web: Web, field: str, kind: str
) -> None:
    path = web.subscribe_and_confirm("prefs@example.com").replace("/unsubscribe/", "/preferences/")
    value, code = HOSTILE[kind]
    form = {"csrf_token": web.csrf(web.client.get(path).text), "language": "en", "timezone": "UTC", "region": ""}
    form[field] = value
    answer = web.client.post(path, data=form)
    # A region is at most 6 characters (ISO 3166-2), so every hostile value is too long.
    expected = {"language": "language", "region": "too_long"}.get(field, code)
    assert answer.status_code == 400
    assert f'<p class="error" id="{field}-error">{escape(EN["code_" + expected])}</p>' in answer.text
    assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
    assert web.row("prefs@example.com", "timezone") == "Asia/Baku"


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_values_in_the_hidden_and_one_click_fields_are_refused(web: Web, kind: str) -> None:
    path = web.subscribe_and_confirm("hidden@example.com")
    value, _ = HOSTILE[kind]
    assert web.client.post(path, data={"List-Unsubscribe": value}).status_code == 400
    assert (
        web.client.post(path.replace("/unsubscribe/", "/preferences/"), data={"csrf_token": value}).status_code == 403
    )
    assert web.client.post(f"{web.base}/subscribe", data={"csrf_token": value}).status_code == 403
    assert web.status("hidden@example.com") == "active"


# -- preferences -------------------------------------------------------------------------


def test_preferences_change_language_zone_and_region_and_the_page_follows_the_new_language(web: Web) -> None:
    path = web.subscribe_and_confirm("move@example.com").replace("/unsubscribe/", "/preferences/")
    page = web.client.get(path)
    assert title_of(page.text) == EN["preferences_title"]
    form = {"csrf_token": web.csrf(page.text), "language": "ru", "timezone": "Europe/Istanbul", "region": "az-ba"}
    answer = web.client.post(path, data=form)
    assert answer.status_code == 200 and '<html lang="ru">' in answer.text
    assert STRINGS["ru"]["saved"] in answer.text
    assert (web.row("move@example.com", "language"), web.row("move@example.com", "timezone")) == (
        "ru",
        "Europe/Istanbul",
    )
    assert web.row("move@example.com", "region") == "AZ-BA"


def test_resubscribing_sends_a_new_confirmation_and_nothing_changes_until_it_is_confirmed(web: Web) -> None:
    path = web.subscribe_and_confirm("back@example.com")
    web.client.post(path, data={"List-Unsubscribe": "One-Click"})
    prefs = path.replace("/unsubscribe/", "/preferences/")
    page = web.client.get(prefs)
    assert EN["resubscribe_button"] in page.text
    tokens = re.findall(r'name="csrf_token" value="([^"]+)"', page.text)
    answer = web.client.post(prefs, data={"csrf_token": tokens[-1], "action": "resubscribe"})
    assert answer.status_code == 200 and EN["resubscribed"] in answer.text
    assert web.status("back@example.com") == "unsubscribed"
    confirm = web.confirmation_path("back@example.com")
    done = web.client.post(confirm, data={"csrf_token": web.csrf(web.client.get(confirm).text)})
    assert done.status_code == 200 and web.status("back@example.com") == "active"


# -- languages -------------------------------------------------------------------------


def test_page_language_comes_from_the_token_then_the_query_then_accept_language(web: Web) -> None:
    assert (
        '<html lang="ru">' in web.client.get(f"{web.base}/subscribe", headers={"Accept-Language": "ru;q=0.9, de"}).text
    )
    assert '<html lang="tr">' in web.client.get(f"{web.base}/subscribe?lang=tr", headers={"Accept-Language": "ru"}).text
    assert '<html lang="en">' in web.client.get(f"{web.base}/subscribe", headers={"Accept-Language": "fr"}).text
    path = web.subscribe_and_confirm("az@example.com", language="az")
    page = web.client.get(path, headers={"Accept-Language": "ru"})
    assert '<html lang="az">' in page.text and title_of(page.text) == STRINGS["az"]["unsubscribe_title"]


def test_every_language_has_every_page_string_with_the_same_placeholders() -> None:
    for language, strings in STRINGS.items():
        assert set(strings) == set(EN), language
        for key, text in strings.items():
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", EN[key])), (language, key)


# -- health, paths, headers ----------------------------------------------------------------


def test_healthz_is_200_ok_and_503_when_the_database_file_is_damaged(web: Web, project: Project) -> None:
    answer = web.client.get(f"{web.base}/healthz")
    assert (answer.status_code, answer.text) == (200, "ok\n")
    web.app_state().store.engine.dispose()
    for suffix in ("-wal", "-shm"):
        (project.root / f"subscribers.db{suffix}").unlink(missing_ok=True)
    (project.root / "subscribers.db").write_bytes(b"this is not a database" * 500)
    answer = web.client.get(f"{web.base}/healthz")
    assert (answer.status_code, answer.text) == (503, "database unavailable\n")
    page = web.client.get(f"{web.base}/unsubscribe/{web.app_state().keyring.unsubscribe(1)}")
    assert page.status_code == 503 and title_of(page.text) == EN["error_unavailable_title"]
    assert "Traceback" not in page.text


@pytest.mark.postgres
def test_healthz_is_503_when_the_postgresql_server_goes_away(project: Project, pg_url: str) -> None:
    import sqlalchemy as sa

    url = sa.engine.make_url(pg_url)
    relay = Forwarder((url.host or "127.0.0.1", url.port or 5432))
    through = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    project.edit_config('url = "sqlite:///subscribers.db"', f'url = "{through}"')
    web = make_web(project)
    assert web.client.get(f"{web.base}/healthz").text == "ok\n"
    relay.stop()
    answer = web.client.get(f"{web.base}/healthz")
    assert (answer.status_code, answer.text) == (503, "database unavailable\n")
    page = web.client.get(f"{web.base}/unsubscribe/{web.app_state().keyring.unsubscribe(1)}")
    assert (page.status_code, title_of(page.text)) == (503, EN["error_unavailable_title"])


def test_an_unexpected_failure_is_a_500_page_with_the_headers_and_no_traceback(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = web.subscribe_and_confirm("boom@example.com")

    def broken(token: str) -> None:
        raise RuntimeError("a bug, with a secret in its message: s3cr3t")

    monkeypatch.setattr(web.app_state().lifecycle, "profile", broken)
    answer = web.client.get(path)
    assert (answer.status_code, title_of(answer.text)) == (500, EN["error_server_title"])
    assert answer.headers["content-security-policy"] == CSP
    assert "s3cr3t" not in answer.text and "Traceback" not in answer.text and "RuntimeError" not in answer.text


def test_routes_live_under_the_public_url_path(web: Web) -> None:
    assert web.client.get("/anniversary/subscribe").status_code == 200
    assert web.client.get("/anniversary/static/site.css").status_code == 200
    assert web.client.get("/anniversary/static/zone.js").headers["content-type"].startswith("text/javascript")
    for path in ("/subscribe", "/healthz", "/anniversary/nothing", "/anniversary/static/nothing.css"):
        answer = web.client.get(path)
        assert answer.status_code == 404, path
    assert title_of(web.client.get("/subscribe").text) == EN["error_not_found_title"]


def test_routes_sit_at_the_root_when_the_public_url_has_no_path(project: Project) -> None:
    web = make_web(project, public_url="https://example.org")
    assert web.client.get("/subscribe").status_code == 200
    assert web.client.get("/healthz").text == "ok\n"
    assert web.client.get("/anniversary/subscribe").status_code == 404
    path = web.subscribe_and_confirm("root@example.com")
    assert path.startswith("/unsubscribe/v1.")
    assert web.client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_every_answer_carries_the_strict_content_security_policy(web: Web) -> None:
    path = web.subscribe_and_confirm("csp@example.com")
    answers = [
        web.client.get("/anniversary/subscribe"),
        web.client.get(path),
        web.client.get(path.replace("/unsubscribe/", "/preferences/")),
        web.client.post(path, data={"List-Unsubscribe": "One-Click"}),
        web.client.get("/anniversary/healthz"),
        web.client.get("/anniversary/static/site.css"),
        web.client.get("/anniversary/unsubscribe/forged"),
        web.client.get("/elsewhere"),
        web.client.delete("/anniversary/subscribe"),
    ]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CSP, answer.url
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "server" not in answer.headers
    assert CSP == (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    assert "<script>" not in answers[0].text and " style=" not in answers[0].text


def test_the_forwarded_address_is_believed_only_from_a_trusted_proxy(project: Project) -> None:
    extra = '[web]\ntrusted_proxies = ["10.0.0.0/8"]\n'
    via_proxy = make_web(project, extra_config=extra, client=("10.1.2.3", 40000))
    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    via_proxy.sign_up("proxied@example.com", **headers)
    assert via_proxy.row("proxied@example.com", "consent_ip") == "203.0.113.9"
    direct = make_web(project, client=("192.0.2.77", 40000))
    direct.sign_up("direct@example.com", **headers)
    assert direct.row("direct@example.com", "consent_ip") == "192.0.2.77"


def test_client_ip_walks_x_forwarded_for_from_the_right_past_trusted_proxies() -> None:
    trusted = networks(["10.0.0.0/8", "2001:db8::/32"])
    assert client_ip("10.0.0.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert client_ip("10.0.0.1", ["1.1.1.1, 203.0.113.9, 10.0.0.2"], trusted) == "203.0.113.9"
    assert client_ip("10.0.0.1", ["1.1.1.1", "203.0.113.9"], trusted) == "203.0.113.9"
    assert client_ip("10.0.0.1", ["forged, 203.0.113.9"], trusted) == "203.0.113.9"
    assert client_ip("10.0.0.1", ["203.0.113.9:5555"], trusted) == "203.0.113.9"
    assert client_ip("10.0.0.1", ["[2001:db9::1]:443"], trusted) == "2001:db9::1"
    assert client_ip("10.0.0.1", ["not-an-address"], trusted) == "10.0.0.1"
    assert client_ip("192.0.2.1", ["203.0.113.9"], trusted) == "192.0.2.1"
    assert client_ip("2001:db8::5", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert client_ip("10.0.0.1", [], trusted) == "10.0.0.1"
    assert client_ip("10.0.0.1", ["203.0.113.9"], []) == "10.0.0.1"


def test_the_preferences_page_links_the_campaign_years_action(web: Web) -> None:
    path = web.subscribe_and_confirm("rec@example.com")
    page = web.client.get(path)
    assert page.status_code == 200
    (link,) = re.findall(r'<a href="(https://example\.org/anniversary/action/[^"]+)">', page.text)
    token = link.rsplit("/", 1)[1]
    sid, campaign, year = web.app_state().keyring.read_action(html.unescape(token))
    assert (sid, campaign, year) == (web.app_state().store.subscriber_id_for("rec@example.com"), "black-january", 2027)
