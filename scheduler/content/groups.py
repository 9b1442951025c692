"""Content groups: render once, fill in each recipient.

A content group is everyone who gets the same message but for their name and
unsubscribe link: the same campaign, stage and year, language and zone, and whether
they have a name at all. The group is rendered once with placeholders where the name
and the link go; each recipient's values replace them, on this side for per-message
transports (outbox, SMTP) or as SendGrid substitutions. BENCHMARKS.md (SendGrid
delivery) shows why: rendering per recipient would cost more than the whole send.

Everything about that idea lives here: the group key, the placeholders, the check that
a template only prints them (:func:`render_group`), the per-recipient values, and
:class:`Batch`, the recipients of one content that a transport sends.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from scheduler.content.message import Outgoing, Rendered, make_message_id
from scheduler.core.values import printable_line

#: (language, zone, has a name)
GroupKey = tuple[str, str, bool]

# The placeholders a group is rendered with. The text and HTML parts get different
# ones because their values differ (the HTML one is escaped). None is a substring of
# another, so SendGrid's substitution order cannot matter.
NAME_TEXT = "%anv-name-t%"
NAME_HTML = "%anv-name-h%"
UNSUB_TEXT = "%anv-unsub-t%"
UNSUB_HTML = "%anv-unsub-h%"
#: the statement-for-the-record link (README: The statement for the record): only in
#: the messages of a campaign with an action
ACTION_TEXT = "%anv-act-t%"
ACTION_HTML = "%anv-act-h%"
PLACEHOLDERS = (NAME_TEXT, NAME_HTML, UNSUB_TEXT, UNSUB_HTML, ACTION_TEXT, ACTION_HTML)

# A second pair, of other lengths and case: a group's rendering is trusted only if
# swapping the first pair for this one gives exactly the second rendering, so a
# template that upper-cases, truncates, measures or URL-encodes the name falls back to
# rendering each recipient alone.
_CHECK_NAME = "%ANV-Check-Name-Longer%"
_CHECK_UNSUB = "%ANV-Check-Unsub-Link-Longer%"
_CHECK_ACTION = "%ANV-Check-Action-Link-Longer%"

# Every proper beginning and end of a placeholder. A name has none inside it (safe_name),
# but template text that ends with a beginning just before the name, or starts with an
# end just after it, could complete one from the name's letters: ``100%{{ name }}`` and
# the name ``anv-unsub-t%`` would print the link where the template did not. Such a
# group (rare: a % against the name, or two placeholders side by side) is rendered for
# each recipient alone, so no substitution order, here or SendGrid's, can matter.
_BEGINNINGS = tuple({p[:k] for p in PLACEHOLDERS for k in range(1, len(p))})
_ENDS = tuple({p[k:] for p in PLACEHOLDERS for k in range(1, len(p))})


def _name_touches_a_placeholder(part: str) -> bool:
    start = part.find(NAME_TEXT)
    while start != -1:
        end = start + len(NAME_TEXT)
        if part.endswith(_BEGINNINGS, 0, start) or part.startswith(_ENDS, end):
            return True
        start = part.find(NAME_TEXT, end)
    return False


def group_key(language: str, zone: str, name: str) -> GroupKey:
    # Named means safe_name() leaves it non-empty. For a printable name without a
    # placeholder in it (the common case, once per recipient) that is "not only spaces";
    # one of only controls or placeholders has no name left to print.
    if name.isprintable() and "%anv-" not in name:
        return (language, zone, bool(name) and not name.isspace())
    return (language, zone, bool(safe_name(name)))


def render_group(
    render: Callable[..., Rendered], unsubscribe_base: str, action_base: str | None = None
) -> Rendered | None:
    """The group's content with placeholders, from ``render(name, link)`` (with
    ``action_base``, ``render(name, link, action_link)``); None when the templates do
    more with the name or links than print them, or print the name against a piece of
    a placeholder (then every recipient is rendered alone)."""
    acting = action_base is not None
    first = render(NAME_TEXT, UNSUB_TEXT, ACTION_TEXT) if acting else render(NAME_TEXT, UNSUB_TEXT)
    check = render(_CHECK_NAME, _CHECK_UNSUB, _CHECK_ACTION) if acting else render(_CHECK_NAME, _CHECK_UNSUB)
    for a, b in ((first.subject, check.subject), (first.text, check.text), (first.html, check.html)):
        swapped = a.replace(NAME_TEXT, _CHECK_NAME).replace(UNSUB_TEXT, _CHECK_UNSUB)
        if acting:
            swapped = swapped.replace(ACTION_TEXT, _CHECK_ACTION)
        if swapped != b:
            return None
        # Placeholders are only the ones rendered here (the template prints no
        # ``%anv-`` of its own), and none can be completed from a name.
        ours = a.count(NAME_TEXT) + a.count(UNSUB_TEXT) + (a.count(ACTION_TEXT) if acting else 0)
        if a.count("%anv-") != ours or _name_touches_a_placeholder(a):
            return None
    # The HTML part gets its own placeholders: its values are HTML-escaped.
    html_part = first.html.replace(NAME_TEXT, NAME_HTML)
    if html_value(unsubscribe_base) != unsubscribe_base:
        html_part = html_part.replace(UNSUB_TEXT, UNSUB_HTML)
    if action_base is not None and html_value(action_base) != action_base:
        html_part = html_part.replace(ACTION_TEXT, ACTION_HTML)
    return Rendered(subject=first.subject, text=first.text, html=html_part, language=first.language)


def safe_name(name: str) -> str:
    """A name as it may fill a placeholder in the text and HTML parts: one line (a CR/LF
    must never start a header or a paragraph), without control characters or bidi
    overrides (:func:`~scheduler.core.values.printable_line`), and no placeholder text,
    so a name cannot bring in another recipient's value. Controls go first, since
    dropping one can join a placeholder (``%anv-\\x00unsub-t%``); removal repeats until
    none is left, since taking one placeholder out of ``%anv-%anv-unsub-t%unsub-t%``
    leaves another. Its letters are kept (``=?`` included): headers take it through
    :func:`~scheduler.core.values.header_safe`. A plain name costs four ``str`` tests."""
    name = printable_line(name)
    if "%anv-" in name and any(p in name for p in PLACEHOLDERS):
        while any(p in name for p in PLACEHOLDERS):
            for p in PLACEHOLDERS:
                name = name.replace(p, "")
        name = " ".join(name.split())
    return name


def html_value(value: str) -> str:
    """``html.escape`` for the rare value that needs it (returns ``value`` itself when
    nothing needs escaping, so callers may compare with ``is``). Five ``in`` tests are
    half the cost of a regex search, twice per recipient (BENCHMARKS.md)."""
    if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:
        return html.escape(value)
    return value


class Recipient(NamedTuple):
    """One recipient of a batch; a tuple because a send makes one per subscriber."""

    entry_id: int | None
    email: str
    name: str
    unsubscribe_url: str
    #: per-message transports need one; made on expansion when None
    message_id: str | None = None
    #: ``name`` already went through :func:`safe_name`
    clean: bool = False
    #: the subscriber, which with the campaign, year and stage names the ledger entry;
    #: None for a message to someone who is not a subscriber (send-test, heads-up)
    subscriber_id: int | None = None
    #: the statement-for-the-record link; "" when the campaign has no action
    action_url: str = ""

    def tag(self, is_test: bool = False) -> str:
        """What names this recipient's ledger entry beside the campaign, year and stage:
        the subscriber's id, or what the message is when it has no entry."""
        if self.subscriber_id is not None:
            return str(self.subscriber_id)
        return "test" if is_test else "none"

    def substitutions(self) -> dict[str, str]:
        name = self.name if self.clean else safe_name(self.name)
        url = self.unsubscribe_url
        subs = {NAME_TEXT: name, NAME_HTML: html_value(name), UNSUB_TEXT: url}
        url_html = html_value(url)
        if url_html is not url:
            # Only then does the HTML part carry its own link placeholder (render_group).
            subs[UNSUB_HTML] = url_html
        if self.action_url:
            subs[ACTION_TEXT] = self.action_url
            action_html = html_value(self.action_url)
            if action_html is not self.action_url:
                subs[ACTION_HTML] = action_html
        return subs


@dataclass(frozen=True)
class Batch:
    """Recipients of one content. ``envelope`` holds everything they share (its
    recipient fields are ignored). When ``personal`` is set, ``envelope.rendered``
    carries the placeholders above and each recipient fills them in."""

    envelope: Outgoing
    recipients: Sequence[Recipient]
    personal: bool = True
    #: {subscriber id: entry id} from the claim, for recipients made before it
    #: (``Recipient.entry_id`` 0); None when each recipient carries its own
    entries: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.recipients)

    def entry_of(self, r: Recipient) -> int:
        """The ledger entry of one of this batch's recipients (0 for none)."""
        if self.entries is not None and r.subscriber_id is not None:
            return self.entries[r.subscriber_id]
        return r.entry_id or 0

    def entry_ids(self) -> list[int]:
        return [e for e in map(self.entry_of, self.recipients) if e]

    def claimed(self, won: dict[int, int], *, complete: bool) -> Batch:
        """This batch after a claim that won ``won`` ({subscriber id: entry id}): the
        recipients it won, in order, their entries looked up by subscriber. With
        ``complete`` (the claim won everyone it asked for: the rule) the same
        recipients, so what the transport prepared for them still holds (no object
        made per recipient)."""
        people = self.recipients
        if not complete:
            people = [r for r in people if r.subscriber_id in won]
        return Batch(self.envelope, people, self.personal, won)

    def fill(self, recipient: Recipient) -> Rendered:
        content = self.envelope.rendered
        if not self.personal:
            return content
        subject, text, body = content.subject, content.text, content.html
        for token, value in recipient.substitutions().items():
            subject = subject.replace(token, value)
            text = text.replace(token, value)
            body = body.replace(token, value)
        return Rendered(subject=subject, text=text, html=body, language=content.language)

    def messages(self) -> list[Outgoing]:
        """One message per recipient, for transports that send each on its own."""
        env = self.envelope
        domain = env.from_email.rsplit("@", 1)[-1]
        out = []
        for r in self.recipients:
            entry_id = self.entry_of(r) or None
            entry: int | str = entry_id if entry_id is not None else r.tag(env.is_test)
            out.append(
                dataclasses.replace(
                    env,
                    entry_id=entry_id,
                    to_email=r.email,
                    to_name=r.name,
                    unsubscribe_url=r.unsubscribe_url,
                    message_id=r.message_id or make_message_id(env.campaign, env.year, env.stage, entry, domain),
                    rendered=self.fill(r),
                )
            )
        return out
