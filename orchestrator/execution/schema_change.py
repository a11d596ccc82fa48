"""Compare a new materialization's schema with the previous one, before anything is written."""

from __future__ import annotations

from collections.abc import Sequence

def describe_change(previous: Sequence[Sequence[str]], new: Sequence[Sequence[str]]) -> str | None:
    """'column a: int64 -> string; added b; removed c', or None when the schemas match.

    >>> describe_change([["a", "int64"]], [["a", "string"], ["b", "bool"]])
    'column a: int64 -> string; added b (bool)'
    """
    old_types = {name: kind for name, kind in previous}
    new_types = {name: kind for name, kind in new}
    parts = [f"column {n}: {old_types[n]} -> {t}" for n, t in new_types.items()
             if n in old_types and old_types[n] != t]
    parts += [f"added {n} ({t})" for n, t in new_types.items() if n not in old_types]
    parts += [f"removed {n}" for n in old_types if n not in new_types]
    return "; ".join(parts) or None
