"""The SQL of one generated model, built one CTE per step while tracking what every column is.

Value lineage lives in the columns (see expressions.py). Columns read in WHERE, JOIN, GROUP BY,
HAVING, QUALIFY, window PARTITION BY / ORDER BY and the incremental filter are recorded as filter
edges of the model, never as value edges.
"""

from __future__ import annotations

import random
from dataclasses import replace

from .catalog import AGGREGATE, DIRECT, NULL_TYPES, TRANSFORM, WINDOW, RawTable
from .expressions import (
    Built,
    Col,
    Rel,
    Upstream,
    aggregate_expr,
    bump,
    condition,
    derive_expr,
    derived,
    merge,
    stem_of,
    uniq,
)

MAX_COLS = 16
UNION_ROW_CAP = 5000


def select_lines(items: list[str], head: str = "select") -> list[str]:
    return [head] + [f"    {it}," for it in items[:-1]] + [f"    {items[-1]}"]


class ModelSql:
    """Collects the CTEs and filter edges of one model."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ctes: list[tuple[str, list[str]]] = []
        self.filters: set[tuple[str, str, str]] = set()
        self._names: set[str] = set()

    def cte(self, base: str, lines: list[str]) -> str:
        name = uniq(base, self._names)
        self.ctes.append((name, lines))
        return name

    def filter(self, kind: str, *cols: Col) -> None:
        for c in cols:
            for asset, column in c.lin:
                self.filters.add((asset, column, kind))

    def render(self, final: list[str], header: str = "") -> str:
        parts = [header] if header else []
        if self.ctes:
            blocks = []
            for name, lines in self.ctes:
                body = "\n".join(f"    {ln}" if ln else "" for ln in lines)
                blocks.append(f"{name} as (\n{body}\n)")
            parts.append("with " + ",\n\n".join(blocks) + "\n")
        parts.append("\n".join(final) + "\n")
        return "\n".join(parts)


# -- steps: each adds one CTE (or two) and returns the relation it defines ----------------------


def import_rel(b: ModelSql, up: Upstream, *, explicit: bool = False, protect: set[str] = frozenset(),
               extra: list[str] = (), cte: str | None = None) -> Rel:
    cols = up.cols
    keep = [c for c in cols if c.role == "key" or c.name in protect]
    rest = [c for c in cols if c.role != "key" and c.name not in protect]
    if explicit and len(cols) > 4 and rest:
        chosen = set(id(c) for c in b.rng.sample(rest, b.rng.randint(max(1, len(rest) // 2), len(rest))))
        chosen |= {id(c) for c in keep}
        cols = [c for c in cols if id(c) in chosen]
        lines = select_lines([c.name for c in cols]) + [f"from {up.ref}"]
    else:
        lines = [f"select * from {up.ref}"]
    lines += list(extra)
    name = b.cte(cte or up.name, lines)
    new = [Col(c.name, c.type, c.role, c.stem, {(up.key, c.name): DIRECT}, c.nullable, c.values, c.depth)
           for c in cols]
    return Rel(name, new, frozenset(u for u in up.unique if any(c.name == u for c in new)), up.rows)


def step_filter(b: ModelSql, rel: Rel, base: str = "filtered") -> Rel:
    rng = b.rng
    targets = rng.sample(rel.cols, min(len(rel.cols), rng.choice((1, 1, 2))))
    preds, narrowed = [], {}
    for c in targets:
        sql, after = condition(rng, c)
        preds.append(sql)
        narrowed[c.name] = after
        b.filter("where", c)
    lines = ["select *", f"from {rel.name}", f"where {preds[0]}"] + [f"    and {p}" for p in preds[1:]]
    cols = [narrowed.get(c.name, c) for c in rel.cols]
    return Rel(b.cte(base, lines), cols, rel.unique, rel.rows)


def step_derive(b: ModelSql, rel: Rel, protect: set[str]) -> Rel:
    rng = b.rng
    taken = rel.names()
    items, new = [], []
    for _ in range(rng.randint(1, 3)):
        made = derive_expr(rng, rel, taken)
        if made:
            items.append(f"{made[0]} as {made[1].name}")
            new.append(made[1])
    cols = list(rel.cols)
    head = "*"
    droppable = [c for c in rel.cols if c.role != "key" and c.name not in protect]
    style = rng.random()
    if style < 0.25 and len(droppable) >= 2:
        drop = rng.sample(droppable, rng.randint(1, min(2, len(droppable) - 1)))
        head = f"* exclude ({', '.join(c.name for c in drop)})"
        gone_ids = {id(c) for c in drop}
        cols = [c for c in cols if id(c) not in gone_ids]
    elif style < 0.32 and any(c.type == "num" for c in droppable):
        target = rng.choice([c for c in droppable if c.type == "num"])
        head = f"* replace (round({target.name}, 1) as {target.name})"
        cols = [replace(c, lin=bump(c.lin, TRANSFORM)) if c is target else c for c in cols]
    lines = select_lines([head] + items) + [f"from {rel.name}"]
    kept = {c.name for c in cols}
    return Rel(b.cte("enriched", lines), cols + new, frozenset(u for u in rel.unique if u in kept), rel.rows)


def shared_keys(left: list[Col], right: list[Col]) -> list[Col]:
    rk = {c.name: c.type for c in right if c.role == "key"}
    return [c for c in left if c.role == "key" and rk.get(c.name) == c.type]


def combine_join(b: ModelSql, rel: Rel, up: Upstream) -> Rel | None:
    rng = b.rng
    keys = shared_keys(rel.cols, up.cols)
    if not keys:
        return None
    k = rng.choice(keys)
    right = import_rel(b, up, explicit=rng.random() < 0.25, protect={k.name})
    rk = right.get(k.name)
    mode = "unique" if k.name in right.unique and rng.random() < 0.7 else rng.choice(("agg", "qualify"))
    if mode == "agg":
        taken = {k.name}
        plain = [c for c in right.cols if c.role != "key"] or [c for c in right.cols if c is not rk]
        aggs = [aggregate_expr(rng, c, taken) for c in rng.sample(plain, min(len(plain), rng.randint(1, 3)))]
        if not aggs:
            aggs = [("count(*)", Col("row_count", "int", "measure", "row", {}, False))]
        lines = select_lines([k.name] + [f"{sql} as {c.name}" for sql, c in aggs])
        lines += [f"from {right.name}", f"group by {k.name}"]
        b.filter("group_by", rk)
        prep = Rel(b.cte(f"{up.name}_by_{k.stem}", lines), [rk] + [c for _, c in aggs], frozenset([k.name]))
        bring = prep.cols[1:]
    else:
        prep = right
        if mode == "qualify":
            order = next((c for c in right.cols if c.type in ("date", "ts")), None) or rng.choice(right.cols)
            star = "*"
            droppable = [c for c in right.cols if c.role != "key" and c is not order]
            if len(droppable) > 2 and rng.random() < 0.4:
                gone = rng.choice(droppable)
                star = f"* exclude ({gone.name})"
            lines = [f"select {star}", f"from {right.name}",
                     f"qualify row_number() over (partition by {k.name} order by {order.name} desc) = 1"]
            b.filter("qualify", rk, order)
            cols = [c for c in right.cols if star == "*" or c.name != gone.name]
            prep = Rel(b.cte(f"{up.name}_latest", lines), cols, frozenset([k.name]))
        left_names = rel.names()
        plain = [c for c in prep.cols if c.role != "key"]
        bring = rng.sample(plain, min(len(plain), rng.randint(1, 4)))
        bring += [c for c in prep.cols if c.role == "key" and c.name not in left_names][:1]
        bring_ids = {id(c) for c in bring}
        bring = [c for c in prep.cols if id(c) in bring_ids]
    taken = rel.names()
    left_join = rng.random() < 0.7
    items, new = [f"{rel.name}.*"], []
    for c in bring:
        out = uniq(c.name, taken)
        items.append(f"{prep.name}.{c.name}" + (f" as {out}" if out != c.name else ""))
        new.append(replace(c, name=out, nullable=c.nullable or left_join))
    lines = select_lines(items) + [f"from {rel.name}", f"{'left join' if left_join else 'inner join'} {prep.name}"]
    if rng.random() < 0.5:
        lines.append(f"    on {rel.name}.{k.name} = {prep.name}.{k.name}")
    else:
        lines.append(f"    using ({k.name})")
    b.filter("join", k, prep.get(k.name))
    return Rel(b.cte("joined", lines), rel.cols + new, rel.unique, rel.rows)


def combine_union(b: ModelSql, rel: Rel, up: Upstream, protect: set[str]) -> Rel | None:
    rng = b.rng
    keys = shared_keys(rel.cols, up.cols)
    if not keys or protect or rel.rows + up.rows > UNION_ROW_CAP:
        return None
    k = rng.choice(keys)
    right = import_rel(b, up)
    same_name = [c for c in rel.cols if c is not k and (rc := right.get(c.name)) is not None and rc.type == c.type]
    plain = [c for c in rel.cols if c.role != "key" and c not in same_name]
    left_cols = [k] + rng.sample(same_name, min(len(same_name), 4))
    left_cols += rng.sample(plain, min(len(plain), max(1, 3 - len(left_cols))))
    left_ids = {id(c) for c in left_cols}
    left_cols = [c for c in rel.cols if id(c) in left_ids]
    used, right_items, out = {c.name for c in left_cols if right.get(c.name) is not None}, [], []
    for lc in left_cols:
        match = right.get(lc.name)
        if match is None or match.type != lc.type:
            same = [c for c in right.cols if c.type == lc.type and c.role == lc.role and c.name not in used]
            match = same[0] if same else None
        if match is None:
            right_items.append(f"cast(null as {NULL_TYPES[lc.type]}) as {lc.name}")
            out.append(replace(lc, nullable=True))
            continue
        used.add(match.name)
        right_items.append(match.name if match.name == lc.name else f"{match.name} as {lc.name}")
        vals = lc.values | match.values if lc.values is not None and match.values is not None else None
        out.append(Col(lc.name, lc.type, lc.role, lc.stem, merge(lc.lin, match.lin),
                       lc.nullable or match.nullable, vals, max(lc.depth, match.depth)))
    lines = select_lines([c.name for c in left_cols]) + [f"from {rel.name}", "union all"]
    lines += select_lines(right_items) + [f"from {right.name}"]
    return Rel(b.cte("unioned", lines), out, frozenset(), rel.rows + up.rows)


def combine_semi(b: ModelSql, rel: Rel, up: Upstream) -> Rel | None:
    rng = b.rng
    keys = shared_keys(rel.cols, up.cols)
    if not keys:
        return None
    k = rng.choice(keys)
    if rng.random() < 0.5:
        src, rcols = up.ref, [Col(c.name, c.type, c.role, c.stem, {(up.key, c.name): DIRECT}, c.nullable,
                                   c.values) for c in up.cols]
    else:
        right = import_rel(b, up)
        src, rcols = right.name, right.cols
    rk = next(c for c in rcols if c.name == k.name)
    cond_col = rng.choice([c for c in rcols if c is not rk] or rcols)
    cond, _ = condition(rng, cond_col)
    b.filter("where", k, rk, cond_col)
    if rng.random() < 0.6:
        where = f"where {k.name} in (select {k.name} from {src} where {cond})"
        lines = ["select *", f"from {rel.name}", where]
    else:
        lines = ["select *", f"from {rel.name}", "where exists (",
                 f"    select 1 from {src} as matched",
                 f"    where matched.{k.name} = {rel.name}.{k.name} and matched.{cond}", ")"]
    return Rel(b.cte("restricted", lines), rel.cols, rel.unique, rel.rows)


def combine_scalar(b: ModelSql, rel: Rel, up: Upstream) -> Rel:
    rng = b.rng
    if rng.random() < 0.5:
        src, rcols = up.ref, [Col(c.name, c.type, c.role, c.stem, {(up.key, c.name): DIRECT}, c.nullable,
                                   c.values) for c in up.cols]
    else:
        right = import_rel(b, up)
        src, rcols = right.name, right.cols
    taken = rel.names()
    plain = [x for x in rcols if x.role != "key"]
    c = rng.choice(plain or rcols)
    if c.type in ("num", "int", "date") and c.role != "key":
        fn = rng.choice(("max", "min") if c.type == "date" else ("max", "avg", "sum" if c.type == "num" else "min"))
        name = uniq(f"{fn}_{c.stem}_overall", taken)
        type_ = "num" if fn == "avg" else c.type
        col = Col(name, type_, "date" if type_ == "date" else "measure", c.stem, bump(c.lin, AGGREGATE), True)
        expr = f"(select {fn}({c.name}) from {src})"
    else:
        col = Col(uniq(f"distinct_{c.stem}_count_overall", taken), "int", "measure", c.stem,
                  bump(c.lin, AGGREGATE), False)
        expr = f"(select count(distinct {c.name}) from {src})"
    lines = select_lines(["*", f"{expr} as {col.name}"]) + [f"from {rel.name}"]
    return Rel(b.cte("with_totals", lines), rel.cols + [col], rel.unique, rel.rows)


def step_aggregate(b: ModelSql, rel: Rel, exact_date: str | None = None) -> Rel:
    rng = b.rng
    keys = [c for c in rel.cols if c.role == "key"]
    strict = [c for c in keys if not c.nullable]
    k = rng.choice(strict or keys)
    taken = {k.name}
    groups: list[tuple[str, Col]] = [(k.name, k)]
    b.filter("group_by", k)
    dates = [c for c in rel.cols if c.type == "date"]
    if exact_date is not None:
        d = rel.get(exact_date)
        groups.append((d.name, d))
        taken.add(d.name)
        b.filter("group_by", d)
    elif dates and rng.random() < 0.5:
        d = rng.choice(dates)
        b.filter("group_by", d)
        if rng.random() < 0.5:
            groups.append((d.name, d))
            taken.add(d.name)
        else:
            month = derived(uniq(f"{d.stem}_month", taken), "date", "date", d.stem, [d], TRANSFORM)
            groups.append((f"cast(date_trunc('month', {d.name}) as date)", month))
    grouped = {id(c) for _, c in groups}
    plain = [c for c in rel.cols if c.role != "key" and id(c) not in grouped]
    aggs = [aggregate_expr(rng, c, taken) for c in rng.sample(plain, min(len(plain), rng.randint(2, 4)))]
    if not aggs or rng.random() < 0.1:
        aggs.append(("count(*)", Col(uniq("row_count", taken), "int", "measure", "row", {}, False)))
    items = [sql if sql == c.name else f"{sql} as {c.name}" for sql, c in groups]
    items += [f"{sql} as {c.name}" for sql, c in aggs]
    style = rng.random()
    if style < 0.4:
        group_by = "group by " + ", ".join(str(i + 1) for i in range(len(groups)))
    elif style < 0.75:
        group_by = "group by " + ", ".join(sql for sql, _ in groups)
    else:
        group_by = "group by all"
    lines = select_lines(items) + [f"from {rel.name}", group_by]
    nums = [c for c in plain if c.type == "num"]
    if rng.random() < 0.15:
        if nums:
            m = rng.choice(nums)
            lines.append(f"having sum({m.name}) >= 0")
            b.filter("having", m)
        else:
            lines.append("having count(*) >= 1")
    cols = [c for _, c in groups] + [c for _, c in aggs]
    return Rel(b.cte("aggregated", lines), cols, frozenset([k.name]) if len(groups) == 1 else frozenset(),
               rel.rows)


def step_window(b: ModelSql, rel: Rel) -> Rel:
    rng = b.rng
    keys = [c for c in rel.cols if c.role == "key"]
    k = rng.choice(keys)
    order = next((c for c in rel.cols if c.type in ("date", "ts")), None) or k
    taken = rel.names()
    measures = [c for c in rel.cols if c.role == "measure"]
    items, new, ordered = [], [], False
    partition = f"partition by {k.name}"
    by_key = bump(k.lin, WINDOW)  # the partition (and order) columns: `window` edges of the result
    for m in rng.sample(measures, min(len(measures), rng.randint(1, 2))):
        v = rng.randrange(4)
        spec = by_key
        if v == 0 and m.type == "num":
            frame = f"{partition} order by {order.name} rows between unbounded preceding and current row"
            sql, col = aggregate_expr(rng, m, taken, frame)
            ordered = True
            spec = merge(by_key, bump(order.lin, WINDOW))
        elif v == 1 and m.type == "num":
            col = Col(uniq(f"{m.stem}_vs_avg", taken), "num", "measure", m.stem,
                      merge(bump(m.lin, TRANSFORM), bump(m.lin, AGGREGATE)), m.nullable)
            sql = f"{m.name} - avg({m.name}) over ({partition})"
        else:
            sql, col = aggregate_expr(rng, m, taken, partition)
        items.append(f"{sql} as {col.name}")
        new.append(replace(col, lin=merge(spec, col.lin)))
    if not items:
        target = rng.choice([c for c in rel.cols if c is not k] or rel.cols)
        sql, col = aggregate_expr(rng, target, taken, partition)
        items.append(f"{sql} as {col.name}")
        new.append(replace(col, lin=merge(by_key, col.lin)))
    b.filter("window", k)
    if ordered:
        b.filter("window", order)
    lines = select_lines(["*"] + items) + [f"from {rel.name}"]
    unique = rel.unique
    if rng.random() < 0.25:
        lines.append(f"qualify row_number() over ({partition} order by {order.name} desc) = 1")
        b.filter("qualify", k, order)
        unique = unique | {k.name}
    return Rel(b.cte("windowed", lines), rel.cols + new, unique, rel.rows)


def final_select(b: ModelSql, rel: Rel, protect: set[str]) -> tuple[list[str], Rel]:
    rng = b.rng
    if len(rel.cols) <= MAX_COLS and rng.random() < 0.6:
        return [f"select * from {rel.name}"], rel
    keep = [c for c in rel.cols if c.role == "key" or c.name in protect]
    rest = [c for c in rel.cols if c.role != "key" and c.name not in protect]
    room = max(0, MAX_COLS - len(keep))
    n = min(room, len(rest), rng.randint(max(1, len(rest) // 2), max(1, len(rest))))
    chosen = {id(c) for c in rng.sample(rest, n)}
    chosen |= {id(c) for c in keep}
    cols = [c for c in rel.cols if id(c) in chosen]
    taken = {c.name for c in cols}
    renamable = [c for c in cols if c.role != "key" and c.name not in protect]
    target = rng.choice(renamable) if renamable and rng.random() < 0.4 else None
    items, out = [], []
    suffix = {"measure": "value", "attr": "text", "date": "day", "ts": "time", "flag": "flag"}
    for c in cols:
        if c is target:
            name = uniq(f"{c.stem}_{suffix[c.role]}", taken)
            items.append(f"{c.name} as {name}")
            out.append(replace(c, name=name))
        else:
            items.append(c.name)
            out.append(c)
    names = {c.name for c in out}
    unique = frozenset(u for u in rel.unique if u in names)
    return select_lines(items) + [f"from {rel.name}"], Rel("final", out, unique, rel.rows)


# -- models ---------------------------------------------------------------------------------------


def build_staging(rng: random.Random, up: Upstream, raw: RawTable) -> Built:
    b = ModelSql(rng)
    src = import_rel(b, up, cte="source")
    items, cols, pk = [], [], ""
    for rc, col in zip(raw.columns, src.cols, strict=True):
        if rc.role != "key" and rng.random() > 0.8:
            continue
        v = rng.choice(rc.variants)
        if rc.name == raw.pk:
            pk = v.name
        expr = v.expr.format(c=rc.name)
        items.append(expr if expr == v.name else f"{expr} as {v.name}")
        vals = v.values if v.values is not None else rc.values
        cols.append(Col(v.name, v.type or rc.type, v.role or rc.role, stem_of(v.name), bump(col.lin, v.kind),
                        rc.nullable and not v.not_null, frozenset(vals) if vals else None))
    if rng.random() < 0.15:
        items.append(f"'{raw.name}' as record_source")
        cols.append(Col("record_source", "str", "attr", "record_source", {}, False, frozenset([raw.name])))
    lines = select_lines(items) + ["from source"]
    if rng.random() < 0.35:
        target = rng.choice(src.cols)
        sql, _ = condition(rng, target)
        lines.append(f"where {sql}")
        b.filter("where", target)
    rel = Rel(b.cte("renamed", lines), cols, frozenset([pk]), raw.rows)
    if rng.random() < 0.3:
        rel = step_derive(b, rel, set())
    return Built(b.render([f"select * from {rel.name}"]), replace(rel, name="final"), b.filters)


def build_model(rng: random.Random, parents: list[Upstream], *, layer: str,
                incremental_on: str | None = None, header: str = "") -> Built:
    """A model over 1-3 parents; `incremental_on` names the date column of an incremental model."""
    b = ModelSql(rng)
    p1 = parents[0]
    protect = {incremental_on} if incremental_on else set()
    if len(parents) == 1 and not incremental_on and rng.random() < 0.08:  # a thin `select *` model
        rel = Rel(p1.ref, [Col(c.name, c.type, c.role, c.stem, {(p1.key, c.name): DIRECT}, c.nullable,
                               c.values, c.depth) for c in p1.cols], p1.unique, p1.rows)
        final = [f"select * from {p1.ref}"]
        if rng.random() < 0.5:
            target = rng.choice(rel.cols)
            sql, _ = condition(rng, target)
            final.append(f"where {sql}")
            b.filter("where", target)
        return Built(b.render(final, header), replace(rel, name="final"), b.filters)
    extra: list[str] = []
    if incremental_on:
        extra = ["{% if is_incremental() %}",
                 f"where {incremental_on} > (select max({incremental_on}) from {{{{ this }}}})",
                 "{% endif %}"]
    rel = import_rel(b, p1, explicit=rng.random() < 0.25, protect=protect, extra=extra)
    if incremental_on:
        b.filter("incremental", rel.get(incremental_on))
    if rng.random() < 0.3:
        rel = step_filter(b, rel)
    unioned = False
    for up in parents[1:]:
        r = rng.random()
        joined = None
        if r < 0.15 and not unioned:
            joined = combine_union(b, rel, up, protect)
            unioned = joined is not None
        elif r < 0.3:
            joined = combine_semi(b, rel, up)
        elif r < 0.37:
            joined = combine_scalar(b, rel, up)
        joined = joined or combine_join(b, rel, up) or combine_semi(b, rel, up) or combine_scalar(b, rel, up)
        rel = joined
    if rng.random() < 0.6:
        rel = step_derive(b, rel, protect)
    r = rng.random()
    if incremental_on:
        if r < 0.3:
            rel = step_aggregate(b, rel, exact_date=incremental_on)
    elif r < (0.45 if layer == "marts" else 0.25):
        rel = step_aggregate(b, rel)
    elif r < (0.65 if layer == "marts" else 0.5):
        rel = step_window(b, rel)
    final, rel = final_select(b, rel, protect)
    return Built(b.render(final, header), rel, b.filters)
