"""Qualify a parsed query once: every column named by its source, every `*` expanded, against
the nested schema of what the query reads.

This is sqlglot's `qualify` without the passes whose result the walk does not need (validation,
quoting), and without normalizing identifiers when that cannot change anything: the dialect
lower-cases names and `parse` found the SQL's names lower case already (most dbt SQL; ~10% of a
model's analysis).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.schema import MappingSchema, ensure_schema

from integrations.lineage.prepare import LOWERCASE_META, SqlLineageError, dialect_of

_LOWERING = ("LOWERCASE", "CASE_INSENSITIVE")
"""sqlglot's normalization strategies that lower-case every name (quoted ones too, or not)."""


def qualify_query(query: exp.Expr, schema: Mapping[str, Any] | Any, dialect: str = "duckdb") -> exp.Expr:
    """Qualify every column with its source and expand stars against `schema` (nested dict or
    sqlglot Schema). Raises SqlLineageError naming what could not be resolved."""
    if dialect == "duckdb" and isinstance(schema, Mapping):
        schema = _duckdb_schema(schema)
    try:
        return _qualify(query, ensure_schema(schema, dialect=dialect_of(dialect)), dialect_of(dialect))
    except SqlglotError as exc:
        raise SqlLineageError(f"SQL does not qualify: {str(exc).splitlines()[0]}") from None
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise SqlLineageError(f"SQL does not qualify: {type(exc).__name__}: {exc}") from None


def _qualify(query: exp.Expr, schema: Any, dialect: Dialect) -> exp.Expr:
    """sqlglot's `qualify` minus validation and quoting (the walk reports what is unresolved),
    minus normalizing when it is a no-op (see the module docstring)."""
    if not (query.meta.get(LOWERCASE_META) and dialect.NORMALIZATION_STRATEGY.name in _LOWERING):
        query = normalize_identifiers(query, dialect=dialect, store_original_column_identifiers=True)
    query = qualify_tables(query, dialect=dialect)
    return qualify_columns(query, schema, expand_alias_refs=True, expand_stars=True)


def _duckdb_schema(schema: Mapping[str, Any]) -> Any:
    """A sqlglot schema of a nested dict, normalized as DuckDB normalizes names (lower case, quoted
    or not) up front: sqlglot's own normalization parses every name, a third of a model's qualify."""

    def lowered(level: Mapping[str, Any]) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for key, value in level.items():
            if not isinstance(key, str) or '"' in key:
                return None  # a name sqlglot would parse differently: let it normalize
            if isinstance(value, Mapping):
                value = lowered(value)
                if value is None:
                    return None
            out[key.lower()] = value
        return out

    normalized = lowered(schema)
    if normalized is None:
        return schema
    return MappingSchema(normalized, dialect=dialect_of("duckdb"), normalize=False)
