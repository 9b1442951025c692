"""The lifecycle's own messages (README: The web app): the sign-up confirmation and the
notice to someone already subscribed. Jinja2 templates in the campaigns' layout,
``{web.templates}/{language}/{kind}.subject.j2``, ``.txt.j2`` and ``.html.j2``, in the
same sandbox and with the same filters as the campaign messages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from scheduler.config import Config
from scheduler.content.filters import FILTERS
from scheduler.content.message import Rendered
from scheduler.content.sandbox import LimitedSandbox
from scheduler.content.templates import RootedLoader, inline_css
from scheduler.core.values import one_line
from scheduler.errors import TemplateProblem

PARTS = ("subject", "txt", "html")


class NoticeTemplates:
    def __init__(self, config: Config, languages: list[str]) -> None:
        self.root = config.base_dir / config.web.templates
        self.languages = languages
        self.env = LimitedSandbox(
            filters=FILTERS,
            loader=RootedLoader([self.root, config.shared_templates]),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            keep_trailing_newline=True,
            auto_reload=False,
        )

    def path_of(self, language: str, kind: str, part: str) -> Path:
        return self.root / language / f"{kind}.{part}.j2"

    def language_for(self, language: str, kind: str) -> str:
        """The language asked for when all its parts exist, else the first that has them."""
        for lang in (language, *self.languages):
            if all(self.path_of(lang, kind, p).is_file() for p in PARTS):
                return lang
        raise TemplateProblem(f"{self.path_of(language, kind, 'subject')}: template not found")

    def render(self, kind: str, language: str, context: Mapping[str, Any]) -> Rendered:
        lang = self.language_for(language, kind)
        ctx = dict(context, language=lang)
        out: dict[str, str] = {}
        for part in PARTS:
            where = str(self.path_of(lang, kind, part))
            try:
                template = self.env.get_template(f"{lang}/{kind}.{part}.j2")
                out[part] = self.env.render_part(template, ctx)
            except TemplateProblem:
                raise
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateProblem(f"{where}:{exc.lineno}: syntax error: {exc.message}") from None
            except Exception as exc:
                raise TemplateProblem(f"{where}: {' '.join(str(exc).split())}") from None
        if not out["txt"].strip():
            raise TemplateProblem(f"{self.path_of(lang, kind, 'txt')}: the text part renders empty")
        html = inline_css(out["html"], str(self.path_of(lang, kind, "html")))
        return Rendered(subject=one_line(out["subject"]), text=out["txt"], html=html, language=lang)
