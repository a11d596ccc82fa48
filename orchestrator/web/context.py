"""What every request of one app shares: the definitions, the store and the caches built from them."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import orjson

from orchestrator.definitions import Definitions
from orchestrator.errors import OrchestratorError, UnknownAssetError
from orchestrator.execution.materialize import load_dynamic_partitions
from orchestrator.io.files import atomic_write_bytes
from orchestrator.keys import AssetKey
from orchestrator.storage.base import EventStore
from orchestrator.web.layout import graph_version, layout
from orchestrator.web.serialize import asset_summary
from orchestrator.web.sources import allowed_roots
from orchestrator.web.states import AssetStates
from orchestrator.web.stream import EventHub

CACHE_DIR = "ui-cache"
log = logging.getLogger("orchestrator.web")


class WebContext:
    def __init__(self, defs: Definitions, store: EventStore, home: Path | None = None, backfills: Any = None) -> None:
        self.defs = defs
        self.backfills = backfills
        self.store = store
        self.home = Path(home).resolve() if home else None
        self.graph = defs.graph
        self.roots = allowed_roots(defs.root, self.home, self.graph.assets.values())
        self.states = AssetStates(defs, store)
        self.hub = EventHub(store)
        self.version = graph_version(self.graph)
        self._layout: bytes | None = None
        self._layout_keys: list[AssetKey] | None = None
        self._layout_lock = threading.Lock()
        self._lineage: tuple[int, Any] | None = None
        self._lineage_lock = threading.Lock()
        self._summaries: dict[AssetKey, dict[str, Any]] = {}

    def asset_key(self, text: str) -> AssetKey:
        """The asset a URL names, or UnknownAssetError (404) with a suggestion."""
        try:
            key = AssetKey.parse(text)
        except ValueError as exc:
            raise UnknownAssetError(f"'{text}' is not an asset key: {exc}") from None
        self.graph.get(key)  # raises with did-you-mean
        return key

    def summary(self, key: AssetKey) -> dict[str, Any]:
        """What the definitions say of an asset (kind, group, owners...): the same until they change."""
        found = self._summaries.get(key)
        if found is None:
            found = self._summaries[key] = asset_summary(self.graph, key)
        return found

    def dynamic_partitions(self) -> None:
        load_dynamic_partitions(self.graph, self.store)

    # -- the global graph's layout, cached per graph version in memory and under ORCH_HOME --------

    def layout_json(self) -> bytes:
        with self._layout_lock:
            if self._layout is None:
                self._layout = self._cached_layout()
            return self._layout

    def layout_keys(self) -> list[AssetKey]:
        """The assets in the layout's order (the order of /api/graph/states)."""
        if self._layout_keys is None:
            self._layout_keys = [AssetKey.parse(k) for k in orjson.loads(self.layout_json())["keys"]]
        return self._layout_keys

    def _cached_layout(self) -> bytes:
        path = self.home / CACHE_DIR / f"layout-{self.version}.json" if self.home else None
        if path is not None and path.is_file():
            return path.read_bytes()
        data = orjson.dumps(layout(self.graph).as_json())
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        return data

    # -- column lineage: the provider's graph, recomputed when a new materialization arrived ------

    def column_lineage(self) -> Any:
        from orchestrator.lineage_provider import column_lineage

        self.states.refresh()
        version = self.states.materialization_cursor
        with self._lineage_lock:
            if self._lineage is None or self._lineage[0] != version:
                self._lineage = (version, column_lineage(self.defs, self.store, self.home))
            return self._lineage[1]

    def column_lineage_or_error(self) -> tuple[Any, str | None]:
        """The column lineage graph, or None and why there is none (no provider, a failure)."""
        try:
            return self.column_lineage(), None
        except OrchestratorError as exc:
            return None, str(exc)
        except Exception as exc:  # the provider's own failure: the page shows the rest
            log.exception("column lineage failed")
            return None, f"Column lineage failed: {type(exc).__name__}: {exc}"
