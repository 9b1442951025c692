"""One SendGrid personalization as JSON text: its own To, List-Unsubscribe
headers (RFC 2369, RFC 8058), ``custom_args`` naming the ledger entry, and the
substitutions that fill a content group's sentinels with this recipient's name and
link. Written directly rather than by ``json.dumps`` of a dict, at a million
recipients the cheaper of the two by half; ``ensure_ascii`` throughout, so its length
in characters is its size in bytes for SendGrid's limits.

The name in the To goes through :func:`~scheduler.core.values.header_safe`, as on every
other transport; when the group's subject holds a placeholder, the personalization
carries its own subject, filled here and made header-safe whole, since SendGrid's
substitutions would put the name into the Subject header as it is.
"""

from __future__ import annotations

import json.encoder

from scheduler.content.groups import (
    ACTION_HTML,
    ACTION_TEXT,
    NAME_HTML,
    NAME_TEXT,
    UNSUB_HTML,
    UNSUB_TEXT,
    Recipient,
    html_value,
    safe_name,
)
from scheduler.content.message import CalendarPart
from scheduler.core.values import DISPLAY_NAME_LIMIT, header_safe

#: documented in SendGrid's v3 Mail Send reference; the schema does not enforce it
MAX_PERSONAL_BYTES = 10_000  # substitutions + custom_args, per personalization

# The JSON of the placeholder keys, and of each personalization's constant parts.
_json_str = json.encoder.encode_basestring_ascii  # json's own (C) string encoder
_NAME_T, _NAME_H, _UNSUB_T, _UNSUB_H = (_json_str(t) for t in (NAME_TEXT, NAME_HTML, UNSUB_TEXT, UNSUB_HTML))
_ACTION_T, _ACTION_H = _json_str(ACTION_TEXT), _json_str(ACTION_HTML)
_ONE_CLICK = _json_str("List-Unsubscribe=One-Click")


def attachments(calendar: CalendarPart) -> list[dict[str, str]]:
    """The body's ``attachments``: the group's calendar invitation (RFC 5545), base64
    made once per group, shared by every personalization of the request."""
    return [
        {
            "content": calendar.base64,
            "type": calendar.content_type,
            "filename": calendar.filename,
            "disposition": "attachment",
        }
    ]


def personal_subject(subject: str, personal: bool) -> str | None:
    """The subject to fill for each personalization (see :func:`personalization`), or
    None when the group's subject has no placeholder in it (the common case)."""
    return subject if personal and "%anv-" in subject else None


def _own_subject(subject: str, name: str, url: str) -> str:
    """The personalization's ``"subject"`` member (after a comma), its placeholders
    filled, header-safe as a whole: a name cannot join the template's text into an
    encoded word (``=`` before the name, ``?`` starting it). Empty when nothing is left
    (SendGrid refuses an empty subject)."""
    own = header_safe(subject.replace(NAME_TEXT, name).replace(UNSUB_TEXT, url))
    return f',"subject":{_json_str(own)}' if own else ""


def personalization(r: Recipient, tail: str, personal: bool, is_test: bool, subject: str | None = None) -> str | None:
    """One personalization as JSON text; None when its substitutions and custom_args
    exceed SendGrid's 10,000 bytes. ``subject`` (from :func:`personal_subject`): the
    group's subject with placeholders, which this recipient's values fill."""
    name = r.name if r.clean else safe_name(r.name)
    url = r.unsubscribe_url
    q_name, q_url = _json_str(name), _json_str(url)
    # The To header's name, the same object as ``name`` unless it had to change. ``name``
    # is one printable line already (safe_name), so only an ``=?`` or its length can
    # change it: two tests instead of header_safe's call, once per recipient.
    to_name = header_safe(name, DISPLAY_NAME_LIMIT) if "=?" in name or len(name) > DISPLAY_NAME_LIMIT else name
    q_to_name = q_name if to_name is name else _json_str(to_name)
    to = f'{{"email":{_json_str(r.email)},"name":{q_to_name}}}' if to_name else f'{{"email":{_json_str(r.email)}}}'
    custom = f'{{"subscriber":{_json_str(r.tag(is_test))}}}'
    own = "" if subject is None else _own_subject(subject, name, url)
    # RFC 2369 / RFC 8058, per recipient: the link names the subscriber.
    out = (
        f'{{"to":[{to}]{own},"headers":{{"List-Unsubscribe":{_json_str("<" + url + tail)},'
        f'"List-Unsubscribe-Post":{_ONE_CLICK}}},"custom_args":{custom}'
    )
    if not personal:
        return out + "}"
    name_html, url_html = html_value(name), html_value(url)
    subs = (
        f"{{{_NAME_T}:{q_name},{_NAME_H}:{q_name if name_html is name else _json_str(name_html)},{_UNSUB_T}:{q_url}"
        # Only an escaped link needs its own placeholder in the HTML part (groups.render_group).
        + (f",{_UNSUB_H}:{_json_str(url_html)}" if url_html is not url else "")
        + (_action_subs(r.action_url) if r.action_url else "")
        + "}"
    )
    if len(subs) + len(custom) > MAX_PERSONAL_BYTES:
        return None
    return f'{out},"substitutions":{subs}}}'


def _action_subs(url: str) -> str:
    """The statement-for-the-record link's substitutions (README: The statement for the
    record); its HTML placeholder only when escaping changes it, as for the link above."""
    url_html = html_value(url)
    return f",{_ACTION_T}:{_json_str(url)}" + (f",{_ACTION_H}:{_json_str(url_html)}" if url_html is not url else "")
