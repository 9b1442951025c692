"""The layout the README's "How it works" describes, held by tests: the import
contracts in pyproject.toml, a handful of flat modules, modules of readable size, and
comments that cite what a reader can open."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "scheduler"


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"Contracts: \d+ kept, 0 broken", done.stdout), done.stdout[-2000:]


def test_only_cross_cutting_modules_sit_flat_in_the_package() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "errors.py", "logs.py"]
    layers = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert layers == [
        "cli", "config", "content", "core", "delivery", "lifecycle", "service", "store", "studio", "subscribers",
        "transports", "web",
    ]


def test_modules_stay_readable_in_size() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert not long, f"split these modules (about 400 lines at most): {long}"


def test_comments_cite_readme_or_benchmarks_never_an_issue_number() -> None:
    cites = [
        f"{p.relative_to(REPO)}:{i}"
        for p in PACKAGE.rglob("*.py")
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\b[Ii]ssue \d+", line)
    ]
    assert not cites, cites


def test_every_lazily_loaded_command_is_found_under_its_own_name() -> None:
    from scheduler.cli import LAZY, _load

    for name in LAZY:
        command = _load(name)
        assert command is not None and command.name == name, (name, command)


def test_status_imports_neither_the_web_apps_nor_the_send_pipeline() -> None:
    # The transports are loaded: config validation reads their registry.
    heavy = ("fastapi", "scheduler.web", "scheduler.studio", "scheduler.delivery.runs", "scheduler.content.templates")
    code = (
        "import sys; from scheduler.cli import cli, _load; _load('status'); "
        f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[]\n", done.stdout + done.stderr
