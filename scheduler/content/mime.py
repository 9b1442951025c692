"""A content group's RFC 5322 message built once; each recipient's own fields put in.

:func:`~scheduler.content.message.to_email_message` (the reference, kept) costs about
1.5 ms a message here, nearly all of it the ``email`` package folding headers and
quoted-printable encoding bodies that are the same for the whole group (BENCHMARKS.md,
the outbox). :class:`GroupMime` builds the group's message once with that same
function, then writes each recipient's message as the group's bytes with only what is
theirs filled in:

* **Body lines.** A line of the text or HTML part that carries a placeholder is filled
  (the same replacements in the same order as :meth:`Batch.fill
  <scheduler.content.groups.Batch.fill>`) and quoted-printable encoded alone, by the
  function the ``email`` package uses. RFC 2045 section 6.7 encodes line by line (a
  soft line break never joins two lines, rule 5), so one line encoded alone gives
  exactly the bytes the whole body's encoding gives for it. The other lines, and the
  calendar attachment's base64, are encoded once per group.
* **Headers.** Message-ID, To, List-Unsubscribe and, when the template prints the name
  there, Subject. A line of plain ASCII is written as the ``email`` package writes it
  (List-Unsubscribe as :func:`~scheduler.content.message.list_unsubscribe_field`
  folds it); a non-ASCII name as RFC 2047 encoded words of our own, which read back
  the same; anything else (a long name to fold, an unusual address) is folded by the
  ``email`` package itself.

So a message is byte for byte the one :func:`to_email_message` makes, but for a
non-ASCII name's encoded words and the MIME boundaries, which a group shares (RFC 2046
section 5.1.1 asks only that a boundary not occur in the parts it separates: a
quoted-printable line never holds ``==`` and a header line never starts with ``--``).
tests/test_fast_mime.py holds it to that.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets
from email import quoprimime
from email.errors import HeaderDefect, NonASCIILocalPartDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy

from scheduler.content.groups import PLACEHOLDERS
from scheduler.content.message import POLICY, Outgoing, Rendered, list_unsubscribe_field, to_email_message
from scheduler.core.values import DISPLAY_NAME_LIMIT, header_safe

_PLACEHOLDER_BYTES = tuple(p.encode("ascii") for p in PLACEHOLDERS)
#: the headers that differ between the recipients of a group (Subject only when the
#: template prints the name in it)
_PERSONAL = (b"Message-ID", b"To", b"List-Unsubscribe")
#: what the ``email`` package writes unquoted and unfolded: RFC 5322 atext words (a
#: safe subset, no ``=`` or ``?``) and dot-atom addresses; anything else is folded by it
_PLAIN_NAME = re.compile(r"[A-Za-z0-9'_-]+(?: [A-Za-z0-9'_-]+)*")
_DOT_ATOM = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_PLAIN_ADDRESS = re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}")
#: what makes the ``email`` package write a name as a quoted string (RFC 5322
#: sections 3.2.3 and 3.2.4), its quotes and backslashes escaped
_SPECIALS = re.compile(r'[()<>@,:;.\\"\[\]]')
#: bytes of a name per RFC 2047 encoded word: 60 base64 characters, a word of 72
_EW_BYTES = 45
_PLAIN_ID = re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>")


def unaddressable(transport: str, address: str, defect: HeaderDefect) -> str:
    """Why a message to ``address`` cannot be written (the ``email`` package refuses
    the address), in the words of ``unsupported_feature``: that entry fails alone."""
    why = "its local part is not ASCII" if isinstance(defect, NonASCIILocalPartDefect) else str(defect)
    return f"the {transport} transport cannot carry the address {address!r}: {why}"


def _policy(linesep: str, utf8: bool) -> EmailPolicy[EmailMessage]:
    return POLICY.clone(linesep=linesep, utf8=utf8)  # type: ignore[call-arg]


def _encoded_words(name: str, address: str, max_line: int, eol: bytes) -> bytes | None:
    """``To:`` with the name as RFC 2047 "B" encoded words (sections 4.1 and 5(3)), of
    whole characters (section 5), one per line, and the address after the last one
    where it fits. A decoder joins adjacent encoded words without the space between
    them (section 6.2), so the name reads back as it was; the ``email`` package mixes
    plain and "Q" words instead, which reads back the same. None for an address too
    long for a line of its own."""
    tail = b" <" + address.encode("ascii") + b">"
    if len(tail) > max_line:
        return None
    data = name.encode("utf-8")
    lines = []
    start = 0
    while start < len(data):
        end = min(start + _EW_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        space = data.rfind(b" ", start + _EW_BYTES // 2, end) if end < len(data) else -1
        if space != -1:
            # Cut after a space, which stays in the word before: a reader that wrongly
            # shows a space between encoded words shows two there, not one in a word.
            end = space + 1
        lines.append(b" =?utf-8?b?" + base64.b64encode(data[start:end]) + b"?=")
        start = end
    lines[0] = b"To:" + lines[0]
    if len(lines[-1]) + len(tail) <= max_line:
        lines[-1] += tail
    else:
        lines.append(tail)
    return eol.join(lines) + eol


class GroupMime:
    """The message of one content group (a :class:`~scheduler.content.groups.Batch`'s
    ``envelope``), made once; :meth:`message` writes one recipient's. ``linesep`` is
    ``"\\n"`` for a file and ``"\\r\\n"`` for SMTP (RFC 5321 section 2.3.8); ``utf8``
    writes headers as UTF-8 (RFC 6532, for SMTPUTF8)."""

    def __init__(self, envelope: Outgoing, personal: bool = True, *, linesep: str = "\n", utf8: bool = False) -> None:
        self.policy = _policy(linesep, utf8)
        self.eol = linesep.encode("ascii")
        self.envelope = envelope
        content = envelope.rendered
        tag = "anv" + secrets.token_hex(8)
        while tag in content.text or tag in content.html:  # pragma: no cover - 2**-64
            tag = "anv" + secrets.token_hex(8)
        #: marker -> the body line (UTF-8, placeholders in) it stands for
        self.lines: dict[bytes, bytes] = {}
        text = self._mark(content.text, tag + "t", personal)
        html = self._mark(content.html, tag + "h", personal)
        personal_subject = personal and any(p in content.subject for p in PLACEHOLDERS)
        proto = dataclasses.replace(
            envelope,
            to_email=f"{tag}@example.invalid",
            to_name="",
            message_id=f"<{tag}@example.invalid>",
            unsubscribe_url=f"https://example.invalid/{tag}",
            rendered=Rendered(subject=content.subject, text=text, html=html, language=content.language),
        )
        raw = to_email_message(proto).as_bytes(policy=self.policy)
        head, body = raw.split(self.eol * 2, 1)
        personal_headers = (*_PERSONAL, b"Subject") if personal_subject else _PERSONAL
        #: constant bytes and, between them, what each recipient fills in: a header's
        #: name or a body line's marker
        self.pieces: list[bytes | tuple[str, bytes]] = []
        kept: list[bytes] = []
        for field in re.split(rb"\r?\n(?![ \t])", head):
            name = field.split(b":", 1)[0]
            if name in personal_headers:
                self.pieces += [self.eol.join(kept) + self.eol if kept else b"", ("header", name)]
                kept = []
            else:
                kept.append(field)
        self.pieces.append(self.eol.join(kept) + self.eol * 2 if kept else self.eol)
        marker = re.compile(rb"(" + tag.encode("ascii") + rb"[th]\d+)")
        for i, part in enumerate(marker.split(body)):
            self.pieces.append(("line", part) if i % 2 else part)
        self.pieces = [p for p in self.pieces if p != b""]
        if any(tag.encode("ascii") in p for p in self.pieces if isinstance(p, bytes)):
            # A header made from the envelope carries a recipient's value: never here
            # (the recipient fields are the four above), checked so it cannot go unseen.
            raise ValueError(f"{envelope.campaign}/{envelope.stage}: a recipient field outside the known headers")
        self.max_line: int = POLICY.max_line_length or 76

    def _mark(self, part: str, prefix: str, personal: bool) -> str:
        """``part`` with each line that carries a placeholder replaced by a marker line,
        its lines split and joined as the ``email`` package's encoder does
        (``splitlines`` of the UTF-8 bytes)."""
        out = []
        for i, line in enumerate(part.encode("utf-8").splitlines()):
            if personal and b"%anv-" in line and any(p in line for p in _PLACEHOLDER_BYTES):
                mark = f"{prefix}{i}".encode("ascii")
                self.lines[mark] = line
                line = mark
            out.append(line + b"\n")
        return b"".join(out).decode("utf-8")

    # -- one recipient ------------------------------------------------------------------

    def message(self, out: Outgoing, substitutions: dict[str, str]) -> bytes:
        """``out``'s message: ``out`` gives the headers (its ``rendered`` is not read),
        ``substitutions`` (:meth:`Recipient.substitutions
        <scheduler.content.groups.Recipient.substitutions>`) the body lines."""
        subs = [(k.encode("ascii"), v.encode("utf-8")) for k, v in substitutions.items()]
        chunks: list[bytes] = []
        for piece in self.pieces:
            if isinstance(piece, bytes):
                chunks.append(piece)
            elif piece[0] == "line":
                chunks.append(self._line(self.lines[piece[1]], subs))
            else:
                chunks.append(self._header(piece[1], out))
        return b"".join(chunks)

    def _line(self, line: bytes, subs: list[tuple[bytes, bytes]]) -> bytes:
        for token, value in subs:
            line = line.replace(token, value)
        encoded = quoprimime.body_encode(line.decode("latin-1"), self.max_line).encode("ascii")
        return encoded if self.eol == b"\n" else encoded.replace(b"\n", self.eol)

    def _header(self, name: bytes, out: Outgoing) -> bytes:
        if name == b"To":
            fast = self._to(out.to_name, out.to_email)
            if fast is not None:
                return fast
            value: object = Address(display_name=header_safe(out.to_name, DISPLAY_NAME_LIMIT), addr_spec=out.to_email)
        elif name == b"Message-ID":
            mid = out.message_id
            if _PLAIN_ID.fullmatch(mid) and len(mid) <= self.max_line - 12:
                return b"Message-ID: " + mid.encode("ascii") + self.eol
            value = mid
        elif name == b"List-Unsubscribe":
            return self._list_unsubscribe(out)
        else:
            value = header_safe(out.subject)
        return self._fold(name.decode("ascii"), value)

    def _to(self, name: str, address: str) -> bytes | None:
        """The To line for the common names, or None for the ``email`` package to fold:
        an ASCII name and the address as it writes them when the line fits (quoted
        when the name has RFC 5322 specials, section 3.2.3); a non-ASCII one as
        :func:`_encoded_words`."""
        if not _PLAIN_ADDRESS.fullmatch(address) or self.policy.utf8:
            return None
        if not name:
            line = f"To: {address}"
        elif _PLAIN_NAME.fullmatch(name):
            line = f"To: {name} <{address}>"
        else:
            name = header_safe(name, DISPLAY_NAME_LIMIT)
            if not name:
                return None
            if name.isascii():  # printable: header_safe
                if _SPECIALS.search(name):
                    name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
                line = f"To: {name} <{address}>"
            else:
                return _encoded_words(name, address, self.max_line, self.eol)
        if len(line) > self.max_line:
            return None
        return line.encode("ascii") + self.eol

    def _fold(self, name: str, value: object) -> bytes:
        """The header as the ``email`` package writes it (the slow path's own code)."""
        return self.policy.fold_binary(name, self.policy.header_store_parse(name, value)[1])

    def _list_unsubscribe(self, out: Outgoing) -> bytes:
        value = out.list_unsubscribe()
        raw = list_unsubscribe_field(value)
        if raw is None:
            return self._fold("List-Unsubscribe", value)
        return b"List-Unsubscribe: " + raw.encode("ascii").replace(b"\n", self.eol) + self.eol


class GroupMimes:
    """The :class:`GroupMime` of each content group a run has sent, kept: a run hands a
    group's recipients over in many batches (one per group per read window), each
    with an envelope of its own but the group's one rendering, which keys them here;
    an envelope that differs from the kept one's in any field is built again."""

    def __init__(self, linesep: str = "\n", limit: int = 4096) -> None:
        self.linesep = linesep
        self.limit = limit
        self._kept: dict[tuple[int, bool], GroupMime] = {}

    def get(self, envelope: Outgoing, personal: bool = True) -> GroupMime:
        key = (id(envelope.rendered), personal)
        kept = self._kept.get(key)
        # The kept one holds its envelope, so its rendering's id is not reused.
        if kept is None or kept.envelope != envelope:
            if len(self._kept) >= self.limit:
                self._kept.clear()
            kept = self._kept[key] = GroupMime(envelope, personal, linesep=self.linesep)
        return kept
