"""The selection grammar: dbt's node selection syntax plus key:, group:, kind:, resolved on one graph.

The graph used throughout (arrows point downstream):

    shop/raw_orders    -> stg_orders    -> marts/orders -> analytics/order_summary -> .../revenue_report
    shop/raw_customers -> stg_customers -> marts/orders
                          stg_customers -> marts/customers -> customers_export
    weather            (isolated)
    legacy/customers   (isolated, shares the name 'customers' with marts/customers)
"""

from __future__ import annotations

import dataclasses
import doctest

import networkx as nx
import pytest

from orchestrator import selection as selection_module
from orchestrator.assets import AssetSpec, asset
from orchestrator.errors import SelectionError, UnknownAssetError
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.selection import (
    ALL,
    DOTTED_METHODS,
    METHODS,
    Atom,
    Intersection,
    Union,
    parse_selection,
    resolve,
)

# -- the graph -----------------------------------------------------------------------------------


def _source(key: str, source_name: str, **kwargs):
    spec = AssetSpec(key, group="raw", **kwargs)
    return spec.with_changes(
        resource_type="source",
        fqn=("lakehouse", source_name, spec.key.name),
        metadata={"dbt_source_name": source_name},
    )


def _model(key: str, *, folder: str, deps, config, **kwargs):
    spec = AssetSpec(key, deps=deps, **kwargs)
    name = spec.key.name
    return spec.with_changes(
        kind="dbt",
        resource_type="model",
        path=f"models/{folder}/{name}.sql",
        fqn=("lakehouse", *folder.split("/"), name),
        config=config,
    )


@asset(key_prefix="analytics", ins={"orders": "marts/orders"}, group="analytics",
       tags=["finance"], kinds=["pandas"], owners=["team:analytics"])
def order_summary(orders):
    return orders


@asset(key_prefix="analytics", group="analytics", tags={"tier": "gold"}, owners=["team:analytics"])
def revenue_report(order_summary):
    return order_summary


@asset(ins={"customers": "marts/customers"}, group="exports")
def customers_export(customers):
    return customers


@asset(group="misc")
def weather():
    return "sunny"


ASSETS = [
    _source("shop/raw_orders", "shop", kinds=["postgres"], tags=["pii"], owners=["team:ingest"]),
    _source("shop/raw_customers", "shop", kinds=["postgres"], tags=["pii"], owners=["team:ingest"]),
    _model("stg_orders", folder="staging", deps=["shop/raw_orders"], group="staging",
           tags=["nightly"], config={"materialized": "view", "tags": ["nightly"]}),
    _model("stg_customers", folder="staging", deps=["shop/raw_customers"], group="staging",
           config={"materialized": "view", "tags": []}),
    _model("marts/orders", folder="marts/core", deps=["stg_orders", "stg_customers"], group="marts",
           tags=["nightly", "finance"], owners=["alice@example.com"],
           config={"materialized": "table", "tags": ["nightly", "finance"]}),
    _model("marts/customers", folder="marts/core", deps=["stg_customers"], group="marts",
           metadata={"tier": "gold", "sla": {"hours": 6}},
           config={"materialized": "incremental", "contract": {"enforced": True},
                   "full_refresh": False}),
    order_summary.with_changes(path="examples/lakehouse/analytics.py"),
    revenue_report.with_changes(path="examples/lakehouse/analytics.py"),
    customers_export.with_changes(path="examples/lakehouse/exports.py"),
    weather.with_changes(path="examples/weather.py"),
    AssetSpec("legacy/customers", group="legacy", kinds=["csv"]),
]
GRAPH = AssetGraph(ASSETS)
EVERY_KEY = {str(k) for k in GRAPH.keys}


def select(text, exclude=None) -> set[str]:
    return {str(key) for key in resolve(text, GRAPH, exclude=exclude)}


# -- parsing: the grammar gives a frozen tree ----------------------------------------------------


class TestParse:
    def test_a_bare_value_is_an_atom_without_method(self):
        assert parse_selection("orders") == Atom(None, "orders")

    @pytest.mark.parametrize(
        ("text", "parents", "children"),
        [
            ("+orders", ALL, None),
            ("2+orders", 2, None),
            ("orders+", None, ALL),
            ("orders+3", None, 3),
            ("1+orders+", 1, ALL),
            ("+orders+12", ALL, 12),
            ("0+orders", 0, None),
        ],
    )
    def test_graph_operators_set_depths(self, text, parents, children):
        atom = parse_selection(text)
        assert (atom.value, atom.parents_depth, atom.children_depth) == ("orders", parents, children)

    def test_method_and_value(self):
        assert parse_selection("tag:nightly") == Atom("tag", "nightly")
        assert parse_selection("config.materialized:table") == Atom("config.materialized", "table")
        assert parse_selection("2+group:marts+") == Atom("group", "marts", 2, ALL)

    def test_at_operator(self):
        assert parse_selection("@orders") == Atom(None, "orders", at=True)
        assert parse_selection("@tag:nightly") == Atom("tag", "nightly", at=True)
        # '@' already selects all descendants; a trailing '+' is allowed and redundant, as in dbt.
        assert parse_selection("@orders+") == Atom(None, "orders", None, ALL, at=True)

    def test_space_is_union_and_comma_is_intersection(self):
        assert parse_selection("+a tag:x,group:y") == Union(
            (Atom(None, "a", ALL), Intersection((Atom("tag", "x"), Atom("group", "y"))))
        )

    def test_whitespace_of_any_kind_separates_terms(self):
        expected = Union((Atom(None, "a"), Atom(None, "b"), Atom(None, "c")))
        assert parse_selection("  a\tb\n c ") == expected

    def test_blank_text_means_everything(self):
        assert parse_selection("") == parse_selection("   ") == parse_selection("*") == Atom(None, "*")

    def test_values_may_be_globs_keys_and_contain_colons(self):
        assert parse_selection("marts/*") == Atom(None, "marts/*")
        assert parse_selection("owner:team:data") == Atom("owner", "team:data")  # the first ':' splits
        assert parse_selection("owner:a@b.com") == Atom("owner", "a@b.com")  # only a leading '@' is '@'

    @pytest.mark.parametrize(
        "text",
        [
            "orders", "+orders", "2+marts/orders+1", "@stg_*", "tag:x,group:y +a b+",
            "config.materialized:table",
        ],
    )
    def test_str_gives_back_the_canonical_text(self, text):
        assert str(parse_selection(text)) == text
        assert parse_selection(str(parse_selection(text))) == parse_selection(text)

    def test_trees_are_frozen_hashable_values(self):
        tree = parse_selection("+a b,c")
        with pytest.raises(dataclasses.FrozenInstanceError):
            tree.parts = ()
        with pytest.raises(dataclasses.FrozenInstanceError):
            tree.parts[0].value = "z"
        assert hash(tree) == hash(parse_selection("+a  b,c"))
        assert Union([Atom(None, "a")]).parts == (Atom(None, "a"),)  # lists become tuples

    def test_parsed_trees_are_cached(self):
        assert parse_selection("+cached_name tag:x") is parse_selection("+cached_name tag:x")

    def test_a_selection_is_a_string(self):
        with pytest.raises(TypeError):
            parse_selection(["a", "b"])


class TestMalformed:
    @pytest.mark.parametrize(
        ("text", "position", "token"),
        [
            ("2+", 2, "'2+'"),
            ("+", 1, "'+'"),
            ("a +", 3, "'+'"),
            ("@", 1, "'@'"),
            ("a,,b", 2, "','"),
            (",a", 0, "','"),
            ("a,", 2, "','"),
            ("x @2+y", 2, "'2+'"),
            ("@+x", 0, "'+'"),
            ("tag:", 4, "'tag:'"),
            ("a tag:,b", 6, "'tag:'"),
            (":x", 0, "':'"),
            ("a+b", 1, "'+'"),
            ("tag:a+b", 5, "'+'"),
        ],
    )
    def test_malformed_syntax_names_the_selection_and_the_position(self, text, position, token):
        with pytest.raises(SelectionError) as error:
            parse_selection(text)
        message = str(error.value)
        assert message.startswith(f"Invalid selection '{text}' at position {position}: ")
        assert token in message
        caret_line = message.splitlines()[-1]
        assert caret_line == "  " + " " * position + "^"

    def test_at_with_leading_parents_explains_why(self):
        with pytest.raises(SelectionError, match="'@' cannot be combined with a leading '2\\+'"):
            parse_selection("@2+x")

    def test_unknown_method_lists_known_methods_with_a_suggestion(self):
        with pytest.raises(SelectionError) as error:
            parse_selection("+tg:nightly")
        message = str(error.value)
        assert "unknown selection method 'tg'" in message
        assert "Did you mean 'tag'?" in message
        assert "position 1" in message
        for method in ("tag", "group", "kind", "key", "path", "fqn", "config.<key>", "meta.<key>"):
            assert method in message

    def test_dotted_methods_need_a_key(self):
        with pytest.raises(SelectionError, match=r"Use 'config.<key>:value'"):
            parse_selection("config:table")
        with pytest.raises(SelectionError, match=r"Use 'meta.<key>:value'"):
            parse_selection("meta:tier:gold")
        with pytest.raises(SelectionError, match="unknown selection method 'tag.color'"):
            parse_selection("tag.color:red")

    def test_errors_are_not_cached(self):
        for _ in range(2):
            with pytest.raises(SelectionError):
                parse_selection("a,,b")


# -- resolving: bare names, keys and globs -------------------------------------------------------


class TestDefaultMethod:
    def test_a_name_selects_every_key_with_that_last_component(self):
        assert select("orders") == {"marts/orders"}
        assert select("customers") == {"marts/customers", "legacy/customers"}

    def test_a_value_with_a_slash_is_the_full_key(self):
        assert select("marts/customers") == {"marts/customers"}
        assert select("/marts/customers/") == {"marts/customers"}

    def test_globs_match_names_and_key_strings(self):
        assert select("stg_*") == {"stg_orders", "stg_customers"}
        assert select("marts/*") == {"marts/orders", "marts/customers"}
        assert select("*_report") == {"analytics/revenue_report"}
        assert select("raw_[o]rders") == {"shop/raw_orders"}
        assert select("no_such_*") == set()  # a glob matching nothing is not an error

    def test_star_blank_and_none_select_everything(self):
        assert select("*") == select("") == select(None) == EVERY_KEY

    def test_result_is_a_frozenset_of_keys(self):
        result = resolve("orders", GRAPH)
        assert result == frozenset({AssetKey.parse("marts/orders")})
        assert isinstance(result, frozenset)


class TestUnknownNames:
    def test_unknown_name_is_an_error_with_a_suggestion(self):
        with pytest.raises(UnknownAssetError) as error:
            resolve("+ordres", GRAPH)
        assert str(error.value) == "No asset 'ordres' in selection '+ordres'. Did you mean 'orders'?"

    def test_unknown_full_key_suggests_a_key(self):
        with pytest.raises(UnknownAssetError) as error:
            resolve("mart/orders", GRAPH)
        assert str(error.value).endswith("Did you mean 'marts/orders'?")

    def test_unknown_name_without_close_match_has_no_suggestion(self):
        with pytest.raises(UnknownAssetError) as error:
            resolve("tag:x,zzzzzzzz", GRAPH)
        assert str(error.value) == "No asset 'zzzzzzzz' in selection 'tag:x,zzzzzzzz'."

    def test_unknown_name_in_exclude_is_an_error_too(self):
        with pytest.raises(UnknownAssetError) as error:
            resolve("*", GRAPH, exclude="wether")
        assert str(error.value) == "No asset 'wether' in exclude 'wether'. Did you mean 'weather'?"

    def test_a_method_matching_nothing_selects_nothing(self):
        assert select("tag:nothing") == set()
        assert select("+group:nothing+") == set()
        assert select("config.materialized:ephemeral") == set()

    def test_unknown_method_in_a_hand_built_tree(self):
        with pytest.raises(SelectionError, match="unknown selection method 'colour'"):
            resolve(Atom("colour", "red"), GRAPH)


# -- graph operators -----------------------------------------------------------------------------


class TestGraphOperators:
    def test_plus_before_selects_all_ancestors(self):
        assert select("+orders") == {
            "marts/orders", "stg_orders", "stg_customers", "shop/raw_orders", "shop/raw_customers"
        }

    def test_n_plus_before_limits_the_hops(self):
        assert select("1+orders") == {"marts/orders", "stg_orders", "stg_customers"}
        assert select("2+revenue_report") == {
            "analytics/revenue_report", "analytics/order_summary", "marts/orders"
        }
        assert select("0+orders") == {"marts/orders"}

    def test_plus_after_selects_descendants(self):
        assert select("stg_customers+") == {
            "stg_customers", "marts/orders", "marts/customers", "customers_export",
            "analytics/order_summary", "analytics/revenue_report",
        }
        assert select("stg_customers+1") == {"stg_customers", "marts/orders", "marts/customers"}

    def test_both_sides(self):
        assert select("1+marts/orders+1") == {
            "stg_orders", "stg_customers", "marts/orders", "analytics/order_summary"
        }

    def test_at_selects_descendants_and_their_ancestors(self):
        # marts/orders is downstream of stg_orders and also needs stg_customers: '@' brings it in.
        assert select("@stg_orders") == {
            "stg_orders", "marts/orders", "analytics/order_summary", "analytics/revenue_report",
            "shop/raw_orders", "stg_customers", "shop/raw_customers",
        }
        assert "stg_customers" not in select("+stg_orders+")

    def test_operators_apply_to_every_asset_a_method_matches(self):
        assert select("group:marts+1") == {
            "marts/orders", "marts/customers", "analytics/order_summary", "customers_export"
        }
        assert select("+tag:pii") == {"shop/raw_orders", "shop/raw_customers"}

    def test_operators_on_globs(self):
        assert select("+analytics/*") == select("+revenue_report")


# -- set algebra ---------------------------------------------------------------------------------


class TestSetAlgebra:
    def test_space_is_union(self):
        assert select("weather legacy/customers") == {"weather", "legacy/customers"}

    def test_comma_is_intersection_applied_after_each_atoms_operators(self):
        assert select("+orders,tag:pii") == {"shop/raw_orders", "shop/raw_customers"}
        assert select("group:marts,tag:nightly") == {"marts/orders"}
        assert select("+orders,group:staging,tag:nightly") == {"stg_orders"}

    def test_union_of_intersections(self):
        assert select("group:marts,tag:nightly group:analytics,owner:team:*") == {
            "marts/orders", "analytics/order_summary", "analytics/revenue_report"
        }

    def test_exclude_is_difference(self):
        assert select("+orders", exclude="tag:pii") == {"marts/orders", "stg_orders", "stg_customers"}
        assert select("*", exclude="+orders analytics/*") == {
            "marts/customers", "customers_export", "weather", "legacy/customers"
        }

    def test_blank_exclude_excludes_nothing(self):
        assert select("+orders", exclude="") == select("+orders", exclude=None) == select("+orders")

    def test_selection_and_exclude_may_be_parsed_trees(self):
        tree = parse_selection("+orders")
        expected = resolve("+orders", GRAPH, "tag:pii")
        assert resolve(tree, GRAPH, exclude=parse_selection("tag:pii")) == expected
        assert resolve(Union((Atom(None, "weather"), Atom("kind", "csv"))), GRAPH) == resolve(
            "weather kind:csv", GRAPH
        )

    def test_resolve_rejects_other_values(self):
        with pytest.raises(TypeError):
            resolve(["orders"], GRAPH)


# -- methods -------------------------------------------------------------------------------------


class TestMethods:
    def test_the_registries_are_plain_dicts(self):
        assert set(METHODS) == {
            "key", "name", "group", "kind", "owner", "tag", "path", "resource_type", "fqn", "source",
            "test_type",
        }
        assert set(DOTTED_METHODS) == {"config", "meta"}

    def test_key_is_a_glob_on_the_string_form(self):
        assert select("key:marts/orders") == {"marts/orders"}
        assert select("key:orders") == set()  # unlike a bare name, key: wants the whole key
        assert select("key:*/raw_*") == {"shop/raw_orders", "shop/raw_customers"}

    def test_name(self):
        assert select("name:customers") == {"marts/customers", "legacy/customers"}
        assert select("name:*_export") == {"customers_export"}

    def test_group(self):
        assert select("group:staging") == {"stg_orders", "stg_customers"}
        assert select("group:ana*") == {"analytics/order_summary", "analytics/revenue_report"}

    def test_kind_matches_the_kind_or_any_of_the_kinds(self):
        assert select("kind:dbt") == {"stg_orders", "stg_customers", "marts/orders", "marts/customers"}
        assert select("kind:pandas") == {"analytics/order_summary"}
        assert select("kind:postgres") == {"shop/raw_orders", "shop/raw_customers"}
        assert select("kind:external") == {"shop/raw_orders", "shop/raw_customers", "legacy/customers"}

    def test_owner(self):
        assert select("owner:alice@example.com") == {"marts/orders"}
        assert select("owner:team:*") == {
            "shop/raw_orders", "shop/raw_customers",
            "analytics/order_summary", "analytics/revenue_report",
        }

    def test_tag(self):
        assert select("tag:nightly") == {"stg_orders", "marts/orders"}
        assert select("tag:fin*") == {"marts/orders", "analytics/order_summary"}
        assert select("tag:tier=gold") == {"analytics/revenue_report"}  # mapping tags read 'key=value'

    def test_path_is_the_file_or_a_directory_above_it(self):
        assert select("path:models/staging") == {"stg_orders", "stg_customers"}
        assert select("path:models/staging/") == {"stg_orders", "stg_customers"}
        assert select("path:./models/marts") == {"marts/orders", "marts/customers"}
        assert select("path:models/staging/stg_orders.sql") == {"stg_orders"}
        assert select("path:models/stag") == set()  # whole components only
        assert select("path:examples/lakehouse") == {
            "analytics/order_summary", "analytics/revenue_report", "customers_export"
        }

    def test_path_globs_stay_within_one_directory_unless_double_star(self):
        assert select("path:models/*/stg_*.sql") == {"stg_orders", "stg_customers"}
        assert select("path:models/*/orders.sql") == set()
        assert select("path:models/**/orders.sql") == {"marts/orders"}
        assert select("path:**/stg_*.sql") == {"stg_orders", "stg_customers"}  # '**/' spans 0+ dirs
        assert select("path:models/[!s]*") == {"marts/orders", "marts/customers"}
        assert select("path:examples/*") == {
            "analytics/order_summary", "analytics/revenue_report", "customers_export", "weather"
        }
        assert select("path:*.py") == set()  # '*' does not cross '/', and no file sits at the root

    def test_resource_type(self):
        assert select("resource_type:source") == {"shop/raw_orders", "shop/raw_customers"}
        assert select("resource_type:model") == {
            "stg_orders", "stg_customers", "marts/orders", "marts/customers"
        }
        assert select("resource_type:python") == {
            "analytics/order_summary", "analytics/revenue_report", "customers_export", "weather"
        }

    def test_fqn_last_component_or_prefix(self):
        assert select("fqn:stg_orders") == {"stg_orders"}
        assert select("fqn:lakehouse.staging") == {"stg_orders", "stg_customers"}
        assert select("fqn:lakehouse.marts.core.orders") == {"marts/orders"}
        assert select("fqn:lakehouse.marts.cor") == set()  # whole parts only
        assert select("fqn:staging") == set()  # a prefix starts at the project name, as in dbt

    def test_fqn_globs(self):
        assert select("fqn:lakehouse.*.stg_*") == {"stg_orders", "stg_customers"}
        assert select("fqn:stg_*") == {"stg_orders", "stg_customers"}
        # As in dbt, from the first glob part on the rest is one glob: '*' spans the dots.
        assert select("fqn:lakehouse.*orders") == {"stg_orders", "marts/orders", "shop/raw_orders"}

    def test_python_asset_fqn_is_module_then_name(self):
        assert select(f"fqn:{__name__}") == {
            "analytics/order_summary", "analytics/revenue_report", "customers_export", "weather"
        }

    def test_config_values_compare_as_strings(self):
        assert select("config.materialized:view") == {"stg_orders", "stg_customers"}
        assert select("config.materialized:incr*") == {"marts/customers"}
        assert select("config.tags:finance") == {"marts/orders"}  # a list matches by any item
        assert select("config.contract.enforced:true") == {"marts/customers"}  # nested, bool lowered
        assert select("config.full_refresh:false") == {"marts/customers"}
        assert select("config.contract:true") == set()  # a mapping value matches nothing
        assert select("config.missing:x") == set()

    def test_meta_reads_metadata(self):
        assert select("meta.tier:gold") == {"marts/customers"}
        assert select("meta.sla.hours:6") == {"marts/customers"}
        assert select("meta.dbt_source_name:shop") == {"shop/raw_orders", "shop/raw_customers"}

    def test_source_name_or_source_dot_table(self):
        assert select("source:shop") == {"shop/raw_orders", "shop/raw_customers"}
        assert select("source:shop.raw_orders") == {"shop/raw_orders"}
        assert select("source:sh*.raw_c*") == {"shop/raw_customers"}
        assert select("source:crm") == set()
        assert select("+source:shop") == {"shop/raw_orders", "shop/raw_customers"}


# -- purity and documentation --------------------------------------------------------------------


def test_resolving_reads_only_the_graph_and_changes_nothing():
    before = (dict(GRAPH.assets), sorted(map(str, GRAPH.edges())))
    first = resolve("@stg_orders tag:x,group:y", GRAPH, exclude="weather")
    assert resolve("@stg_orders tag:x,group:y", GRAPH, exclude="weather") == first
    assert (dict(GRAPH.assets), sorted(map(str, GRAPH.edges()))) == before
    other = AssetGraph([AssetSpec("stg_orders")])
    assert resolve("@stg_orders", other) == {AssetKey.parse("stg_orders")}


def test_docstring_examples():
    assert doctest.testmod(selection_module).failed == 0


# -- a large graph -------------------------------------------------------------------------------

LAYERS, WIDTH = 100, 100


def _layered_graph() -> tuple[AssetGraph, nx.DiGraph]:
    """100 layers x 100 assets, each depending on 2 or 3 assets of the previous layer."""
    specs, edges = [], []
    for layer in range(LAYERS):
        for i in range(WIDTH):
            key = f"layer_{layer}/a_{layer}_{i}"
            offsets = (0, 1, 2) if i % 3 == 0 else (0, 1)
            parents = [] if layer == 0 else [(i + d) % WIDTH for d in offsets]
            deps = [f"layer_{layer - 1}/a_{layer - 1}_{p}" for p in parents]
            tags = ["x"] if i % 10 == 0 else []
            specs.append(AssetSpec(key, deps=deps, tags=tags, group="y" if layer % 2 == 0 else "z"))
            edges.extend((dep, key) for dep in deps)
    return AssetGraph(specs), nx.DiGraph(edges)


def test_ten_thousand_assets():
    graph, oracle = _layered_graph()
    assert len(graph) == LAYERS * WIDTH

    last = "layer_99/a_99_42"
    tagged_in_group_y = {
        f"layer_{layer}/a_{layer}_{i}" for layer in range(0, LAYERS, 2) for i in range(0, WIDTH, 10)
    }
    got = {str(k) for k in resolve("+a_99_42 tag:x,group:y", graph)}
    assert got == nx.ancestors(oracle, last) | {last} | tagged_in_group_y

    # '@mid': the descendants of mid and every ancestor of those, i.e. all ancestors of a sink
    # node that every descendant feeds (networkx as the independent oracle).
    mid = "layer_50/a_50_7"
    descendants = nx.descendants(oracle, mid) | {mid}
    with_sink = oracle.copy()
    with_sink.add_edges_from((node, "sink") for node in descendants)
    got_at = {str(k) for k in resolve(f"@{mid}", graph)}
    assert got_at == nx.ancestors(with_sink, "sink")
    assert len(got_at) < len(graph)  # some early assets feed nothing downstream of mid
