"""DuckDB (and dbt-duckdb) read the Iceberg tables the IO manager writes, extensions from the wheels."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from integrations.dbt.runner import close_duckdb_database
from integrations.iceberg import attach_iceberg, duckdb_iceberg_scan_sql, extension_path
from integrations.iceberg.dbt_plugin import Plugin
from integrations.iceberg.duckdb_scan import local_path
from tests.integrations.iceberg.conftest import DAILY, day_rows, write


def test_the_extensions_come_from_the_installed_wheels():
    for name in ("iceberg", "avro"):
        path = extension_path(name)
        assert path.is_file() and f"duckdb_extension_{name}" in str(path)


def test_duckdb_iceberg_scan_reads_what_the_io_manager_wrote(io):
    write(io, "raw/events", day_rows("2024-01-01", 3), "2024-01-01", DAILY)
    first = write(io, "raw/events", day_rows("2024-01-02", 4), "2024-01-02", DAILY)
    con = attach_iceberg(duckdb.connect())
    attach_iceberg(con)  # idempotent

    metadata_file = local_path(first["metadata_location"])
    assert Path(metadata_file).is_file()
    assert con.execute(f"SELECT count(*) FROM iceberg_scan('{metadata_file}')").fetchone() == (7,)
    assert con.execute(f"SELECT count(*) FROM {duckdb_iceberg_scan_sql(first['metadata_location'])}").fetchone() == (7,)

    write(io, "raw/events", day_rows("2024-01-02", 1), "2024-01-02", DAILY)
    latest = con.execute(f"SELECT count(*) FROM {io.scan_sql('raw/events')}").fetchone()  # the table folder
    pinned = con.execute(f"SELECT count(*) FROM {duckdb_iceberg_scan_sql(first['metadata_location'])}").fetchone()
    assert (latest, pinned) == ((4,), (7,))
    day = con.execute(f"SELECT day, sum(amount) FROM {io.scan_sql('raw/events')} GROUP BY day ORDER BY day").fetchall()
    assert [str(d) for d, _ in day] == ["2024-01-01", "2024-01-02"]


@pytest.mark.parametrize("catalog", ["sqlite"], indirect=True)  # dbt reads files: the catalog does not matter
def test_a_dbt_duckdb_source_reads_the_iceberg_table(io, catalog, tmp_path, monkeypatch):
    write(io, "raw/events", day_rows("2024-01-01", 3), "2024-01-01", DAILY)
    write(io, "raw/events", day_rows("2024-01-02", 4), "2024-01-02", DAILY)
    monkeypatch.setenv("ORCH_ICEBERG_WAREHOUSE", local_path(io.config.properties["warehouse"]))
    dbt_build(tmp_path, {
        "models/sources.yml": """
            version: 2
            sources:
              - name: raw
                meta:
                  external_location: "iceberg_scan('{{ env_var('ORCH_ICEBERG_WAREHOUSE') }}/raw/{name}')"
                tables:
                  - name: events
        """,
        "models/events_per_day.sql": """
            select day, count(*) as n from {{ source('raw', 'events') }} group by day
        """,
    })
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        attach_iceberg(con)  # the model is a view over iceberg_scan: reading it needs the extension
        rows = con.execute("SELECT CAST(day AS VARCHAR), n FROM events_per_day ORDER BY day").fetchall()
    assert rows == [("2024-01-01", 3), ("2024-01-02", 4)]


LOADED = "SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name IN ('avro', 'iceberg')"


def plugin_connection(config: dict) -> duckdb.DuckDBPyConnection:
    """A connection set up as dbt-duckdb sets up each one with the plugin."""
    plugin = Plugin("dbt_plugin", {})
    plugin.update_connection_config(None, config)
    con = duckdb.connect(config=config)
    plugin.configure_connection(con)
    return con


@pytest.mark.parametrize("catalog", ["sqlite"], indirect=True)
def test_the_dbt_plugin_has_duckdb_load_the_extensions_when_a_query_reads_iceberg(io, catalog):
    write(io, "raw/events", day_rows("2024-01-01", 3), "2024-01-01", DAILY)
    con = plugin_connection({})
    assert con.execute("SELECT 42").fetchone() == (42,)
    assert con.execute(LOADED).fetchone() == (0,)  # not paid by connections that read no Iceberg
    assert con.execute(f"SELECT count(*) FROM {io.scan_sql('raw/events')}").fetchone() == (3,)
    assert con.execute(LOADED).fetchone() == (2,)


def test_with_autoloading_off_the_dbt_plugin_loads_the_extensions_on_connect():
    assert plugin_connection({"autoload_known_extensions": False}).execute(LOADED).fetchone() == (2,)


def test_a_dbt_build_reading_no_iceberg_source_loads_no_extension(tmp_path):
    dbt_build(tmp_path, {"models/loaded.sql": f"""
        {{{{ config(materialized='table') }}}}
        {LOADED.replace('count(*)', 'count(*) AS n')}
    """})
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        assert con.execute("SELECT n FROM loaded").fetchone() == (0,)


def dbt_build(tmp_path: Path, models: dict[str, str]) -> None:
    """`dbt build` of a project of `models` on a DuckDB warehouse in tmp_path, with the plugin."""
    dbt_main = pytest.importorskip("dbt.cli.main")
    project = tmp_path / "dbt"
    _files(project, {
        "dbt_project.yml": """
            name: demo
            version: "1.0"
            profile: demo
        """,
        "profiles.yml": f"""
            demo:
              target: dev
              outputs:
                dev:
                  type: duckdb
                  path: "{tmp_path / 'warehouse.duckdb'}"
                  plugins:
                    - module: integrations.iceberg.dbt_plugin
        """,
        **models,
    })
    try:
        result = dbt_main.dbtRunner().invoke(["build", "--project-dir", str(project), "--profiles-dir",
                                              str(project), "--quiet"])
    finally:
        close_duckdb_database()  # dbt-duckdb keeps the warehouse open (keep_open): the test reads it
    assert result.success, result.exception


def _files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
