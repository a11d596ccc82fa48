"""Saved results: one pickle file, one entry per asset, each keyed by what its lineage depends on.

An entry is `asset -> (input_key, AssetLineage)`, where `input_key` hashes the compiled SQL, the
upstream schemas it was qualified against and the engine version. The CLI and the UI read
entries whose key still matches instead of recomputing; only assets whose SQL or upstream schema
changed are computed again. Writes are atomic (write, then rename), so a reader never sees half a
file and concurrent writers lose nothing but a cache entry.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from pathlib import Path
from typing import Any

import orjson

from integrations.lineage.model import AssetLineage
from orchestrator.io.files import atomic_write_bytes

STORE_FORMAT = 2
ENGINE_VERSION = "2"
FILE_NAME = "orch_column_lineage.pickle"


def input_key(*parts: Any) -> str:
    """A stable hash of JSON-able parts (the engine version is always part of it)."""
    material = orjson.dumps([ENGINE_VERSION, *parts], option=orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.blake2b(material, digest_size=16).hexdigest()


class LineageStore:
    """`get(asset, key)` returns the saved lineage when its key matches; `save()` writes once."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._entries: dict[str, tuple[str, AssetLineage]] = self._read()
        self._seen: set[str] = set()
        self._dirty = False
        self.hits = 0
        self.misses = 0
        self.save_seconds = 0.0

    def _read(self) -> dict[str, tuple[str, AssetLineage]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = pickle.loads(self.path.read_bytes())
        except Exception:  # a corrupt or foreign file is rebuilt, never trusted
            return {}
        return data.get("entries", {}) if data.get("format") == STORE_FORMAT else {}

    def get(self, asset: str, key: str) -> AssetLineage | None:
        self._seen.add(asset)
        found = self._entries.get(asset)
        if found is not None and found[0] == key:
            self.hits += 1
            return found[1]
        self.misses += 1
        return None

    def put(self, asset: str, key: str, lineage: AssetLineage) -> None:
        self._seen.add(asset)
        self._entries[asset] = (key, lineage)
        self._dirty = True

    def save(self) -> None:
        """Write the entries seen in this computation (others are dropped) when anything changed."""
        if self.path is None:
            return
        stale = set(self._entries) - self._seen
        if not self._dirty and not stale:
            return
        started = time.perf_counter()
        for asset in stale:
            del self._entries[asset]
        atomic_write_bytes(self.path, pickle.dumps({"format": STORE_FORMAT, "entries": self._entries},
                                                   protocol=pickle.HIGHEST_PROTOCOL))
        self._dirty = False
        self.save_seconds = time.perf_counter() - started
