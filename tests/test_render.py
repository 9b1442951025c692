"""Rendering: the variables and filters every template gets, the sandbox, StrictUndefined,
autoescaping, the shared footer, round numbers and the language fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project

from scheduler.config import load_config
from scheduler.content.templates import SubscriberView, TemplateSet, build_context
from scheduler.errors import TemplateProblem


def _set(project: Project, stage: str, parts: dict[str, str], language: str = "en") -> None:
    folder = project.root / "templates" / "black-january" / language
    folder.mkdir(parents=True, exist_ok=True)
    for part, text in parts.items():
        (folder / f"{stage}.{part}.j2").write_text(text, encoding="utf-8")


def _render(
    project: Project,
    stage: str = "reminder",
    *,
    year: int = 2027,
    name: str = "Ana",
    language: str = "en",
    zone: str = "America/Los_Angeles",
):
    config = load_config(project.config)
    campaign = config.get_campaign("black-january")
    ctx = build_context(
        config,
        campaign,
        campaign.get_stage(stage),
        year,
        SubscriberView(name, language, zone),
        "https://example.org/anniversary/unsubscribe/v1.1.sig",
    )
    return TemplateSet(config, campaign).render(stage, ctx)


def test_every_documented_variable_and_filter(project: Project) -> None:
    _set(
        project,
        "reminder",
        {
            "subject": "{{ event.title }} {{ anniversary.number|ordinal }}\n",
            "txt": (
                "{{ anniversary.number }}|{{ anniversary.year }}|{{ anniversary.is_round }}|{{ event.date }}|"
                "{{ event.original_date }}|{{ event.timezone }}|{{ silence.local.isoformat() }}|{{ silence.utc.isoformat() }}|"
                "{{ silence.event_local|format_time }}|{{ subscriber.name }}|{{ subscriber.language }}|{{ subscriber.timezone }}|"
                "{{ stage.id }}|{{ stage.days_before }}|{{ unsubscribe_url }}|{{ sender.postal_address }}|{{ sender.from_name }}|"
                "{{ sender.public_url }}|{{ language }}|{{ anniversary.number|spellout_ordinal }}|{{ anniversary.number|spellout }}|"
                "{{ event.date|format_date }}|{{ silence.local|format_time }}|{{ silence.local|format_datetime('medium') }}|"
                "{{ silence.local|zone_name }}"
            ),
            "html": "<p>{{ unsubscribe_url }} {{ sender.postal_address }}</p>",
        },
    )
    out = _render(project)
    assert out.subject == "Black January 37th"
    assert out.text.split("|") == [
        "37",
        "2027",
        "False",
        "2027-01-20",
        "1990-01-20",
        "Asia/Baku",
        "2027-01-20T00:00:00-08:00",
        "2027-01-20T08:00:00+00:00",
        "12:00\u202fPM",
        "Ana",
        "en",
        "America/Los_Angeles",
        "reminder",
        "7",
        "https://example.org/anniversary/unsubscribe/v1.1.sig",
        "1 Example St, Washington, DC 20001, USA",
        "Example Network",
        "https://example.org/anniversary",
        "en",
        "thirty-seventh",
        "thirty-seven",
        "January 20, 2027",
        "12:00\u202fAM",
        "Jan 20, 2027, 12:00:00\u202fAM",
        "Pacific Standard Time",
    ]


def test_filters_follow_the_message_language(project: Project) -> None:
    _set(
        project,
        "reminder",
        {
            "subject": "s",
            "txt": "{{ anniversary.number|ordinal }} {{ anniversary.number|spellout_ordinal }} {{ silence.local|format_time }} {{ event.date|format_date }}",
            "html": "h",
        },
        "ru",
    )
    assert (
        _render(project, language="ru", zone="Europe/Moscow").text
        == "37-я тридцать седьмая 11:00 20 января 2027\u202fг."
    )


def test_spellout_ordinal_takes_a_rule_set(project: Project) -> None:
    _set(
        project,
        "reminder",
        {"subject": "s", "txt": '{{ anniversary.number|spellout_ordinal("spellout-ordinal-masculine") }}', "html": "h"},
        "ru",
    )
    assert _render(project, language="ru").text == "тридцать седьмой"


def test_rule_set_the_language_lacks_is_a_template_error(project: Project) -> None:
    _set(
        project,
        "reminder",
        {
            "subject": "s",
            "txt": 'line one\n{{ anniversary.number|spellout_ordinal("spellout-ordinal-feminine") }}',
            "html": "h",
        },
    )
    with pytest.raises(
        TemplateProblem, match=r"en/reminder.txt.j2:2: language 'en' has no CLDR rule set 'spellout-ordinal-feminine'"
    ):
        _render(project)


def test_typo_is_an_error_not_a_blank(project: Project) -> None:
    _set(project, "reminder", {"subject": "s", "txt": "Hello\n{{ subscriber.nmae }}", "html": "h"})
    with pytest.raises(TemplateProblem, match=r"en/reminder.txt.j2:2: .*has no attribute 'nmae'"):
        _render(project)


def test_sandbox_blocks_reaching_past_the_variables(project: Project) -> None:
    _set(project, "reminder", {"subject": "s", "txt": "{{ ''.__class__.__mro__[1].__subclasses__() }}", "html": "h"})
    with pytest.raises(TemplateProblem, match="unsafe|__class__"):
        _render(project)


def test_html_is_autoescaped_and_text_is_not(project: Project) -> None:
    _set(
        project,
        "reminder",
        {"subject": "Hi {{ subscriber.name }}", "txt": "{{ subscriber.name }}", "html": "<p>{{ subscriber.name }}</p>"},
    )
    out = _render(project, name='<script>alert("x")</script> & Co')
    assert out.html == "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co</p>"
    assert out.text == '<script>alert("x")</script> & Co'


def test_subject_is_one_line(project: Project) -> None:
    _set(project, "reminder", {"subject": "Hi\n  {{ subscriber.name }}\n", "txt": "t", "html": "h"})
    assert _render(project, name="Ana").subject == "Hi Ana"


def test_missing_language_falls_back_to_the_first(project: Project) -> None:
    folder = project.root / "templates" / "black-january" / "tr"
    (folder / "reminder.html.j2").unlink()
    out = _render(project, language="tr", zone="Europe/Istanbul")
    assert out.language == "en"
    assert "Dear Ana" in out.text


@pytest.mark.parametrize("language", ["en", "az", "ru", "tr"])
@pytest.mark.parametrize("stage", ["reminder", "day-of"])
def test_shipped_templates_carry_footer_number_and_local_silence(project: Project, language: str, stage: str) -> None:
    from scheduler.core.numbers import ordinal

    out = _render(project, stage, language=language, zone="America/Los_Angeles")
    assert out.language == language
    for part in (out.text, out.html):
        assert "https://example.org/anniversary/unsubscribe/v1.1.sig" in part
        assert "1 Example St, Washington, DC 20001, USA" in part
        assert ordinal(37, language) in part or ordinal(37, language).replace("'", "&#39;") in part
    assert ordinal(37, language) in out.subject
    assert "26" in out.text and "170" in out.text and "321" in out.text and "700" in out.text
    # Midnight in Los Angeles, shown in the message's language ("midnight", not "12:00 AM").
    midnight = "midnight" if stage == "day-of" else "12:00\u202fAM"
    assert {"en": midnight, "az": "00:00", "ru": "00:00", "tr": "00:00"}[language] in out.text


def test_round_anniversary_has_its_own_wording(project: Project) -> None:
    plain = _render(project, year=2029).text
    round_ = _render(project, year=2030).text
    assert "40th" in round_ and "fortieth" in round_
    assert "thirty-ninth" not in plain and len(round_) > len(plain)


def test_template_not_found_names_the_path(project: Project) -> None:
    config = load_config(project.config)
    campaign = config.get_campaign("black-january")
    with pytest.raises(TemplateProblem, match=r"templates/black-january/xx/reminder.txt.j2: template not found"):
        TemplateSet(config, campaign).get("xx", "reminder", "txt")


def test_shared_layout_resolves_from_the_common_folder(project: Project) -> None:
    assert (project.root / "templates" / "layouts" / "base.html.j2").is_file()
    _set(
        project,
        "reminder",
        {"subject": "s", "txt": '{% extends "layouts/base.txt.j2" %}{% block body %}BODY{% endblock %}', "html": "h"},
    )
    out = _render(project)
    assert (
        out.text.startswith("BODY") and "Unsubscribe: https://example.org/anniversary/unsubscribe/v1.1.sig" in out.text
    )
    _ = Path
