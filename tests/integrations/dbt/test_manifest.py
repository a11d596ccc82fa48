"""manifest.json -> assets and checks, read as JSON only (a trimmed real manifest of the demo)."""

from __future__ import annotations

import copy
import json

import pytest

from integrations.dbt import DbtTranslator, ManifestError, load_nodes, read_manifest
from orchestrator import AssetKey, AssetSpec, Definitions, asset
from orchestrator.errors import DuplicateAssetError
from tests.conftest import FIXTURES

K = AssetKey.parse
MANIFEST = FIXTURES / "dbt" / "lakehouse_manifest.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return read_manifest(MANIFEST)


@pytest.fixture(scope="module")
def nodes(manifest):
    return load_nodes(manifest)


def by_key(nodes):
    return {str(a.key): a for a in nodes.assets}


def test_models_seeds_snapshots_sources_and_exposures_become_assets(nodes):
    assets = by_key(nodes)
    assert assets["staging/stg_orders"].resource_type == "model"
    assert assets["seeds/country_codes"].resource_type == "seed"
    assert assets["snapshots/customers_snapshot"].resource_type == "snapshot"
    assert assets["raw/orders"].resource_type == "source" and not assets["raw/orders"].executable
    assert assets["exposures/revenue_dashboard"].resource_type == "exposure"
    assert not assets["exposures/revenue_dashboard"].executable
    assert {str(d.key) for d in assets["exposures/revenue_dashboard"].deps} == {
        "marts/fct_daily_revenue", "marts/customer_lifetime_value"}


def test_ephemeral_models_are_nodes_but_not_steps(nodes):
    ephemeral = by_key(nodes)["intermediate/int_order_payments"]
    assert not ephemeral.executable and ephemeral.runner is None
    assert {str(d.key) for d in by_key(nodes)["marts/fct_orders"].deps} == {"intermediate/int_order_payments"}


def test_dbt_attributes_are_carried_for_selection_and_the_ui(nodes):
    fct = by_key(nodes)["marts/fct_orders"]
    assert fct.path == "models/marts/fct_orders.sql"
    assert fct.fqn == ("lakehouse", "marts", "fct_orders")
    assert fct.config["materialized"] == "table" and fct.group == "finance"
    assert "finance" in fct.tags and fct.owners == ("finance-analytics@example.com",)
    assert fct.metadata["relation_name"].endswith('"marts"."fct_orders"')
    assert "order_id" in fct.metadata["columns"] and fct.description
    assert fct.code_version == nodes_checksum(fct)
    assert fct.metadata["test_types"] == ["generic", "singular"]


def nodes_checksum(asset_def):
    manifest = json.loads(MANIFEST.read_text())
    return manifest["nodes"][asset_def.metadata["dbt_unique_id"]]["checksum"]["checksum"]


def test_tests_are_checks_severity_error_blocks_and_relationships_depend_on_both(nodes):
    checks = {c.name: c for c in nodes.checks}
    unique = checks["unique_fct_orders_order_id"]
    assert unique.asset == K("marts/fct_orders") and unique.blocking and unique.kind == "dbt"
    assert checks["unique_stg_customers_email"].blocking is False  # severity: warn
    rel = checks["relationships_fct_orders_customer_id__customer_id__ref_dim_customers_"]
    assert rel.asset == K("marts/fct_orders") and rel.extra_deps == (K("marts/dim_customers"),)
    singular = checks["assert_no_negative_revenue"]
    assert singular.metadata["test_type"] == "singular" and singular.asset == K("marts/fct_daily_revenue")
    assert checks["source_unique_raw_orders_id"].asset == K("raw/orders")


def test_disabled_nodes_are_skipped(manifest):
    changed = copy.deepcopy(manifest)
    changed["nodes"]["model.lakehouse.dim_customers"]["config"]["enabled"] = False
    keys = {str(a.key) for a in load_nodes(changed).assets}
    assert "marts/dim_customers" not in keys and "marts/fct_orders" in keys


def test_a_translator_overrides_keys_groups_and_metadata(manifest):
    class Prefixed(DbtTranslator):
        def key(self, node):
            return super().key(node).with_prefix("warehouse")

        def group(self, node):
            return "dbt"

        def metadata(self, node):
            return {**super().metadata(node), "team": "data"}

    nodes = load_nodes(manifest, Prefixed())
    fct = by_key(nodes)["warehouse/marts/fct_orders"]
    assert fct.group == "dbt" and fct.metadata["team"] == "data"
    assert {str(d.key) for d in fct.deps} == {"warehouse/intermediate/int_order_payments"}


def test_meta_overrides_a_nodes_key(manifest):
    changed = copy.deepcopy(manifest)
    changed["nodes"]["model.lakehouse.fct_orders"]["config"]["meta"] = {"orchestrator": {"key": "finance/orders"}}
    changed["nodes"]["model.lakehouse.fct_orders"]["meta"] = {}
    assert "finance/orders" in by_key(load_nodes(changed))


def test_a_python_asset_with_a_sources_key_is_that_source(nodes):
    @asset(key_prefix="raw")
    def orders():
        return 1

    defs = Definitions(assets=[orders, *nodes.assets, *nodes.checks])
    merged = defs.graph.get("raw/orders")
    assert merged.executable and merged.kind == "python"
    assert merged.metadata["dbt_source_name"] == "raw" and merged.description
    assert K("raw/orders") in defs.graph.parents(K("staging/stg_orders"))


def test_a_python_asset_colliding_with_a_model_names_both(nodes):
    @asset(key_prefix="marts")
    def fct_orders():
        return 1

    with pytest.raises(DuplicateAssetError) as err:
        Definitions(assets=[fct_orders, *nodes.assets]).graph
    assert "model.lakehouse.fct_orders" in str(err.value) and "test_manifest" in str(err.value)


def test_an_asset_spec_may_declare_what_a_source_depends_on(nodes):
    defs = Definitions(assets=[AssetSpec("raw/extra"), *nodes.assets])
    assert K("raw/extra") in defs.graph


def test_a_missing_manifest_names_the_file_and_the_command(tmp_path):
    with pytest.raises(ManifestError, match=r"No dbt manifest at .*orch dbt parse"):
        read_manifest(tmp_path / "manifest.json")


def test_a_malformed_manifest_names_the_file(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text('{"metadata": {')
    with pytest.raises(ManifestError, match=r"manifest.json' is not valid JSON"):
        read_manifest(path)
    path.write_text('{"something": 1}')
    with pytest.raises(ManifestError, match="is not a dbt manifest"):
        read_manifest(path)


def test_an_unsupported_manifest_version_names_the_versions(tmp_path, manifest):
    old = copy.deepcopy(manifest)
    old["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v11.json"
    old["metadata"]["dbt_version"] = "1.7.4"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ManifestError, match=r"'v11.json' from dbt 1.7.4; supported: v12 \(dbt 1.8 - 1.11\)"):
        read_manifest(path)


def test_partitioned_models_come_from_meta_partition_or_microbatch(nodes):
    revenue = by_key(nodes)["marts/fct_daily_revenue"]
    assert revenue.partitions.grain == "daily" and revenue.partitions.start == "2024-01-01"
    assert revenue.metadata["partition_column"] == "order_date" and revenue.metadata["partition_via"] == "vars"
    events = by_key(nodes)["marts/fct_daily_events"]
    assert events.partitions.grain == "monthly" and events.metadata["partition_via"] == "event_time"
    assert by_key(nodes)["marts/fct_orders"].partitions is None


def test_a_partition_declaration_without_a_start_says_what_is_missing(manifest):
    changed = copy.deepcopy(manifest)
    node = changed["nodes"]["model.lakehouse.fct_daily_revenue"]
    node["config"]["meta"]["partition"].pop("start")
    node.get("meta", {}).get("partition", {}).pop("start", None)
    with pytest.raises(ManifestError, match=r"fct_daily_revenue declares partitions but lacks \['start'\]"):
        load_nodes(changed)


def test_a_range_is_one_invocation_with_vars_and_event_time_flags(nodes, tmp_path):
    import threading

    from integrations.dbt.runner import DbtRunner
    from orchestrator import BatchContext, PartitionRange

    runner = DbtRunner.__new__(DbtRunner)
    runner.attach(nodes)
    context = BatchContext("run", "dbt[0]", (K("marts/fct_daily_revenue"), K("marts/fct_daily_events")),
                           "2024-03-01...2024-03-10", PartitionRange("2024-03-01", "2024-03-10"),
                           threading.Event(), lambda e: None, lambda *a: None)
    args, range_vars = runner.range_args(context)
    assert args[args.index("--event-time-start") + 1] == "2024-03-01 00:00:00"
    assert args[args.index("--event-time-end") + 1] == "2024-03-11 00:00:00"
    assert range_vars == {"start": "2024-03-01", "end": "2024-03-11"}
