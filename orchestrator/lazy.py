"""Module attributes imported on first use: names whose modules are heavy (pyarrow, duckdb,
SQLAlchemy cost ~0.5 s and ~140 MB) while loading definitions, listing and selecting need none."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_attributes(module: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` that imports `name` from `homes[name]` when first asked for."""

    def __getattr__(name: str) -> object:
        if name not in homes:
            raise AttributeError(f"module '{module}' has no attribute '{name}'")
        value = getattr(importlib.import_module(homes[name]), name)
        setattr(sys.modules[module], name, value)  # later lookups skip this function
        return value

    return __getattr__
