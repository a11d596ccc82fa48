"""A generator of large dbt-duckdb projects with known column lineage, for benchmarks.

    from benchmarks.dbt_gen import create_raw_tables, generate_project

    project = generate_project(Path("/tmp/bench_1k"), models=1000)
    create_raw_tables(project.default_warehouse)   # the `raw` source tables dbt reads
    # dbt build --project-dir /tmp/bench_1k --profiles-dir /tmp/bench_1k

See README.md in this directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import create_raw_tables

if TYPE_CHECKING:
    from .generate import GeneratedProject, generate_project

__all__ = ["GeneratedProject", "create_raw_tables", "generate_project"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `python -m benchmarks.dbt_gen.generate` runs the module only once.
    if name in ("GeneratedProject", "generate_project"):
        from . import generate

        return getattr(generate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
