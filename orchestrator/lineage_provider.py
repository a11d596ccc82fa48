"""The column lineage provider: whatever the `orchestrator.lineage` entry point `columns` names.

The CLI and the web UI call it the same way; the core never imports the integration behind it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from orchestrator.errors import OrchestratorError


def column_lineage(defs: Any, store: Any, home: Path | str | None) -> Any:
    """The provider's column lineage graph of `defs` (see integrations/lineage/graph.py)."""
    found = {e.name: e for e in entry_points(group="orchestrator.lineage")}
    if "columns" not in found:
        raise OrchestratorError(
            "Column lineage needs a provider: no entry point 'columns' in group 'orchestrator.lineage'. "
            "Install the orchestrator with its integrations (pip install -e .)."
        )
    return found["columns"].load()(defs, store=store, home=home)
