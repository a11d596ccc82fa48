"""ComputeHints: what a step needs from the machine that runs it (cores, memory, a kind of worker).

The thread and process executors run everything in one place and ignore them; the Dask executor
maps them to Dask resources, so a step runs only on a worker that declares enough of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import DefinitionError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(size: int | float | str) -> int:
    """Bytes from a size such as 512, "512MiB", "4 GB".

    >>> parse_bytes("4GiB"), parse_bytes("1.5 kB")
    (4294967296, 1500)
    """
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        return int(size)
    match = _SIZE.match(str(size))
    if match is None or match.group(2).lower() not in _UNITS:
        raise DefinitionError(f"Cannot read the memory size {size!r}: use bytes or e.g. '512MiB', '4GB'.")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True, slots=True)
class ComputeHints:
    """`cpu` cores and `memory` (bytes, or a size such as "4GiB") a step holds while it runs, and
    `worker`: a tag that only some workers carry (e.g. "gpu")."""

    cpu: float | None = None
    memory: int | None = None
    worker: str | None = None

    def __post_init__(self) -> None:
        if self.cpu is not None and self.cpu <= 0:
            raise DefinitionError(f"ComputeHints.cpu must be > 0, got {self.cpu}.")
        if self.memory is not None:
            object.__setattr__(self, "memory", parse_bytes(self.memory))
        if self.worker is not None and not re.fullmatch(r"[A-Za-z_][\w.-]*", self.worker):
            raise DefinitionError(f"ComputeHints.worker must be a plain tag such as 'gpu', got {self.worker!r}.")

    @classmethod
    def coerce(cls, value: ComputeHints | Mapping[str, Any] | None) -> ComputeHints | None:
        if value is None or isinstance(value, ComputeHints):
            return value
        unknown = set(value) - {"cpu", "memory", "worker"}
        if unknown:
            raise DefinitionError(f"Unknown compute hints {sorted(unknown)}; use cpu, memory and worker.")
        return cls(**value)


def needed_resources(hints: Iterable[ComputeHints | None]) -> dict[str, float]:
    """What ONE task running these assets (one, or a dbt segment) needs, as named amounts: `CPU` (the
    most cores any asks for), `MEMORY` (the most bytes) and 1 of each worker tag.

    >>> needed_resources([ComputeHints(cpu=2), ComputeHints(cpu=1, memory="1KiB", worker="gpu")])
    {'gpu': 1, 'CPU': 2, 'MEMORY': 1024}
    """
    found = [h for h in hints if h is not None]
    wanted: dict[str, float] = {tag: 1 for tag in sorted({h.worker for h in found if h.worker})}
    cpu = max((h.cpu for h in found if h.cpu is not None), default=None)
    memory = max((h.memory for h in found if h.memory is not None), default=None)
    if cpu:
        wanted["CPU"] = cpu
    if memory:
        wanted["MEMORY"] = memory
    return wanted
