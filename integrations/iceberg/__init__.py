"""Iceberg for the orchestrator: IcebergIOManager on pyiceberg, and DuckDB reading its tables.

pyiceberg is imported only by this package, and only when IcebergIOManager is first used:
`integrations.iceberg.duckdb_scan`, `.extensions` (and the dbt-duckdb plugin on top of them) stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.iceberg.duckdb_scan import iceberg_scan_sql
from integrations.iceberg.extensions import attach_iceberg, autoload_iceberg, extension_path

if TYPE_CHECKING:
    from integrations.iceberg.io_manager import IcebergIOManager

__all__ = ["IcebergIOManager", "attach_iceberg", "autoload_iceberg", "duckdb_iceberg_scan_sql", "extension_path",
           "iceberg_scan_sql"]

duckdb_iceberg_scan_sql = iceberg_scan_sql  # the name the issue asked for


def __getattr__(name: str) -> Any:
    if name == "IcebergIOManager":
        from integrations.iceberg.io_manager import IcebergIOManager

        return IcebergIOManager
    raise AttributeError(f"module 'integrations.iceberg' has no attribute '{name}'")
