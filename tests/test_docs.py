"""The README and ARCHITECTURE.md stay true: no link leaves the repository, every @asset option
and every command is documented, every module is on the map."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click

from orchestrator import asset
from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
ARCHITECTURE = (REPO / "ARCHITECTURE.md").read_text()
# Rooms their owners describe when they land: their modules are not listed one by one yet.
ROOMS = ("orchestrator/web/", "orchestrator/execution/executors/")


def _section(text: str, title: str) -> str:
    return text.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_docs_link_to_nothing_outside_the_repository():
    for name, text in (("README.md", README), ("ARCHITECTURE.md", ARCHITECTURE)):
        assert "../" not in text, f"{name} points outside the repository"
        for target in re.findall(r"\]\(([^)]+)\)", text):
            assert not re.match(r"[a-z]+://", target), f"{name} links to {target}"
            assert (REPO / target.split("#")[0]).exists(), f"{name} links to missing {target}"
    assert "`ARCHITECTURE.md`" in _section(README, "Layout")


def test_every_asset_option_is_documented():
    table = _section(README, "`@asset` options")
    options = [p for p in inspect.signature(asset).parameters if p != "fn"]
    missing = [o for o in options if f"`{o}" not in table and f", `{o}`" not in table and f"`{o}=" not in table]
    assert not missing, f"@asset options missing from the README: {missing}"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found += _commands(command, path) if isinstance(command, click.Group) else []
        if not isinstance(command, click.Group) or command.invoke_without_command:
            found.append(path)
    return found


def test_every_command_is_in_the_commands_table():
    rows = [line for line in _section(README, "Commands").splitlines() if line.startswith("| `orch ")]
    missing = [" ".join(path) for path in _commands(main)
               if not any(f"orch {path[0]}" in row and re.search(rf"\b{path[-1]}\b", row) for row in rows)]
    assert not missing, f"commands missing from the README's table: {missing}"


def test_every_module_is_on_the_architecture_map():
    missing = []
    for package in ("orchestrator", "integrations"):
        for path in (REPO / package).rglob("*.py"):
            relative = path.relative_to(REPO).as_posix()
            if path.name == "__init__.py" or "migrations" in path.parts or relative.startswith(ROOMS):
                continue
            if not re.search(rf"\b{re.escape(path.stem)}\b", ARCHITECTURE):
                missing.append(relative)
    assert not missing, f"modules missing from ARCHITECTURE.md: {missing}"
