"""The Iceberg schema layer: table schemas read through the Definitions' IcebergIOManagers.

- A Python asset whose `io_manager` is an IcebergIOManager: its table
  (`manager.table(key).schema()`), a dbt source with the same key included.
- A dbt source read in place with `iceberg_scan('<table folder or metadata.json>')`: the catalog
  table at that location (each manager's tables listed once, when first needed).

Nothing here imports pyiceberg: an IcebergIOManager only exists once `integrations.iceberg`
imported it, so the managers are found among the io_managers by that already imported class.
A table not written yet, or a catalog that cannot be reached, knows nothing (`errors` says why).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from integrations.lineage.schemas import Columns, Relation

IO_MANAGER_MODULE = "integrations.iceberg.io_manager"
_SCAN = re.compile(r"iceberg_scan\(\s*'([^']+)'", re.I)


def iceberg_managers(io_managers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The IcebergIOManagers among `io_managers`, by name."""
    module = sys.modules.get(IO_MANAGER_MODULE)
    if module is None:
        return {}
    return {name: m for name, m in (io_managers or {}).items() if isinstance(m, module.IcebergIOManager)}


class IcebergSchemas:
    """The `iceberg` hook of the schema layers: `fn(asset, relation) -> {column: type} | None`."""

    def __init__(self, managers: Mapping[str, Any], assets: Mapping[str, str],
                 scans: Mapping[Relation, str] | None = None) -> None:
        """`assets`: asset key -> io_manager name; `scans`: a source's relation -> the table
        folder its `iceberg_scan(...)` reads (see `iceberg_hook`)."""
        self.managers = dict(managers)
        self.assets = {k: m for k, m in assets.items() if m in self.managers}
        self.scans = dict(scans or {})
        self._locations: dict[str, tuple[Any, tuple[str, ...]]] | None = None
        self.errors: list[str] = []

    def __call__(self, asset: str, relation: Relation | None) -> Columns | None:
        if asset in self.assets:
            manager = self.managers[self.assets[asset]]
            found = self._schema(lambda: manager.table(asset))
            if found:
                return found
        folder = self.scans.get(relation) if relation is not None else None
        if folder is None:
            return None
        located = self._located().get(folder)
        if located is None:
            return None
        manager, identifier = located
        return self._schema(lambda: manager.catalog().load_table(identifier))

    def _schema(self, load: Callable[[], Any]) -> Columns | None:
        try:
            return columns_of(load().schema())
        except Exception as exc:  # not written yet, no catalog: this layer does not know it
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return None

    def _located(self) -> dict[str, tuple[Any, tuple[str, ...]]]:
        """Table folder -> (manager, identifier) for every table of every manager's catalog."""
        if self._locations is None:
            self._locations = {}
            for manager in self.managers.values():
                try:
                    catalog = manager.catalog()
                    for namespace in catalog.list_namespaces():
                        for identifier in catalog.list_tables(namespace):
                            location = catalog.load_table(identifier).location()
                            self._locations[folder_of(location)] = (manager, tuple(identifier))
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
        return self._locations


def columns_of(schema: Any) -> Columns:
    """A pyiceberg Schema's top-level columns -> {name: Iceberg type}."""
    return {field.name: str(field.field_type) for field in schema.fields}


def scan_path(call: str) -> str | None:
    """The path an `iceberg_scan('...')` call reads, else None."""
    found = _SCAN.search(call)
    return found.group(1) if found else None


def folder_of(location: str, base: str | Path = "") -> str:
    """A table folder as one string: `file://` dropped, a metadata file's table, a local path made
    absolute (relative to `base`); other URLs (s3://...) kept as they are."""
    path = location.removeprefix("file://")
    if path.endswith(".metadata.json") or path.endswith("version-hint.text"):
        path = path.rsplit("/", 2)[0]
    if "://" in path:
        return path.rstrip("/")
    return os.path.normpath(os.path.join(base or os.getcwd(), path))


def iceberg_hook(defs: Any, digests: Iterable[Any]) -> IcebergSchemas | None:
    """The Iceberg layer of `defs` (None without an IcebergIOManager): its Python assets stored
    in Iceberg, and the dbt sources of `digests` read with iceberg_scan (paths relative to the
    dbt project, where dbt runs)."""
    managers = iceberg_managers(getattr(defs, "io_managers", None))
    if not managers:
        return None
    assets = {str(a.key): a.io_manager for a in defs.assets if a.kind != "dbt"}
    scans = {parts: folder_of(path, digest.project_dir) for digest in digests
             for call, parts in digest.functions.items() if (path := scan_path(call))}
    return IcebergSchemas(managers, assets, scans)
