"""@asset, @asset_check and AssetSpec: what a definition declares."""

from __future__ import annotations

import pytest

from orchestrator import AssetKey, AssetSpec, RetryPolicy, asset, asset_check
from orchestrator.errors import DefinitionError


def test_parameter_names_are_upstream_assets_and_context_is_reserved():
    @asset
    def orders_enriched(orders, customers, context):
        return None

    assert [d.key for d in orders_enriched.deps] == [AssetKey.parse("orders"), AssetKey.parse("customers")]
    assert [d.parameter for d in orders_enriched.deps] == ["orders", "customers"]
    assert orders_enriched.uses_context


def test_a_parameter_with_a_default_is_an_optional_dependency():
    @asset
    def report(orders, extras=None):
        return None

    assert [(d.parameter, d.optional) for d in report.deps] == [("orders", False), ("extras", True)]


def test_key_prefix_applies_to_the_asset_and_to_its_bare_parameters():
    @asset(key_prefix=["marts"], name="orders_daily", deps=["raw/events"])
    def compute(orders):
        return None

    assert compute.key == AssetKey.parse("marts/orders_daily")
    assert compute.deps[0].key == AssetKey.parse("marts/orders")
    assert compute.deps[1].key == AssetKey.parse("raw/events") and compute.deps[1].parameter is None


def test_ins_maps_a_parameter_to_a_key_elsewhere():
    @asset(ins={"orders": "raw/orders"})
    def cleaned(orders):
        return None

    assert cleaned.deps[0].key == AssetKey.parse("raw/orders")


def test_attributes_are_carried():
    @asset(group="marts", tags=["finance"], kinds=["duckdb"], owners=["ana@example.com"],
           metadata={"tier": 1}, description="All orders.", retry=RetryPolicy(3, 0.5))
    def orders():
        return None

    assert orders.group == "marts" and orders.tags == {"finance"} and orders.kinds == {"duckdb"}
    assert orders.owners == ("ana@example.com",) and orders.metadata == {"tier": 1}
    assert orders.description == "All orders." and orders.retry.attempts == 3
    assert orders.retry.delay(2) == 1.0


def test_code_version_defaults_to_a_hash_of_the_source():
    @asset
    def one():
        return 1

    @asset(name="one")
    def one_changed():
        return 2

    assert one.code_version and one.code_version != one_changed.code_version
    assert asset(code_version="v7")(lambda: 1).code_version == "v7"


def test_docstring_is_the_default_description():
    @asset
    def documented():
        """Documented here."""

    assert documented.description == "Documented here."


def test_star_args_cannot_name_assets():
    with pytest.raises(DefinitionError, match=r"\*args"):
        @asset
        def bad(*rows):
            return None


def test_asset_spec_declares_an_external_asset():
    spec = AssetSpec("raw/orders", group="raw", description="Loaded by Fivetran.")
    assert spec.key == AssetKey.parse("raw/orders")
    assert spec.kind == "external" and not spec.executable


def test_asset_check_receives_the_asset_value_by_parameter_name():
    @asset
    def orders():
        return [1]

    @asset_check(asset=orders, blocking=True)
    def not_empty(orders):
        return len(orders) > 0

    assert not_empty.asset == orders.key and not_empty.parameter == "orders"
    assert not_empty.blocking and not_empty.id == "orders:not_empty"


def test_a_check_takes_one_asset_value():
    with pytest.raises(DefinitionError, match="one asset value"):
        @asset_check(asset="orders")
        def two(orders, customers):
            return True


def test_asset_keys_have_one_string_form():
    key = AssetKey.coerce(["marts", "orders"])
    assert str(key) == "marts/orders" and AssetKey.parse(str(key)) == key
    assert AssetKey.coerce("marts/orders") is not None and AssetKey.coerce(key) is key
    with pytest.raises(ValueError):
        AssetKey(("a/b",))
