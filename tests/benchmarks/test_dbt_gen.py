"""The benchmark project generator: a generated project builds with real dbt, and its lineage truth
agrees with the warehouse dbt built.

One small project (60 models) is generated, its raw tables are created, and `dbt build` runs once in
process; the tests then read the warehouse and dbt's manifest. dbt's target and logs stay in tmp.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from benchmarks.dbt_gen import GeneratedProject, create_raw_tables, generate_project
from benchmarks.dbt_gen.generate import main
from integrations.dbt.runner import close_duckdb_database

MODELS = 60
SEED = 7


@dataclass
class Built:
    project: GeneratedProject
    truth: dict[str, Any]
    manifest: dict[str, Any]
    result: dbtRunnerResult
    columns: dict[str, list[str]]  # asset key -> columns of its relation in the warehouse
    work: Path

    def dbt(self, *args: str) -> dbtRunnerResult:
        return _dbt(self.project.root, self.work, *args)


def _dbt(root: Path, work: Path, *args: str) -> dbtRunnerResult:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BENCH_WAREHOUSE_PATH", str(work / "warehouse.duckdb"))
        try:
            return dbtRunner().invoke([
                *args, "--project-dir", str(root), "--profiles-dir", str(root),
                "--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--quiet",
            ])
        finally:
            close_duckdb_database()  # dbt-duckdb keeps it open (keep_open); the test reads it next


def _asset_key(node: dict[str, Any]) -> str:
    if node["resource_type"] == "seed":
        return f"seeds/{node['name']}"
    if node["resource_type"] == "source":
        return f"{node['source_name']}/{node['name']}"
    return "/".join(node["fqn"][1:])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("dbt_gen")
    project = generate_project(work / "project", MODELS, seed=SEED)
    create_raw_tables(work / "warehouse.duckdb")
    result = _dbt(project.root, work, "build")
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    relations = {
        (n["schema"], n.get("alias") or n["name"]): _asset_key(n)
        for n in [*manifest["nodes"].values(), *manifest["sources"].values()]
        if n["resource_type"] in ("model", "seed", "source")
    }
    columns: dict[str, list[str]] = {}
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall()
    for schema, table, column in rows:
        if (schema, table) in relations:
            columns.setdefault(relations[schema, table], []).append(column)
    truth = json.loads(project.lineage_path.read_text())
    return Built(project, truth, manifest, result, columns, work)


def test_every_node_of_the_generated_project_builds(built: Built) -> None:
    assert built.result.exception is None
    statuses = Counter(str(r.status) for r in built.result.result.results)
    assert built.result.success, [
        (r.node.unique_id, r.message) for r in built.result.result.results if str(r.status) not in ("success", "pass")
    ]
    assert set(statuses) <= {"success", "pass"}
    models = [n for n in built.manifest["nodes"].values() if n["resource_type"] == "model"]
    tests = [n for n in built.manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(models) == MODELS == built.project.model_count
    assert len(tests) >= MODELS // 2  # about one generic test per model, plus source and singular tests
    ephemeral = sum(n["config"]["materialized"] == "ephemeral" for n in models)
    assert statuses["success"] == MODELS - ephemeral + 3  # every model that runs, and the three seeds


def test_project_shape_matches_the_plan(built: Built) -> None:
    assets = built.truth["assets"]
    models = {k: a for k, a in assets.items() if a["type"] == "model"}
    assert sorted(a["name"] for a in models.values()) == sorted(built.project.model_names)
    materialized = Counter(a["materialized"] for a in models.values())
    assert materialized["view"] == round(0.10 * MODELS)  # staging
    assert materialized["incremental"] == round(0.05 * MODELS)
    assert materialized["ephemeral"] >= 1
    assert built.truth["stats"]["depth"] >= 10
    for key, asset in models.items():
        assert 1 <= len(asset["parents"]) <= 3, key
        assert key.split("/")[0] in ("staging", "intermediate", "marts")


def test_asset_keys_and_parents_agree_with_the_manifest(built: Built) -> None:
    by_id = {**built.manifest["nodes"], **built.manifest["sources"]}
    for node in built.manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        key = _asset_key(node)
        asset = built.truth["assets"][key]
        assert node["config"]["materialized"] == asset["materialized"], key
        assert sorted(_asset_key(by_id[d]) for d in node["depends_on"]["nodes"]) == sorted(asset["parents"]), key


def test_tracked_columns_are_the_columns_dbt_built(built: Built) -> None:
    for key, asset in built.truth["assets"].items():
        if asset["materialized"] == "ephemeral":
            assert key not in built.columns
            continue
        assert built.columns.get(key) == asset["columns"], key


def test_every_lineage_edge_joins_existing_columns(built: Built) -> None:
    def columns(key: str) -> list[str]:
        if built.truth["assets"][key]["materialized"] == "ephemeral":  # never built: its tracked columns
            return built.truth["assets"][key]["columns"]
        return built.columns[key]

    edges, filters = built.truth["edges"], built.truth["filter_edges"]
    assert edges and filters
    for edge in edges:
        source, target = edge["source"], edge["target"]
        assert target["column"] in columns(target["asset"]), edge
        assert source["column"] in columns(source["asset"]), edge
        assert source["asset"] in built.truth["assets"][target["asset"]]["parents"], edge
        assert edge["kind"] in ("window", "direct", "transform", "aggregate")
    for edge in filters:
        assert edge["source"]["column"] in columns(edge["source"]["asset"]), edge
        assert edge["target"]["column"] is None
        assert edge["source"]["asset"] in built.truth["assets"][edge["target"]["asset"]]["parents"], edge
    kinds = Counter(e["kind"] for e in edges)
    assert kinds["direct"] and kinds["transform"] and kinds["aggregate"]


def test_incremental_models_run_incrementally(built: Built) -> None:
    result = built.dbt("run", "--select", "config.materialized:incremental")
    assert result.success, result.exception
    assert len(result.result.results) == round(0.05 * MODELS)


def test_generation_is_deterministic_and_fast(tmp_path: Path) -> None:
    one = generate_project(tmp_path / "one", MODELS, seed=SEED)
    two = generate_project(tmp_path / "two", MODELS, seed=SEED)
    other = generate_project(tmp_path / "other", MODELS, seed=SEED + 1)

    def files(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): p.read_text()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "profiles.yml"  # names its own root
        }

    assert files(one.root) == files(two.root)
    assert files(one.root) != files(other.root)
    regenerated = generate_project(one.root, MODELS, seed=SEED + 1)  # a generated project may be regenerated
    assert files(regenerated.root) == files(other.root)


def test_generator_refuses_to_write_over_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        generate_project(tmp_path, MODELS)
    with pytest.raises(ValueError, match="at least 20 models"):
        generate_project(tmp_path / "tiny", 5)


def test_command_line_writes_a_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--models", "40", "--out", str(tmp_path / "cli")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["models"] == 40
    assert (tmp_path / "cli" / "dbt_project.yml").exists()
    assert Path(summary["lineage"]).exists()


def test_the_realistic_shape_moves_folders_adds_a_package_and_keeps_the_truth(tmp_path):
    from benchmarks.dbt_gen.realistic import make_realistic

    made = generate_project(tmp_path / "real", MODELS, seed=SEED)
    truth = made.lineage_path.read_text()
    done = make_realistic(made, share=0.5, introspective=2)
    root = made.root
    assert done == {"models": MODELS, "with_macros": MODELS // 2, "introspective": 2}
    assert not (root / "models").exists() and (root / "transform" / "staging").is_dir()
    assert 'model-paths: ["transform"]' in (root / "dbt_project.yml").read_text()
    assert (root / "packages" / "bench_utils" / "macros" / "warehouse_note.sql").exists()
    sql = [p.read_text() for p in (root / "transform").rglob("*.sql")]
    assert sum("bench_utils.audit_header" in s for s in sql) == MODELS // 2
    assert sum("bench_utils.warehouse_note" in s for s in sql) == 2
    assert all(s.index("config(") < s.index("bench_utils") for s in sql if "config(" in s and "bench_utils" in s)
    assert made.lineage_path.read_text() == truth
