"""ORCH_HOME: where the event store and the default IO managers keep their files."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.io.base import IOManager

HOME_DIRNAME = ".orch"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists():
            return folder
    return here


def resolve_home(explicit: str | Path | None = None) -> Path:
    """--home, else $ORCH_HOME, else `.orch/` beside the project's pyproject.toml."""
    if explicit:
        return Path(explicit).resolve()
    if os.environ.get("ORCH_HOME"):
        return Path(os.environ["ORCH_HOME"]).resolve()
    return project_root() / HOME_DIRNAME


def default_io_managers(home: Path) -> dict[str, IOManager]:
    from orchestrator.io.parquet import ParquetIOManager  # pyarrow: imported when a run needs it

    return {"io_manager": ParquetIOManager(home / "storage")}
