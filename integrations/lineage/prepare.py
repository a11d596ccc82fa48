"""From SQL text to a sqlglot tree ready to qualify (qualify.py): parse once, set dbt's ephemeral
CTEs aside.

- dbt inlines an ephemeral model as a CTE named `__dbt__cte__<name>`. Lineage goes THROUGH the
  ephemeral model, which is a node of its own: its CTE is removed and every reference to it
  becomes a table reference to the ephemeral model (`EPHEMERAL_DB.<name>`), so edges point at the
  ephemeral model and the ephemeral model's own SQL gives its edges upstream.
- A dbt source read in place (dbt-duckdb's `meta.external_location`) compiles to a table function,
  `read_parquet('...')`: when its text is a parent's relation_name, it becomes a table reference
  to that source (`__dbt__.external.<source>__<table>`), so `*` expands and edges point at it.
- `JOIN ... USING (k)`: qualification rewrites it to ON and the shared column to
  `COALESCE(a.k, b.k)`. Which side the output comes from is recorded on the SELECT beforehand
  (`USING_META`), so the walk can take it from the left side (right for RIGHT, both for FULL).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.tokens import Token, TokenType

EPHEMERAL_PREFIX = "__dbt__cte__"
EPHEMERAL_CATALOG = "__dbt__"
EPHEMERAL_DB = "ephemeral"
EXTERNAL_DB = "external"
USING_META = "orch_using"
LOWERCASE_META = "orch_lowercase"
"""Set on a parsed query whose every token that can name something is lower case already."""
_STRING_TOKENS = frozenset({TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING,
                            TokenType.BYTE_STRING, TokenType.BIT_STRING, TokenType.HEX_STRING,
                            TokenType.HEREDOC_STRING, TokenType.UNICODE_STRING})
_readers = threading.local()


@functools.cache
def dialect_of(name: str) -> Dialect:
    """One sqlglot Dialect per name: sqlglot builds a new one each time it is given a name."""
    return Dialect.get_or_raise(name)


class SqlLineageError(Exception):
    """SQL that cannot be parsed, qualified or walked; the message says what and where."""


def _reader(dialect: str) -> tuple[Any, Any]:
    """One sqlglot tokenizer and parser per dialect and thread (sqlglot makes both anew on each
    parse, ~1% of a model's analysis); each resets itself when used."""
    found = _readers.__dict__.get(dialect)
    if found is None:
        found = _readers.__dict__[dialect] = (dialect_of(dialect).tokenizer(), dialect_of(dialect).parser())
    return found


def _lowercase(tokens: list[Token]) -> bool:
    """Whether no token that may be an identifier has an upper-case letter (strings may; the
    tokenizer spells multi-word keywords such as GROUP BY in capitals)."""
    for token in tokens:
        text = token.text
        if text != text.lower() and token.token_type not in _STRING_TOKENS and not (
                " " in text and token.token_type is not TokenType.IDENTIFIER):
            return False
    return True


def parse(sql: str, dialect: str = "duckdb") -> exp.Expr:
    """One statement (the last one when there are several, as dbt's compiled SQL of a snapshot or
    a model with pre-statements may have); DDL/DML around a query is unwrapped to the query."""
    tokenizer, parser = _reader(dialect)
    try:
        tokens = tokenizer.tokenize(sql)
        statements = [s for s in parser.parse(tokens, sql) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        detail = first.get("description") or str(exc).splitlines()[0]
        raise SqlLineageError(f"SQL does not parse{where}: {detail}") from None
    except SqlglotError as exc:
        raise SqlLineageError(f"SQL does not parse: {str(exc).splitlines()[0]}") from None
    if not statements:
        raise SqlLineageError("no SQL statement")
    statement = statements[-1]
    query = _unwrap(statement)
    if query is None:
        raise SqlLineageError(f"not a query: {statement.key.upper()} statement")
    if _lowercase(tokens):
        query.meta[LOWERCASE_META] = True
    return query


def _unwrap(statement: exp.Expr) -> exp.Query | None:
    """The query of a statement; CTEs written before the INSERT / CREATE move onto the query."""
    node: exp.Expr | None = statement
    while node is not None and not isinstance(node, exp.Query):
        if isinstance(node, (exp.Create, exp.Insert)):
            outer = node.args.get("with_")
            node = node.expression
            if outer is not None and isinstance(node, exp.Query):
                inner = node.args.get("with_")
                if inner is not None:
                    outer.set("expressions", [*outer.expressions, *inner.expressions])
                node.set("with_", outer)
        elif isinstance(node, exp.Subquery):
            node = node.this
        else:
            return None
    if isinstance(node, exp.Subquery):
        node = node.unnest()
    return node if isinstance(node, exp.Query) else None


def set_aside_ephemeral_ctes(query: exp.Expr, prefix: str = EPHEMERAL_PREFIX) -> list[str]:
    """Remove dbt's injected `__dbt__cte__<name>` CTEs; references become tables
    `__dbt__.ephemeral.<name>` aliased as before. Returns the ephemeral names read."""
    with_ = query.args.get("with_")
    if not with_:
        return []
    names = {cte.alias: cte.alias[len(prefix):] for cte in with_.expressions if cte.alias.startswith(prefix)}
    if not names:
        return []
    kept = [cte for cte in with_.expressions if cte.alias not in names]
    if kept:
        with_.set("expressions", kept)
    else:
        query.set("with_", None)
    for table in list(query.find_all(exp.Table)):
        if table.args.get("db") or table.name not in names:
            continue
        alias = table.alias or table.name
        table.set("this", exp.to_identifier(names[table.name]))
        table.set("db", exp.to_identifier(EPHEMERAL_DB))
        table.set("catalog", exp.to_identifier(EPHEMERAL_CATALOG))
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return sorted(set(names.values()))


def table_function_sql(relation_name: str, dialect: str = "duckdb") -> str | None:
    """The normalized SQL of a relation_name that is a table function call, else None."""
    if "(" not in relation_name:
        return None
    try:
        table = sqlglot.parse_one(f"select * from {relation_name}", dialect=dialect).find(exp.Table)
    except SqlglotError:
        return None
    return table.this.sql(dialect=dialect) if table is not None and isinstance(table.this, exp.Func) else None


def set_aside_table_functions(query: exp.Expr, functions: Mapping[str, tuple[str, ...]],
                              dialect: str = "duckdb") -> None:
    """Table function calls that are known relations (`functions`: normalized SQL -> parts) become
    table references to them, aliased as before (by default, DuckDB's: the function's name)."""
    if not functions:
        return
    for table in list(query.find_all(exp.Table)):
        call = table.this
        if not isinstance(call, exp.Func) or (parts := functions.get(call.sql(dialect=dialect))) is None:
            continue
        alias = table.alias or (call.name if isinstance(call, exp.Anonymous) else call.sql_name()).lower()
        table.set("this", exp.to_identifier(parts[-1]))
        table.set("db", exp.to_identifier(parts[-2]))
        table.set("catalog", exp.to_identifier(parts[-3]))
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))


def mark_using_joins(query: exp.Expr) -> None:
    """Record on each SELECT which side its USING columns come from (see the module docstring)."""
    for join in query.find_all(exp.Join):
        using = join.args.get("using")
        select = join.parent
        if not using or not isinstance(select, exp.Select):
            continue
        side = (join.side or "").lower()
        taken = "right" if side == "right" else "both" if side == "full" else "left"
        marks = select.meta.setdefault(USING_META, {})
        for column in using:
            name = column.name if isinstance(column, (exp.Column, exp.Identifier)) else column.sql()
            marks[name.lower()] = taken if marks.get(name.lower(), taken) == taken else "both"


def table_parts(table: exp.Table) -> tuple[str, ...]:
    return tuple(p.name for p in table.parts if isinstance(p, exp.Identifier) and p.name)


def table_id(table: exp.Table) -> str:
    """The dotted name of a table reference as written (after normalization)."""
    return ".".join(table_parts(table))


def referenced_tables(query: exp.Expr) -> list[exp.Table]:
    """Table references that are not CTE names (before qualification)."""
    ctes = {cte.alias for cte in query.find_all(exp.CTE)}
    found = []
    for table in query.find_all(exp.Table):
        if not table.name:
            continue  # a table function, VALUES, ...
        if not table.args.get("db") and table.name in ctes:
            continue
        found.append(table)
    return found


def normalize_name(name: str, dialect: str = "duckdb") -> str:
    """One identifier as the dialect normalizes it (DuckDB: lower case, quoted or not)."""
    if dialect == "duckdb":
        return name.lower()
    ident = exp.to_identifier(name)
    if ident is None:
        return name
    return dialect_of(dialect).normalize_identifier(ident).name


_PLAIN_RELATION = re.compile(r'(?:"[^".]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^".]+"|[A-Za-z_][A-Za-z0-9_$]*))*')
"""Dotted names whose parts are quoted without quotes or dots inside, or plain identifiers."""


def relation_parts(relation_name: str, dialect: str = "duckdb") -> tuple[str, ...]:
    """`"db"."schema"."name"` (dbt's relation_name) -> normalized parts."""
    if dialect == "duckdb" and _PLAIN_RELATION.fullmatch(relation_name):  # dbt's usual form: no parse
        return tuple(p.strip('"').lower() for p in relation_name.split("."))
    try:
        table = exp.to_table(relation_name, dialect=dialect)
    except SqlglotError:
        return tuple(p.strip('"`[]').lower() for p in relation_name.split("."))
    return tuple(normalize_name(p, dialect) for p in table_parts(table))


def nest_into(schema: Mapping[str, Any], parts: tuple[str, ...], columns: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a nested schema with one more table (copied along its path only)."""
    out = dict(schema)
    level = out
    for part in parts[:-1]:
        level[part] = dict(level.get(part) or {})
        level = level[part]
    level[parts[-1]] = dict(columns)
    return out


def nest(tables: Iterable[tuple[tuple[str, ...], Mapping[str, str]]]) -> dict[str, Any]:
    """[(("db", "schema", "t"), {col: type})] -> {"db": {"schema": {"t": {col: type}}}}."""
    out: dict[str, Any] = {}
    for parts, columns in tables:
        level = out
        for part in parts[:-1]:
            level = level.setdefault(part, {})
        level[parts[-1]] = dict(columns)
    return out


Lookup = Callable[[tuple[str, ...]], tuple[tuple[str, ...], Mapping[str, str]] | None]
