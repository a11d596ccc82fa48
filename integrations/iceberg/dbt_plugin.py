"""A dbt-duckdb plugin that gives dbt's DuckDB connections the iceberg extension from its wheel.

In `profiles.yml`:

    plugins:
      - module: integrations.iceberg.dbt_plugin

Then a source reads an Iceberg table the IO manager wrote, through its table folder (the latest
commit, via `metadata/version-hint.text`):

    sources:
      - name: raw
        tables:
          - name: events
            meta:
              external_location: "iceberg_scan('/abs/path/to/warehouse/raw/events')"

Loading the extensions costs ~0.4 s per DuckDB database, and dbt-duckdb opens one per connection
when `keep_open` is false (~17 per build of the demo). So the plugin only tells DuckDB where they
are (`autoload_iceberg`): DuckDB loads them the first time a query calls `iceberg_scan`, and a build
that reads no Iceberg source never loads them. When autoloading is off, it loads them eagerly.

dbt-duckdb looks the class up as `Plugin` and calls the methods below. It is duck-typed rather than
a subclass of dbt-duckdb's BasePlugin, so this package does not import dbt.
"""

from __future__ import annotations

from typing import Any

from integrations.iceberg.extensions import autoload_iceberg


class Plugin:
    """dbt-duckdb plugin: avro + iceberg from the installed wheels, loaded on first use."""

    def __init__(self, name: str, plugin_config: dict[str, Any], credentials: Any = None) -> None:
        self.name = name
        self.creds = credentials
        self.initialize(plugin_config)

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.config = plugin_config

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        pass

    def configure_connection(self, conn: Any) -> None:
        autoload_iceberg(conn)

    def configure_cursor(self, cursor: Any) -> None:
        pass

    def load(self, source_config: Any) -> Any:
        raise NotImplementedError(
            f"The {self.name} plugin reads no sources itself: give the source "
            "meta.external_location = \"iceberg_scan('<table folder or metadata.json>')\"."
        )

    def store(self, target_config: Any) -> None:
        raise NotImplementedError(f"The {self.name} plugin does not write models.")

    def default_materialization(self) -> str:
        return "table"
