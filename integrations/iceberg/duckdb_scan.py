"""Reading the IO manager's Iceberg tables from DuckDB (and so from dbt-duckdb).

The extensions come from their wheels (see extensions.py). `iceberg_scan_sql(location)` is the SQL
to read a table: a `*.metadata.json` file reads that version; a table folder reads the version named
by its `metadata/version-hint.text`, which the IO manager rewrites after each commit of a local table
(`write_version_hint`), so a dbt source can point at the folder once and always see the latest data.

This module imports no pyiceberg.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
import urllib.request
from pathlib import Path

from orchestrator.io.files import atomic_write_bytes

VERSION_HINT = "version-hint.text"
_METADATA_VERSION = re.compile(r"^(?:v)?(\d+)(?:-.*)?\.metadata\.json$")


def local_path(location: str) -> str:
    """A filesystem path for a file:// URI; other locations (s3://...) unchanged."""
    if location.startswith("file:"):
        return urllib.request.url2pathname(urllib.parse.urlsplit(location).path)
    return location


def iceberg_scan_sql(location: str | Path) -> str:
    """`iceberg_scan('<path>')` for a metadata file or a table folder (file:// URIs become paths).

    >>> iceberg_scan_sql("file:///wh/raw/events/metadata/00001-a.metadata.json")
    "iceberg_scan('/wh/raw/events/metadata/00001-a.metadata.json')"
    """
    return f"iceberg_scan('{sql_string(local_path(str(location)))}')"


def write_version_hint(metadata_location: str) -> None:
    """Point `metadata/version-hint.text` at `metadata_location` unless it names a newer version.

    Only for local tables; concurrent writers serialize on a lock file, so the hint never goes back.
    """
    if not metadata_location.startswith("file:"):
        return
    metadata = Path(local_path(metadata_location))
    version = _version(metadata.name)
    if version is None:
        return
    hint = metadata.parent / VERSION_HINT
    with _locked(metadata.parent / ".version-hint.lock"):
        with contextlib.suppress(OSError):
            current = _version(hint.read_text().strip() + ".metadata.json")
            if current is not None and current > version:
                return
        atomic_write_bytes(hint, metadata.name.removesuffix(".metadata.json").encode())


def _version(filename: str) -> int | None:
    match = _METADATA_VERSION.match(filename)
    return int(match.group(1)) if match else None


@contextlib.contextmanager
def _locked(path: Path):  # noqa: ANN202
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the hint may lag behind under concurrent writers
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sql_string(text: str) -> str:
    return text.replace("'", "''")
