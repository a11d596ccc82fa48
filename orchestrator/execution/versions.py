"""Stamping materializations with their code version and the data versions of their inputs.

A run reads the newest materialization of every upstream asset once, when it starts; as its own
materializations pass by, their versions replace those, so an asset downstream in the same run
records the version it really read. Staleness and declarative automation compare these stamps.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from orchestrator.automation.staleness import data_version_of
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.storage.base import EventStore
from orchestrator.storage.events import Event, EventType


class VersionStamper:
    def __init__(self, graph: AssetGraph, store: EventStore, planned: tuple[AssetKey, ...]) -> None:
        self._graph = graph
        self._lock = threading.Lock()
        wanted = {p for k in planned for p in graph.inputs(k)} if planned else set()
        latest = store.latest_materializations(wanted) if wanted else {}
        self._versions: dict[tuple[AssetKey, str | None], str] = {}
        self._newest: dict[AssetKey, tuple[int, str]] = {}
        for (key, partition), event in latest.items():
            version = data_version_of(event.data, event.run_id, event.timestamp)
            self._versions[(key, partition)] = version
            if event.id is not None and event.id >= self._newest.get(key, (-1, ""))[0]:
                self._newest[key] = (event.id, version)
        self._seq = 1 << 62  # in-run materializations are newer than anything stored

    @classmethod
    def seeded(cls, graph: AssetGraph, versions: dict[tuple[AssetKey, str | None], str]) -> VersionStamper:
        """A stamper elsewhere (a Dask worker) that starts from versions this run's stamper gave it."""
        stamper = cls.__new__(cls)
        stamper._graph, stamper._lock = graph, threading.Lock()
        stamper._versions, stamper._newest, stamper._seq = dict(versions), {}, 1 << 62
        return stamper

    def versions_for(self, keys: tuple[AssetKey, ...], partition_of: Callable[[AssetKey], str | None],
                     ) -> dict[tuple[AssetKey, str | None], str]:
        """The versions the parents of `keys` have now (as each key's partition reads them), as
        `seeded` takes them."""
        with self._lock:
            found = {(p, partition_of(k)): self._version(p, partition_of(k))
                     for k in keys for p in self._graph.parents(k)}
        return {k: v for k, v in found.items() if v is not None}

    def record(self, key: AssetKey, partition: str | None, version: str) -> None:
        """A materialization stamped elsewhere: later stamps here see its version."""
        with self._lock:
            self._versions[(key, partition)] = version
            self._seq += 1
            self._newest[key] = (self._seq, version)

    def _version(self, key: AssetKey, partition: str | None) -> str | None:
        found = self._versions.get((key, partition)) or self._versions.get((key, None))
        return found if found is not None else self._newest.get(key, (0, None))[1]

    def stamp(self, event: Event) -> Event:
        if event.type is not EventType.MATERIALIZATION or event.asset_key is None:
            return event
        key = event.asset_key
        definition = self._graph.assets.get(key)
        if definition is None:
            return event
        data: dict[str, Any] = dict(event.data)
        with self._lock:
            inputs = {}
            for parent in self._graph.inputs(key):
                version = self._version(parent, event.partition)
                if version is not None:
                    inputs[str(parent)] = version
            data["input_versions"] = inputs
            if "code_version" not in data and definition.code_version:
                data["code_version"] = definition.code_version
            version = data_version_of(data, event.run_id, event.timestamp)
            self._versions[(key, event.partition)] = version
            self._seq += 1
            self._newest[key] = (self._seq, version)
        return dataclasses.replace(event, data=data)


class StampingWriter:
    """An event writer's front: materializations are stamped before they are handed on."""

    def __init__(self, writer: Any, stamper: VersionStamper) -> None:
        self._writer, self._stamper = writer, stamper

    def add(self, event: Event) -> None:
        self._writer.add(self._stamper.stamp(event))

    def add_many(self, events: list[Event]) -> None:
        self._writer.add_many([self._stamper.stamp(e) for e in events])

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
