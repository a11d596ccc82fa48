"""dbt's part of a saved state: each project's manifest, for `--defer` in slim CI.

`orch state save DIR` calls `save_manifests` (entry point group `orchestrator.state`): it copies
every dbt project's manifest.json to `DIR/dbt/<project name>/manifest.json`. With `--state DIR`
(ORCH_STATE_DIR), a dbt build runs with `--defer --state DIR/dbt/<project name>`, so a selected
model reads the production relation of a parent that is not selected, as dbt's slim CI does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from integrations.dbt.project import DbtProject
from orchestrator.io.files import atomic_write_bytes

STATE_ENV = "ORCH_STATE_DIR"


def state_dir_of(project: DbtProject, root: str | Path) -> Path:
    """Where a project's manifest goes in a saved state: by the `name:` of its dbt_project.yml."""
    return Path(root) / "dbt" / str(project._project_yml().get("name") or project.name)


def save_manifests(defs: Any, folder: Path) -> list[str]:
    saved = []
    projects: dict[str, DbtProject] = {}
    for definition in defs.assets:
        project = getattr(getattr(definition, "runner", None), "project", None)
        if isinstance(project, DbtProject):
            projects.setdefault(str(project.project_dir), project)
    for project in projects.values():
        target = state_dir_of(project, folder) / "manifest.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, project.ensure_manifest().read_bytes())
        saved.append(str(target.relative_to(folder)))
    return saved


def defer_args(project: DbtProject) -> list[str]:
    """`--defer --state ...` when a saved state with this project's manifest is in force."""
    root = os.environ.get(STATE_ENV)
    if not root:
        return []
    folder = state_dir_of(project, root)
    return ["--defer", "--state", str(folder)] if (folder / "manifest.json").exists() else []
