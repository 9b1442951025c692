"""What every form shares: its hidden token, checked before anything else is done, and
the words for a field the lifecycle refused (README: The web app, forms need no cookie)."""

from __future__ import annotations

from datetime import datetime

from scheduler.content.tokens import BadToken
from scheduler.lifecycle import InvalidInput, Lifecycle, Replayed
from scheduler.web.i18n import words
from scheduler.web.pages import PageError


def check_form(lc: Lifecycle, token: str, form: str, subject: str, now: datetime) -> None:
    """The page's own token for this form and link, recent and unused: else 403 (forged,
    missing, for another form, too old) or 409 (sent before)."""
    try:
        lc.use_form(token, form, subject, now)
    except BadToken:
        raise PageError(403, "form") from None
    except Replayed:
        raise PageError(409, "replayed") from None


def redisplay(value: str, limit: int) -> str:
    """A refused value as its one-line field shows it again: control characters (CR/LF
    among them) as spaces, cut to the field's length. Autoescaping does the rest."""
    return "".join(c if c.isprintable() else " " for c in value[:limit])


def field_errors(exc: InvalidInput, language: str) -> dict[str, str]:
    """``{field: message}`` for the form's error list and the field itself."""
    w = words(language)
    return {exc.field: w.get(f"code_{exc.code}", w["error_bad_request_title"])}
