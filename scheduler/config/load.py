"""Reading config.toml: validated whole before anything starts.

A mistake becomes one line per problem, naming the file, the key path and what is
allowed; nothing is touched until the whole file is valid. Secrets are never in the
file: it names the environment variables they come from.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import make_url

from scheduler.config.model import DEFAULT_CONFIG, Config
from scheduler.errors import ConfigError

log = logging.getLogger("scheduler.config")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _explain(err: dict[str, Any]) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "extra_forbidden":
        parent = loc[:-1]
        model: Any = Config
        for part in parent:
            if isinstance(part, int):
                continue
            field = model.model_fields.get(part)
            ann = field.annotation if field else None
            args = getattr(ann, "__args__", ())
            model = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if model is None:
                break
        allowed = ", ".join(k for k in (model.model_fields if model else {}) if k not in ("base_dir", "path"))
        return f"unknown key; allowed here: {allowed}"
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        return f"must be one of {err['ctx']['expected']} (got {err['input']!r})"
    if kind in ("time_type", "time_parsing"):
        return f"must be a time such as 10:00:00 (got {err['input']!r})"
    if kind in ("date_type", "date_parsing", "date_from_datetime_inexact"):
        return f"must be a date such as 1990-01-20 (got {err['input']!r})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        pattern = err["ctx"]["pattern"]
        what = "an https:// URL" if "https" in pattern else "lowercase letters, digits and '-'"
        return f"must be {what} (got {err['input']!r})"
    if "input" in err and kind not in ("value_error",):
        return f"{msg} (got {err['input']!r})"
    return msg


def parse_config(text: str, path: Path) -> Config:
    """Validate ``text`` as the config at ``path``; raise ConfigError with every problem."""
    name = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: invalid TOML: {exc}") from None
    data.pop("base_dir", None)
    data.pop("path", None)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        lines = [f"{name}: {_loc(e['loc'])}: {_explain(dict(e))}" for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    config = config.model_copy(update={"base_dir": path.parent.resolve(), "path": path})
    # Here, where relative paths resolve: before any command runs or creates a database.
    missing = [
        f"{name}: campaign[{i}].templates: no such folder {config.campaign_templates(c)}"
        for i, c in enumerate(config.campaign)
        if not config.campaign_templates(c).is_dir()
    ]
    if missing:
        raise ConfigError("\n".join(missing))
    if make_url(config.database.url).password is not None:
        log.warning(
            "%s: database.url holds a password; name an environment variable that holds it in "
            "database.password_env instead, and keep the file free of secrets",
            name,
        )
    return config


def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    path = Path(path)
    try:
        # utf-8-sig: the byte order mark some Windows editors write first is read past.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (pass --config PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(text, path)
