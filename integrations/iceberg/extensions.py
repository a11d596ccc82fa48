"""DuckDB's avro and iceberg extensions, from their pip wheels (DuckDB cannot download them here).

Two ways to get them into a connection: `attach_iceberg(con)` loads both now (~0.4 s per database);
`autoload_iceberg(con)` adds a folder of links to the wheels' files to the database's
`extension_directories`, so that DuckDB loads iceberg, and avro with it, the first time a query calls
`iceberg_scan`, and never otherwise. The folder is made once per environment under the user's cache.

This module imports no pyiceberg.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from integrations.iceberg.duckdb_scan import sql_string
from orchestrator.errors import IOManagerError

EXTENSIONS = ("avro", "iceberg")  # iceberg needs avro to read manifests


def extension_path(name: str) -> Path:
    """The `.duckdb_extension` file of `name` in its `duckdb_extension_<name>` wheel.

    >>> extension_path("iceberg").name
    'iceberg.duckdb_extension'
    """
    import duckdb

    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    roots = list(spec.submodule_search_locations or []) if spec else []
    candidates = [p for root in roots for p in sorted(Path(root).glob(f"extensions/*/{name}.duckdb_extension"))]
    exact = [p for p in candidates if p.parent.name == f"v{duckdb.__version__}"]
    if exact or candidates:
        return (exact or candidates)[0]
    raise IOManagerError(
        f"The DuckDB extension '{name}' is not installed: pip install "
        f"'duckdb-extension-{name}=={duckdb.__version__}' (it must match duckdb {duckdb.__version__})."
    )


def attach_iceberg(con: Any) -> Any:
    """Load the avro and iceberg extensions from their wheels into DuckDB connection `con`; returns it."""
    loaded = {row[0] for row in con.execute(
        "SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    for name in EXTENSIONS:
        if name not in loaded:
            con.execute(f"LOAD '{sql_string(str(extension_path(name)))}'")
    return con


def autoload_iceberg(con: Any) -> Any:
    """Have DuckDB load avro and iceberg into `con`'s database the first time a query needs them;
    loads them now when it cannot (autoloading switched off, no folder for the links). Returns `con`.

    A setting of the open database, not a connection config: other connections to the same file in
    this process must open with the same config.
    """
    folder = autoload_directory(con.execute("PRAGMA platform").fetchone()[0])
    if folder is None or not con.execute("SELECT current_setting('autoload_known_extensions')").fetchone()[0]:
        return attach_iceberg(con)
    folders = list(con.execute("SELECT current_setting('extension_directories')").fetchone()[0] or [])
    if str(folder) not in folders:
        listed = ", ".join(f"'{sql_string(f)}'" for f in [*folders, str(folder)])
        con.execute(f"SET extension_directories = [{listed}]")
    return con


@functools.cache
def autoload_directory(platform: str) -> Path | None:
    """`<cache>/<id>/` with `v<duckdb version>/<platform>/<name>.duckdb_extension` linking to the wheels:
    the layout DuckDB looks for in its `extension_directories`. <id> is per environment, so venvs
    never repoint each other's links. None when no link can be made."""
    import duckdb

    files = {name: extension_path(name) for name in EXTENSIONS}
    env_id = hashlib.sha256("\n".join(str(p) for p in files.values()).encode()).hexdigest()[:12]
    for cache in _cache_roots():
        root = cache / "orch-duckdb-extensions" / env_id
        try:
            folder = root / f"v{duckdb.__version__}" / platform
            folder.mkdir(parents=True, exist_ok=True)
            for name, target in files.items():
                _link(folder / f"{name}.duckdb_extension", target)
            return root
        except OSError:
            continue
    return None


def _cache_roots() -> list[Path]:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return [Path(xdg) if xdg else Path.home() / ".cache", Path(tempfile.gettempdir())]


def _link(link: Path, target: Path) -> None:
    """Point `link` at `target`, atomically (concurrent processes may do the same)."""
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)
