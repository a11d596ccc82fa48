"""`orch state save DIR` and the `--state DIR` option: slim CI against a saved production state.

    orch state save prod-state/                            # in production, after a deploy
    orch materialize --select "state:modified+" --state prod-state/

`DIR/orch_state.json` holds the graph's fingerprints (orchestrator.state) and the schemas the
event store recorded; integrations add their own files through the `orchestrator.state` entry
point group (the dbt integration copies each project's manifest.json, so its builds can
`--defer` to the production relations of what is not selected). `--state DIR` sets ORCH_STATE_DIR
for everything the command runs.
"""

from __future__ import annotations

import json
import os
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from orchestrator import render
from orchestrator.cli_options import emit, json_option
from orchestrator.errors import SelectionError
from orchestrator.io.files import atomic_write_bytes
from orchestrator.state import GraphState, StateComparison, graph_state

STATE_FILE = "orch_state.json"
STATE_ENV = "ORCH_STATE_DIR"

state_option = click.option("--state", "state_dir", default=None, type=click.Path(file_okay=False),
                            help="A state saved by `orch state save` to compare with (state:modified...).")


def recorded_schemas(store: Any) -> dict:
    return {key: event.data["metadata"]["schema"] for (key, _), event in store.latest_materializations().items()
            if (event.data.get("metadata") or {}).get("schema")}


def comparison(ws: Any, state_dir: str | None) -> StateComparison | None:
    """The current graph compared with the state in `state_dir` (None without one); sets
    ORCH_STATE_DIR so that what runs (dbt's --defer) finds the saved artifacts."""
    if not state_dir:
        return None
    path = Path(state_dir) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SelectionError(f"No saved state at '{path}'. Write one with `orch state save {state_dir}`.") from None
    except ValueError as exc:
        raise SelectionError(f"'{path}' is not valid JSON ({exc}).") from None
    os.environ[STATE_ENV] = str(Path(state_dir).resolve())
    previous = GraphState.from_json(data, f"'{path}'")
    return StateComparison(previous, graph_state(ws.defs.graph, recorded_schemas(ws.store)))


@click.group()
def state() -> None:
    """Saved states of the project, for `--state DIR` and `state:` selection."""


@state.command("save")
@click.argument("directory", type=click.Path(file_okay=False))
@json_option
@click.pass_obj
def state_save(ws: Any, directory: str, as_json: bool) -> None:
    """Save the current graph's state (and the integrations' artifacts) into DIRECTORY."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    saved = graph_state(ws.defs.graph, recorded_schemas(ws.store), {"saved_at": time.time()})
    atomic_write_bytes(folder / STATE_FILE, json.dumps(saved.to_json(), indent=1).encode())
    files = [STATE_FILE]
    for entry in entry_points(group="orchestrator.state"):
        files += entry.load()(ws.defs, folder)
    found = {"directory": str(folder.resolve()), "assets": len(saved.assets), "files": files}
    emit(found, as_json, lambda f: render.console.print(
        f"Saved the state of {f['assets']} assets in {f['directory']}: {', '.join(f['files'])}", markup=False))


@state.command("diff")
@click.argument("directory", type=click.Path(file_okay=False))
@json_option
@click.pass_obj
def state_diff(ws: Any, directory: str, as_json: bool) -> None:
    """What changed since the state in DIRECTORY, and why (state:modified)."""
    compared = comparison(ws, directory)
    assert compared is not None
    rows = [{"asset": str(k), "reasons": compared.reasons(k)}
            for k in sorted(compared.select("modified"), key=str)]
    removed = sorted(str(k) for k in set(compared.previous.assets) - set(compared.current.assets))
    emit({"modified": rows, "removed": removed}, as_json, _diff_table)


def _diff_table(found: dict) -> None:
    for row in found["modified"]:
        render.console.print(f"{row['asset']:<48} {', '.join(row['reasons'])}", markup=False)
    for key in found["removed"]:
        render.console.print(f"{key:<48} removed", markup=False)
    render.console.print(f"{len(found['modified'])} modified, {len(found['removed'])} removed", markup=False)
