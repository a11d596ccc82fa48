"""The columns a generated model works with, and the SQL expressions made from them.

Each `Col` carries its value lineage (`lin`: (upstream asset, column) -> strongest kind so far) and
the facts the data tests rely on (nullability, a superset of its values). Within a model, kinds
compose by taking the strongest: direct < transform < aggregate. CASE conditions are value inputs
(transform) of the CASE result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from .catalog import AGGREGATE, TRANSFORM, WINDOW

Lin = dict[tuple[str, str], int]

@dataclass(slots=True)
class Col:
    name: str
    type: str  # int num str date ts bool
    role: str  # key date ts measure attr flag
    stem: str  # the noun derived names are built from ("amount", "customer")
    lin: Lin
    nullable: bool = False
    values: frozenset[str] | None = None  # a superset of the values it can hold, when known
    depth: int = 0  # string concatenations so far (keeps labels short)


@dataclass(slots=True)
class Rel:
    """A relation in scope: a CTE (or ref) name and its columns, unique columns and a row bound."""

    name: str
    cols: list[Col]
    unique: frozenset[str] = frozenset()
    rows: int = 0

    def get(self, name: str) -> Col | None:
        for c in self.cols:
            if c.name == name:
                return c
        return None

    def names(self) -> set[str]:
        return {c.name for c in self.cols}


@dataclass(slots=True)
class Upstream:
    """What a model, seed or source offers its children."""

    key: str
    name: str
    ref: str  # the Jinja that reads it
    cols: list[Col]
    unique: frozenset[str]
    rows: int
    ephemeral: bool = False


@dataclass(slots=True)
class Built:
    sql: str
    rel: Rel
    filters: set[tuple[str, str, str]]


def stem_of(name: str) -> str:
    for suffix in ("_id", "_date", "_at", "_on"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def bump(lin: Lin, kind: int) -> Lin:
    """Each kind raised to at least `kind`; window edges stay window edges (and WINDOW makes all)."""
    if kind == WINDOW:
        return dict.fromkeys(lin, WINDOW)
    return {k: (v if v > kind or v == WINDOW else kind) for k, v in lin.items()}


def merge(*lins: Lin) -> Lin:
    out: Lin = {}
    for lin in lins:
        for k, v in lin.items():
            if k not in out or out[k] < v:
                out[k] = v
    return out


def uniq(base: str, taken: set[str]) -> str:
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _ident(value: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in value.lower())


def _sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


# -- expressions ---------------------------------------------------------------------------------


def derived(name, type_, role, stem, inputs, kind, nullable=None, values=None, depth=0) -> Col:
    lin = merge(*(bump(c.lin, kind) for c in inputs))
    if nullable is None:
        nullable = any(c.nullable for c in inputs)
    return Col(name, type_, role, stem, lin, nullable, values, depth)


def derive_expr(rng: random.Random, rel: Rel, taken: set[str]) -> tuple[str, Col] | None:
    """One new column computed from the columns of `rel` (a transform of them)."""
    plain = [c for c in rel.cols if c.role != "key"]
    c = rng.choice(plain) if plain and rng.random() < 0.92 else rng.choice(rel.cols)
    n, s, r = c.name, c.stem, rng.randrange(6)
    nums = [x for x in rel.cols if x.type == "num" and x is not c]
    if c.role == "key":
        return f"md5(cast({n} as varchar))", derived(uniq(f"{s}_hash", taken), "str", "attr", s, [c], TRANSFORM)
    if c.type == "num":
        if r == 0:
            f = rng.choice(("1.1", "0.9", "1.21", "100"))
            return f"round({n} * {f}, 2)", derived(uniq(f"{s}_adjusted", taken), "num", "measure", s, [c], TRANSFORM)
        if r == 1:
            col = derived(uniq(f"{s}_or_zero", taken), "num", "measure", s, [c], TRANSFORM, nullable=False)
            return f"coalesce({n}, 0)", col
        if r == 2 and nums:
            o = rng.choice(nums)
            return f"{n} - {o.name}", derived(uniq(f"net_{s}", taken), "num", "measure", s, [c, o], TRANSFORM)
        if r == 3 and nums:
            o = rng.choice(nums)
            col = derived(uniq(f"{s}_per_{o.stem}", taken), "num", "measure", s, [c, o], TRANSFORM, nullable=True)
            return f"{n} / nullif({o.name}, 0)", col
        if r == 4:
            hi = rng.choice((100, 250, 1000))
            sql = f"case when {n} >= {hi} then 'high' when {n} >= {hi // 10} then 'medium' else 'low' end"
            vals = frozenset(("high", "medium", "low"))
            return sql, derived(uniq(f"{s}_tier", taken), "str", "attr", s, [c], TRANSFORM, False, vals)
        if r == 5:
            return f"{n} > 0", derived(uniq(f"has_{s}", taken), "bool", "flag", s, [c], TRANSFORM)
        return f"abs({n})", derived(uniq(f"abs_{s}", taken), "num", "measure", s, [c], TRANSFORM)
    if c.type == "int":
        if r <= 1:
            return f"{n} * 2", derived(uniq(f"{s}_doubled", taken), "int", "measure", s, [c], TRANSFORM)
        if r == 2:
            return f"cast({n} as double)", derived(uniq(f"{s}_value", taken), "num", "measure", s, [c], TRANSFORM)
        if r == 3:
            t = rng.choice((1, 3, 10))
            sql = f"case when {n} > {t} then 'many' else 'few' end"
            vals = frozenset(("many", "few"))
            return sql, derived(uniq(f"{s}_bucket", taken), "str", "attr", s, [c], TRANSFORM, False, vals)
        col = derived(uniq(f"{s}_or_zero", taken), "int", "measure", s, [c], TRANSFORM, nullable=False)
        return f"coalesce({n}, 0)", col
    if c.type == "str":
        measures = [x for x in rel.cols if x.type in ("num", "int") and x.role == "measure"]
        if c.values and measures and r <= 1:
            m, v = rng.choice(measures), sorted(c.values)[rng.randrange(len(c.values))]
            sql = f"case when {n} = '{v}' then {m.name} else 0 end"
            col = derived(uniq(f"{m.stem}_{_ident(v)}", taken), m.type, "measure", m.stem, [c, m], TRANSFORM,
                       nullable=m.nullable)
            return sql, col
        if r == 0:
            vals = frozenset(v.upper() for v in c.values) if c.values else None
            return f"upper({n})", derived(uniq(f"{s}_upper", taken), "str", "attr", s, [c], TRANSFORM, None, vals)
        if r == 1:
            vals = c.values | {"unknown"} if c.values else None
            col = derived(uniq(f"{s}_clean", taken), "str", "attr", s, [c], TRANSFORM, False, vals)
            return f"coalesce({n}, 'unknown')", col
        if r == 2:
            vals = frozenset(v[:3] for v in c.values) if c.values else None
            return f"left({n}, 3)", derived(uniq(f"{s}_prefix", taken), "str", "attr", s, [c], TRANSFORM, None, vals)
        others = [x for x in rel.cols if x.type == "str" and x is not c and x.depth < 2]
        if r == 3 and others and c.depth < 2:
            o = rng.choice(others)
            col = derived(uniq(f"{s}_label", taken), "str", "attr", s, [c, o], TRANSFORM,
                       depth=max(c.depth, o.depth) + 1)
            return f"{n} || ' - ' || {o.name}", col
        return f"length({n})", derived(uniq(f"{s}_length", taken), "int", "measure", s, [c], TRANSFORM)
    if c.type == "date":
        if r <= 1:
            col = derived(uniq(f"{s}_month", taken), "date", "date", s, [c], TRANSFORM)
            return f"cast(date_trunc('month', {n}) as date)", col
        if r == 2:
            return f"extract(year from {n})", derived(uniq(f"{s}_year", taken), "int", "measure", s, [c], TRANSFORM)
        if r == 3:
            return f"{n} + 7", derived(uniq(f"{s}_next_week", taken), "date", "date", s, [c], TRANSFORM)
        if r == 4:
            col = derived(uniq(f"days_since_{s}", taken), "int", "measure", s, [c], TRANSFORM)
            return f"date_diff('day', {n}, date '2025-01-01')", col
        return f"dayofweek({n})", derived(uniq(f"{s}_weekday", taken), "int", "measure", s, [c], TRANSFORM)
    if c.type == "ts":
        if r <= 2:
            return f"cast({n} as date)", derived(uniq(f"{s}_day", taken), "date", "date", s, [c], TRANSFORM)
        if r == 3:
            return f"date_trunc('hour', {n})", derived(uniq(f"{s}_hour", taken), "ts", "ts", s, [c], TRANSFORM)
        col = derived(uniq(f"{s}_hour_of_day", taken), "int", "measure", s, [c], TRANSFORM)
        return f"extract(hour from {n})", col
    if c.type == "bool":
        if r <= 2:
            col = derived(uniq(f"{s}_flag", taken), "int", "measure", s, [c], TRANSFORM, nullable=False)
            return f"case when {n} then 1 else 0 end", col
        col = derived(uniq(f"{s}_known", taken), "bool", "flag", s, [c], TRANSFORM, nullable=False)
        return f"coalesce({n}, false)", col
    return None


def condition(rng: random.Random, c: Col) -> tuple[str, Col]:
    """A WHERE predicate on `c`, and `c` as known after it (not null when the predicate says so)."""
    n = c.name
    not_null = replace(c, nullable=False)
    if c.role == "key":
        return f"{n} is not null", not_null
    if c.type in ("num", "int"):
        return rng.choice(((f"{n} >= 0", not_null), (f"{n} is not null", not_null)))
    if c.type == "str":
        if c.values and len(c.values) > 1:
            vals = sorted(c.values)
            drop = vals[rng.randrange(len(vals))]
            if rng.random() < 0.5:
                return f"{n} <> '{drop}'", not_null
            return f"{n} in ({_sql_list(v for v in vals if v != drop)})", not_null
        return rng.choice(((f"{n} is not null", not_null), (f"{n} <> ''", not_null)))
    if c.type == "date":
        return f"{n} >= date '{rng.choice(('2023-06-01', '2024-01-15', '2024-03-01'))}'", not_null
    if c.type == "ts":
        return f"{n} >= timestamp '2024-01-15 00:00:00'", not_null
    return (f"{n}", not_null) if rng.random() < 0.7 else (f"{n} is not null", not_null)


def aggregate_expr(rng: random.Random, c: Col, taken: set[str], window: str = "") -> tuple[str, Col]:
    """sum/avg/min/max/count of `c` (over `window` when given); the result is an aggregate of `c`."""
    n, s, t = c.name, c.stem, c.type
    over = f" over ({window})" if window else ""
    if t == "num":
        fn = rng.choice(("sum", "sum", "avg", "max", "min"))
        base = {"sum": f"total_{s}", "avg": f"avg_{s}", "max": f"max_{s}", "min": f"min_{s}"}[fn]
        out = ("num", "measure")
    elif t == "int":
        fn = rng.choice(("max", "min", "avg", "count"))
        base = {"max": f"max_{s}", "min": f"min_{s}", "avg": f"avg_{s}", "count": f"{s}_count"}[fn]
        out = {"avg": ("num", "measure")}.get(fn, ("int", "measure"))
    elif t in ("date", "ts"):
        fn = rng.choice(("max", "min"))
        suffix = "date" if t == "date" else "at"
        base = f"{'last' if fn == 'max' else 'first'}_{s}_{suffix}"
        out = (t, t)
    elif t == "bool":
        col = Col(uniq(f"{s}_count", taken), "int", "measure", s, bump(c.lin, AGGREGATE), False)
        return f"sum(case when {n} then 1 else 0 end){over}", col
    else:
        if c.values and rng.random() < 0.4:
            fn = rng.choice(("max", "min"))
            col = Col(uniq(f"{fn}_{s}", taken), "str", "attr", s, bump(c.lin, AGGREGATE), c.nullable, c.values)
            return f"{fn}({n}){over}", col
        if window:
            col = Col(uniq(f"{s}_count", taken), "int", "measure", s, bump(c.lin, AGGREGATE), False)
            return f"count({n}){over}", col
        col = Col(uniq(f"distinct_{s}_count", taken), "int", "measure", s, bump(c.lin, AGGREGATE), False)
        return f"count(distinct {n})", col
    nullable = False if fn == "count" else c.nullable
    col = Col(uniq(base, taken), out[0], out[1], s, bump(c.lin, AGGREGATE), nullable)
    return f"{fn}({n}){over}", col
