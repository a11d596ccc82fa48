"""An asset's code for its page: Python source, or a dbt model's raw and compiled SQL.

Files are read only inside the allowed roots: the project (the definitions' root and the folders
of the dbt projects behind the assets' runners) and ORCH_HOME. Anything else is refused.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestrator.assets import AssetDefinition
from orchestrator.errors import OrchestratorError

MAX_BYTES = 1_000_000


class OutsideProjectError(OrchestratorError):
    """A file that is neither in the project nor under ORCH_HOME."""


def project_dir_of(definition: AssetDefinition) -> Path | None:
    """The folder of the dbt (or other batch) project that runs this asset, when it has one."""
    found = getattr(getattr(definition.runner, "project", None), "project_dir", None)
    return Path(found) if found else None


def allowed_roots(root: Path | None, home: Path | None, assets: Iterable[AssetDefinition]) -> tuple[Path, ...]:
    roots = {p.resolve() for p in (root, home) if p is not None}
    roots |= {d.resolve() for d in map(project_dir_of, assets) if d is not None}
    return tuple(sorted(roots))


def read_inside(path: Path, roots: tuple[Path, ...]) -> str:
    """The text of `path` when it resolves (symlinks followed) inside one of `roots`."""
    resolved = path.resolve()
    if not any(resolved.is_relative_to(r) for r in roots):
        raise OutsideProjectError(f"'{path}' is outside the project and ORCH_HOME; it is not shown.")
    if not resolved.is_file():
        raise FileNotFoundError(str(path))
    with resolved.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    text = data[:MAX_BYTES].decode("utf-8", errors="replace")
    return text + ("\n-- (cut at 1 MB)" if len(data) > MAX_BYTES else "")


def asset_code(definition: AssetDefinition, roots: tuple[Path, ...], root: Path | None,
               compiled: str | None) -> dict[str, Any]:
    """`{"language", "path", "line", "code"}` for Python, `{"language": "sql", "raw", "compiled"}`
    for SQL models; `error` says why something is missing."""
    if definition.fn is not None:
        return _python_code(definition, roots)
    project = project_dir_of(definition)
    path = definition.path
    found: dict[str, Any] = {"language": "sql" if path and path.endswith(".sql") else "text",
                             "path": path, "compiled": compiled}
    if not path:
        found["error"] = "This asset has no file."
        return found
    base = project or root
    if base is None:
        found["error"] = f"'{path}' is relative and the project folder is unknown."
        return found
    try:
        found["raw"] = read_inside(base / path, roots)
    except (OutsideProjectError, OSError) as exc:
        found["error"] = str(exc) if isinstance(exc, OutsideProjectError) else f"Cannot read '{path}': {exc}"
    return found


def _python_code(definition: AssetDefinition, roots: tuple[Path, ...]) -> dict[str, Any]:
    fn = definition.fn
    try:
        source_file = inspect.getsourcefile(fn)
        if source_file is None or not any(Path(source_file).resolve().is_relative_to(r) for r in roots):
            return {"language": "python", "path": definition.path,
                    "error": "The function's file is outside the project; it is not shown."}
        lines, line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        return {"language": "python", "path": definition.path, "error": f"No source: {exc}"}
    return {"language": "python", "path": definition.path, "line": line, "code": "".join(lines)}
