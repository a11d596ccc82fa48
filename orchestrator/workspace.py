"""Workspace: what `--defs`, `--home` and `--storage` point at; the definitions and the store open
lazily, once. The CLI, the daemon and the run processes it launches share it."""

from __future__ import annotations

import os
import tomllib

from orchestrator.definitions import Definitions, load_definitions
from orchestrator.errors import OrchestratorError
from orchestrator.home import default_io_managers, project_root, resolve_home
from orchestrator.storage.base import EventStore


class Workspace:
    """What the global options point at; the definitions and the store open lazily, once."""

    def __init__(self, defs: str | None, home: str | None, storage: str | None) -> None:
        self.defs_target = defs
        self.home = resolve_home(home)
        # Everything this process starts (dbt's profile, the user's definitions) sees the same home;
        # restored on close, so a command invoked in-process (tests, notebooks) leaves no trace.
        self._previous_home = os.environ.get("ORCH_HOME")
        os.environ["ORCH_HOME"] = str(self.home)
        self.storage_url = storage or os.environ.get("ORCH_STORAGE_URL")
        self._defs: Definitions | None = None
        self._store: EventStore | None = None

    @property
    def defs(self) -> Definitions:
        if self._defs is None:
            self._defs = load_definitions(self._target())
        return self._defs

    @property
    def store(self) -> EventStore:
        if self._store is None:
            from orchestrator.storage.open import open_store  # SQLAlchemy: only commands that use the store

            self._store = open_store(self.storage_url, self.home)
        return self._store

    def _target(self) -> str:
        if self.defs_target:
            return self.defs_target
        if os.environ.get("ORCH_DEFS"):
            return os.environ["ORCH_DEFS"]
        root = project_root()
        pyproject = root / "pyproject.toml"
        if pyproject.exists():
            config = tomllib.loads(pyproject.read_text()).get("tool", {}).get("orchestrator", {})
            if "defs" in config:
                spec = config["defs"]
                path_part = spec.partition(":")[0]
                return str(root / spec) if path_part.endswith(".py") else spec
        raise OrchestratorError(
            "No definitions to load: pass --defs path/to/definitions.py (or package.module), "
            "set ORCH_DEFS, or add `[tool.orchestrator] defs = \"...\"` to pyproject.toml."
        )

    def io_managers(self) -> dict:
        """The defaults under ORCH_HOME, overridden by the definitions' own."""
        return {**default_io_managers(self.home), **self.defs.io_managers}

    def environment(self) -> dict[str, str]:
        """The variables that make a child process open this same workspace."""
        target = self._target()
        path, sep, attr = target.partition(":")
        if path.endswith(".py"):
            target = os.path.abspath(path) + sep + attr
        env = {"ORCH_DEFS": target, "ORCH_HOME": str(self.home)}
        if self.storage_url:
            env["ORCH_STORAGE_URL"] = self.storage_url
        return env

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._previous_home is None:
            os.environ.pop("ORCH_HOME", None)
        else:
            os.environ["ORCH_HOME"] = self._previous_home
