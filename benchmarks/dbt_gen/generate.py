"""Generate a dbt-duckdb project of N models, with data tests and its true column lineage.

    .venv/bin/python -m benchmarks.dbt_gen.generate --models 1000 --out /tmp/bench_1k [--raw-tables]

The project reads a `raw` source (tables made by `create_raw_tables`) and three seeds. Models come in
layers: staging views (~10%), intermediate tables (~10% of them ephemeral), marts tables and
incremental marts (~5%), on a DAG whose depth grows with N (12 at 1,000 models, 16 at 10,000).
Beside the project, `lineage_truth.json` lists every value edge (output column <- upstream column,
kind direct/transform/aggregate) and the filter edges (columns read only to pick rows). The same
`models` and `seed` give the same project byte for byte (but profiles.yml, which names its root).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import DIRECT, KINDS, SEEDS, SOURCE_NAME, SOURCES, RawTable, create_raw_tables, seed_csv
from .model_sql import Built, Col, Upstream, build_model, build_staging, shared_keys, stem_of

PROJECT = "bench"
TRUTH_FILE = "lineage_truth.json"
WAREHOUSE_ENV = "BENCH_WAREHOUSE_PATH"
YAML_CHUNK = 200  # models per properties file
OWNED_DIRS = ("models", "seeds", "tests", "macros")


@dataclass(frozen=True)
class GeneratedProject:
    """A generated project: pass `root` as both --project-dir and --profiles-dir."""

    root: Path
    model_count: int
    model_names: tuple[str, ...]
    lineage_path: Path

    @property
    def default_warehouse(self) -> Path:
        """Where profiles.yml points when BENCH_WAREHOUSE_PATH is unset."""
        return self.root / "target" / "warehouse.duckdb"


@dataclass(slots=True, eq=False)
class Node:
    up: Upstream
    layer: str  # source seed staging intermediate marts
    level: int
    materialized: str  # source seed view table ephemeral incremental
    parents: list[str] = field(default_factory=list)
    built: Built | None = None
    tests: dict[str, list] = field(default_factory=dict)


# -- the plan: layers, levels, materializations ----------------------------------------------------


def _depth(n: int) -> int:
    return min(20, max(10, round(4 * math.log10(n))))


def _plan(n: int, rng: random.Random) -> list[tuple[str, int, str]]:
    """(layer, level, materialized) per model, in build order (level by level)."""
    n_stg = max(2, round(n * 0.10))
    rest = n - n_stg
    depth = max(1, min(_depth(n), rest))
    weights = [1 - 0.5 * i / max(1, depth - 1) for i in range(depth)]
    counts = [max(1, int(rest * w / sum(weights))) for w in weights]
    i = 0
    while sum(counts) != rest:
        j = i % depth
        if sum(counts) < rest:
            counts[j] += 1
        elif counts[-1 - j] > 1:
            counts[-1 - j] -= 1
        i += 1
    int_top = max(1, depth - 3)
    specs = [("staging", 0)] * n_stg
    for level, count in enumerate(counts, start=1):
        for j in range(count):
            marts = level > int_top or (j > 0 and rng.random() < 0.15)
            specs.append(("marts" if marts else "intermediate", level))
    ints = [i for i, s in enumerate(specs) if s[0] == "intermediate"]
    marts = [i for i, s in enumerate(specs) if s[0] == "marts"]
    ephemeral = set(rng.sample(ints, round(0.10 * len(ints))))
    incremental = set(rng.sample(marts, min(len(marts), round(0.05 * n))))
    default = {"staging": "view", "intermediate": "table", "marts": "table"}
    return [
        (layer, level, "ephemeral" if i in ephemeral else "incremental" if i in incremental else default[layer])
        for i, (layer, level) in enumerate(specs)
    ]


def _raw_node(table: RawTable, seed: bool) -> Node:
    cols = [Col(c.name, c.type, c.role, stem_of(c.name), {}, c.nullable, frozenset(c.values) if c.values else None)
            for c in table.columns]
    if seed:
        up = Upstream(f"seeds/{table.name}", table.name, f"{{{{ ref('{table.name}') }}}}", cols,
                      frozenset([table.pk]), table.rows)
        return Node(up, "seed", -1, "seed")
    up = Upstream(f"{SOURCE_NAME}/{table.name}", table.name, f"{{{{ source('{SOURCE_NAME}', '{table.name}') }}}}",
                  cols, frozenset([table.pk]), table.rows)
    return Node(up, "source", -1, "source")


# -- building --------------------------------------------------------------------------------------


class _Pools:
    """The models a new model may read: all of a lower level, and a few popular ones (hubs)."""

    def __init__(self) -> None:
        self.all: list[Node] = []
        self.low: list[Node] = []  # staging + intermediate: what an intermediate model may read
        self.hubs_all: list[Node] = []
        self.hubs_low: list[Node] = []

    def add(self, node: Node, hub: bool) -> None:
        low = node.layer != "marts"
        self.all.append(node)
        if low:
            self.low.append(node)
        if hub:
            self.hubs_all.append(node)
            if low:
                self.hubs_low.append(node)

    def pick(self, rng: random.Random, marts: bool) -> Node:
        pool, hubs = (self.all, self.hubs_all) if marts else (self.low, self.hubs_low)
        if hubs and rng.random() < 0.35:
            return rng.choice(hubs)
        return rng.choice(pool)


class _Level:
    """The models of the level below, as a new model may pick its first parent among them."""

    def __init__(self, nodes: list[Node]) -> None:
        def dated(items: list[Node]) -> list[Node]:
            return [p for p in items if any(c.type == "date" for c in p.up.cols)]

        low = [p for p in nodes if p.layer != "marts"]
        self.candidates = {True: nodes, False: low}
        self.dated = {True: dated(nodes), False: dated(low)}


def _parents(rng: random.Random, prev: _Level, pools: _Pools, marts: bool, incremental: bool) -> list[Node]:
    p1 = rng.choice(prev.candidates[marts])
    if incremental:
        dated = prev.dated[marts]
        if not dated:  # nothing dated right below: any dated model of a lower level
            dated = [p for p in pools.all if any(c.type == "date" for c in p.up.cols)]
        p1 = rng.choice(dated) if dated else p1
    chosen = [p1]
    for _ in range(rng.choices((0, 1, 2), (0.4, 0.42, 0.18))[0]):
        cand = None
        for _attempt in range(12):
            cand = pools.pick(rng, marts)
            if cand not in chosen and shared_keys(p1.up.cols, cand.up.cols):
                break
        if cand is not None and cand not in chosen:
            chosen.append(cand)
    return chosen


def _header(materialized: str) -> str:
    if materialized == "ephemeral":
        return "{{ config(materialized='ephemeral') }}\n"
    if materialized == "incremental":
        return "{{ config(materialized='incremental', on_schema_change='append_new_columns') }}\n"
    return ""


def _build(n: int, seed: int) -> tuple[list[Node], dict[str, Node]]:
    rng = random.Random(seed)
    width = max(4, len(str(n)))
    raw = [_raw_node(t, False) for t in SOURCES] + [_raw_node(t, True) for t in SEEDS]
    nodes: dict[str, Node] = {r.up.key: r for r in raw}
    raw_tables = {f"{SOURCE_NAME}/{t.name}": t for t in SOURCES} | {f"seeds/{t.name}": t for t in SEEDS}
    source_weights = [t.weight for t in SOURCES]
    models: list[Node] = []
    pools = _Pools()
    level_nodes: list[Node] = []
    current_level = 0
    for index, (layer, level, materialized) in enumerate(_plan(n, rng), start=1):
        if level != current_level:
            for node in level_nodes:
                pools.add(node, rng.random() < (0.15 if node.layer == "staging" else 0.05))
            prev, level_nodes, current_level = _Level(level_nodes), [], level
        if layer == "staging":
            src = raw[rng.choices(range(len(SOURCES)), source_weights)[0]] if rng.random() < 0.85 \
                else raw[len(SOURCES) + rng.randrange(len(SEEDS))]
            name = f"stg_{index:0{width}d}"
            built = build_staging(rng, src.up, raw_tables[src.up.key])
            parents = [src]
        else:
            prefix = "int" if layer == "intermediate" else ("fct" if rng.random() < 0.7 else "dim")
            name = f"{prefix}_{index:0{width}d}"
            parents = _parents(rng, prev, pools, layer == "marts", materialized == "incremental")
            inc_on = None
            if materialized == "incremental":
                dates = [c.name for c in parents[0].up.cols if c.type == "date"]
                inc_on = rng.choice(dates) if dates else None
                materialized = "incremental" if inc_on else "table"
            built = build_model(rng, [p.up for p in parents], layer=layer, incremental_on=inc_on,
                                header=_header(materialized))
        rel = built.rel
        up = Upstream(f"{layer}/{name}", name, f"{{{{ ref('{name}') }}}}", rel.cols, rel.unique, rel.rows,
                      materialized == "ephemeral")
        node = Node(up, layer, level, materialized, [p.up.key for p in parents], built)
        node.tests = _tests(rng, node, nodes)
        nodes[up.key] = node
        models.append(node)
        level_nodes.append(node)
    return models, nodes


# -- data tests ------------------------------------------------------------------------------------


def _tests(rng: random.Random, node: Node, nodes: dict[str, Node]) -> dict[str, list]:
    """About one generic test per model, each one true of the data by construction."""
    rel = node.built.rel
    cands: list[tuple[int, str, tuple]] = []
    for c in rel.cols:
        if not c.nullable:
            cands.append((3 if c.role == "key" else 1, c.name, ("not_null",)))
        if c.name in rel.unique:
            cands.append((3, c.name, ("unique",)))
        if c.values and len(c.values) <= 8:
            cands.append((1, c.name, ("accepted_values", tuple(sorted(c.values)))))
        if c.role == "key" and len(c.lin) == 1:
            (asset, column), kind = next(iter(c.lin.items()))
            parent = nodes[asset]
            if kind == DIRECT and not parent.up.ephemeral:
                to = (f"source('{SOURCE_NAME}', '{parent.up.name}')" if parent.layer == "source"
                      else f"ref('{parent.up.name}')")
                cands.append((2, c.name, ("relationships", to, column)))
    tests: dict[str, list] = {}
    for _ in range(rng.choice((0, 1, 1, 1, 2))):
        if not cands:
            break
        _, column, test = pick = rng.choices(cands, [w for w, _, _ in cands])[0]
        cands.remove(pick)
        tests.setdefault(column, []).append(test)
    return tests


def _test_yaml(test: tuple) -> list[str]:
    if len(test) == 1:
        return [f"          - {test[0]}"]
    if test[0] == "accepted_values":
        values = ", ".join(f"'{v}'" for v in test[1])
        return ["          - accepted_values:", "              arguments:", f"                values: [{values}]"]
    return ["          - relationships:", "              arguments:", f"                to: \"{test[1]}\"",
            f"                field: {test[2]}"]


def _singular_tests(rng: random.Random, models: list[Node], n: int) -> dict[str, str]:
    out: dict[str, str] = {}
    candidates = [m for m in models if m.materialized != "ephemeral"]
    for m in rng.sample(candidates, min(len(candidates), 4 * min(20, 2 + n // 500))):
        if len(out) >= min(20, 2 + n // 500):
            break
        counts = [c for c in m.built.rel.cols if c.type == "int" and c.name.endswith("_count") and not c.nullable]
        keys = [c for c in m.built.rel.cols if c.role == "key" and not c.nullable]
        if counts:
            c = counts[0]
            out[f"assert_{m.up.name}_{c.name}_not_negative"] = (
                f"-- A count can never be negative.\nselect *\nfrom {m.up.ref}\nwhere {c.name} < 0\n")
        elif keys:
            c = keys[0]
            out[f"assert_{m.up.name}_has_{c.name}"] = (
                f"-- Every row keeps its {c.name}.\nselect *\nfrom {m.up.ref}\nwhere {c.name} is null\n")
    return out


# -- writing ---------------------------------------------------------------------------------------


def _project_yaml() -> str:
    layers = "\n".join(
        f"    {layer}:\n      +materialized: {mat}\n      +schema: {layer}\n      +tags: [\"{layer}\"]"
        for layer, mat in (("staging", "view"), ("intermediate", "table"), ("marts", "table"))
    )
    return (
        f"name: {PROJECT}\nversion: \"1.0.0\"\nconfig-version: 2\nprofile: {PROJECT}\n\n"
        "model-paths: [\"models\"]\nseed-paths: [\"seeds\"]\ntest-paths: [\"tests\"]\nmacro-paths: [\"macros\"]\n"
        "clean-targets: [\"target\", \"logs\"]\n\n"
        "flags:\n  send_anonymous_usage_stats: false\n  version_check: false\n\n"
        f"models:\n  {PROJECT}:\n{layers}\n\n"
        f"seeds:\n  {PROJECT}:\n    +schema: seeds\n"
    )


def _profiles_yaml(root: Path) -> str:
    default = (root / "target" / "warehouse.duckdb").as_posix()
    return (
        f"# The warehouse: ${WAREHOUSE_ENV}, else target/warehouse.duckdb in this project.\n"
        f"{PROJECT}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: \"{{{{ env_var('{WAREHOUSE_ENV}', '{default}') }}}}\"\n"
        "      schema: main\n      threads: 4\n"
    )


def _sources_yaml() -> str:
    lines = ["version: 2", "", "sources:", f"  - name: {SOURCE_NAME}", f"    schema: {SOURCE_NAME}", "    tables:"]
    for t in SOURCES:
        lines += [f"      - name: {t.name}", "        columns:"]
        for c in t.columns:
            lines.append(f"          - name: {c.name}")
            if c.name == t.pk:
                lines += ["            data_tests:", "              - unique", "              - not_null"]
    return "\n".join(lines) + "\n"


def _seeds_yaml() -> str:
    lines = ["version: 2", "", "seeds:"]
    for t in SEEDS:
        lines += [f"  - name: {t.name}", "    config:", "      column_types:"]
        lines += [f"        {c.name}: {c.sql_type}" for c in t.columns]
        lines.append("    columns:")
        for c in t.columns:
            lines.append(f"      - name: {c.name}")
            if c.name == t.pk:
                lines += ["        data_tests:", "          - unique", "          - not_null"]
    return "\n".join(lines) + "\n"


def _models_yaml(chunk: list[Node]) -> str:
    lines = ["version: 2", "", "models:"]
    for m in chunk:
        reads = ", ".join(m.parents)
        lines += [f"  - name: {m.up.name}", f"    description: \"{m.layer} model ({m.materialized}) reading {reads}\"",
                  "    columns:"]
        for c in m.built.rel.cols:
            lines.append(f"      - name: {c.name}")
            if c.name in m.tests:
                lines.append("        data_tests:")
                for test in m.tests[c.name]:
                    lines += _test_yaml(test)
    return "\n".join(lines) + "\n"


def _prepare(root: Path) -> None:
    if root.exists() and any(root.iterdir()):
        if not (root / TRUTH_FILE).exists():
            raise FileExistsError(f"{root} is not empty and holds no {TRUTH_FILE}: refusing to overwrite it; "
                                  "pass an empty or new directory, or one this generator wrote")
        for sub in OWNED_DIRS:
            shutil.rmtree(root / sub, ignore_errors=True)
    for sub in ("models/staging", "models/intermediate", "models/marts", "seeds", "tests", "macros"):
        (root / sub).mkdir(parents=True, exist_ok=True)


def _truth(models: list[Node], nodes: dict[str, Node], n: int, seed: int) -> dict:
    assets: dict[str, dict] = {}
    for node in nodes.values():
        cols = node.built.rel.cols if node.built else node.up.cols
        entry = {"type": node.layer if node.layer in ("source", "seed") else "model", "name": node.up.name,
                 "materialized": node.materialized, "columns": [c.name for c in cols]}
        if node.built:
            entry["parents"] = node.parents
        assets[node.up.key] = entry
    # Edges are pre-rendered JSON objects (names are plain identifiers): far faster than json.dumps.
    edges, filter_edges = [], []
    edge_kinds: Counter[str] = Counter()
    filter_kinds: Counter[str] = Counter()
    for m in models:
        key = m.up.key
        for c in m.built.rel.cols:
            for (asset, column), kind in sorted(c.lin.items()):
                edges.append(f'{{"source": {{"asset": "{asset}", "column": "{column}"}}, '
                             f'"target": {{"asset": "{key}", "column": "{c.name}"}}, "kind": "{KINDS[kind]}"}}')
                edge_kinds[KINDS[kind]] += 1
        for asset, column, kind in sorted(m.built.filters):
            filter_edges.append(f'{{"source": {{"asset": "{asset}", "column": "{column}"}}, '
                                f'"target": {{"asset": "{key}", "column": null}}, "kind": "{kind}"}}')
            filter_kinds[kind] += 1
    fan_out = Counter(p for m in models for p in m.parents)
    stats = {
        "models": Counter(m.materialized for m in models),
        "depth": max(m.level for m in models),
        "avg_parents": round(sum(len(m.parents) for m in models) / len(models), 2),
        "max_fan_out": max(fan_out.values()),
        "generic_tests": sum(len(t) for m in models for t in m.tests.values()),
        "edges": edge_kinds,
        "filter_edges": filter_kinds,
    }
    return {"version": 1, "project": PROJECT, "models": n, "seed": seed,
            "conventions": {
                "asset": "model: <folder under models>/<name>; source: <source>/<table>; seed: seeds/<name>",
                "kinds": "direct: copied or renamed; transform: expression (CASE conditions included); "
                         "aggregate: under sum/count/avg/min/max, window aggregates included",
                "filter_edges": "columns read only to choose rows (where, join, group_by, having, qualify, "
                                "window partition/order, incremental); target column is null",
            },
            "stats": {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in stats.items()},
            "assets": assets, "edges": edges, "filter_edges": filter_edges}


def _write_truth(path: Path, truth: dict) -> None:
    """JSON with one asset or edge per line (json's indent= is several times slower at this size)."""
    lines = ["{"]
    for key, value in truth.items():
        if isinstance(value, dict) and key == "assets":
            body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            lines.append(f" {json.dumps(key)}: {{\n{body}\n }},")
        elif isinstance(value, list):  # pre-rendered JSON
            body = ",\n".join(f"  {v}" for v in value)
            lines.append(f" {json.dumps(key)}: [\n{body}\n ],")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)},")
    lines[-1] = lines[-1].rstrip(",")
    path.write_text("\n".join(lines) + "\n}\n")


def generate_project(root: Path, models: int, seed: int = 0) -> GeneratedProject:
    """Write a dbt-duckdb project of `models` models into `root` (created or regenerated).

    Returns what was written; `lineage_truth.json` sits in `root` beside `dbt_project.yml`.
    """
    if models < 20:
        raise ValueError(f"models={models}: the generator needs at least 20 models to lay out its layers")
    root = Path(root).resolve()
    nodes_list, nodes = _build(models, seed)
    _prepare(root)
    (root / "dbt_project.yml").write_text(_project_yaml())
    (root / "profiles.yml").write_text(_profiles_yaml(root))
    (root / ".gitignore").write_text("target/\nlogs/\n")
    (root / "models" / "staging" / "_sources.yml").write_text(_sources_yaml())
    (root / "seeds" / "_seeds.yml").write_text(_seeds_yaml())
    for t in SEEDS:
        (root / "seeds" / f"{t.name}.csv").write_text(seed_csv(t))
    files = {root / "models" / m.layer / f"{m.up.name}.sql": m.built.sql for m in nodes_list}
    by_layer: dict[str, list[Node]] = {}
    for m in nodes_list:
        by_layer.setdefault(m.layer, []).append(m)
    for layer, items in by_layer.items():
        for i in range(0, len(items), YAML_CHUNK):
            path = root / "models" / layer / f"_{layer}__models_{i // YAML_CHUNK + 1:03d}.yml"
            files[path] = _models_yaml(items[i:i + YAML_CHUNK])
    for name, sql in _singular_tests(random.Random(seed + 1), nodes_list, models).items():
        files[root / "tests" / f"{name}.sql"] = sql
    with ThreadPoolExecutor(8) as pool:  # thousands of small files: hide the file system's latency
        list(pool.map(lambda item: item[0].write_text(item[1]), files.items()))
    lineage_path = root / TRUTH_FILE
    _write_truth(lineage_path, _truth(nodes_list, nodes, models, seed))
    return GeneratedProject(root, models, tuple(m.up.name for m in nodes_list), lineage_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, required=True, help="number of models (1000, 5000, 10000, ...)")
    parser.add_argument("--out", type=Path, required=True, help="project directory (new, empty or generated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raw-tables", action="store_true",
                        help=f"also create the raw source tables in ${WAREHOUSE_ENV} or the default warehouse")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        project = generate_project(args.out, args.models, args.seed)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    summary = {"root": str(project.root), "models": project.model_count, "seconds": round(elapsed, 2),
               "lineage": str(project.lineage_path)}
    summary["stats"] = json.loads(project.lineage_path.read_text())["stats"]
    if args.raw_tables:
        warehouse = Path(os.environ.get(WAREHOUSE_ENV) or project.default_warehouse)
        create_raw_tables(warehouse)
        summary["warehouse"] = str(warehouse)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
