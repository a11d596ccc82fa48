"""Pickle dbt's parsed Manifest faithfully.

dbt 1.11's `Manifest.__reduce_ex__` passes its fields positionally but leaves out `fixtures`, so
every later field lands one slot off on load (the source lookup comes back as a ref lookup and
source tests fail to compile). We pickle the public fields by name instead and rebuild the private
caches and locks (`_...` fields) from their defaults.
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import pickle
from typing import Any


def _rebuild(cls: type, state: dict[str, Any]) -> Any:
    manifest = cls.__new__(cls)
    for field in dataclasses.fields(cls):
        if field.name.startswith("_"):
            if field.default_factory is not dataclasses.MISSING:
                state[field.name] = field.default_factory()
            else:
                state[field.name] = None if field.default is dataclasses.MISSING else field.default
    manifest.__dict__.update(state)
    return manifest


def _reduce(manifest: Any) -> tuple:
    state = {f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest)
             if not f.name.startswith("_")}
    return _rebuild, (type(manifest), state)


def dumps(manifest: Any) -> bytes:
    from dbt.contracts.graph.manifest import Manifest

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, Manifest: _reduce}
    pickler.dump(manifest)
    return buffer.getvalue()


loads = pickle.loads
