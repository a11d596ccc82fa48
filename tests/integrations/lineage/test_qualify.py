"""Qualification skips normalizing names only when the SQL's names are lower case already."""

import pytest

from integrations.lineage.prepare import LOWERCASE_META, parse
from integrations.lineage.qualify import qualify_query
from integrations.lineage.query import column_lineage_of_sql

SCHEMA = {"orders": {"id": "int", "status": "varchar", "amount": "double"}}


@pytest.mark.parametrize("sql", [
    "select id, sum(amount) as total from orders where status = 'PAID' group by id order by id",
    "select id from orders /* Written By Hand */ qualify row_number() over (PARTITION BY status ORDER BY id) = 1",
])
def test_lower_case_names_are_marked_whatever_strings_comments_and_keywords_say(sql):
    assert parse(sql).meta.get(LOWERCASE_META) is True


@pytest.mark.parametrize("sql", ["SELECT Id FROM orders", 'select "Order Id" from orders', "select id from Orders"])
def test_a_name_with_capitals_is_not_marked(sql):
    assert LOWERCASE_META not in parse(sql).meta


def test_names_with_capitals_are_still_normalized_as_duckdb_does():
    lineage = column_lineage_of_sql("SELECT O.Id AS Order_Id, AMOUNT FROM Orders AS O", SCHEMA)
    assert lineage == {"order_id": [("orders", "id", "direct")], "amount": [("orders", "amount", "direct")]}


@pytest.mark.parametrize("sql", [
    "with a as (select * from orders) select a.id, count(*) as n from a join orders o using (id) group by 1",
    "select status, amount * 2 as doubled from (select * from orders) sub where doubled > 0",
])
def test_skipping_the_no_op_normalization_qualifies_the_same(sql):
    marked, unmarked = parse(sql), parse(sql)
    unmarked.meta.pop(LOWERCASE_META)  # so it is normalized
    assert qualify_query(marked, SCHEMA).sql() == qualify_query(unmarked, SCHEMA).sql()


def test_a_failed_parse_leaves_the_reused_tokenizer_and_parser_usable():
    from integrations.lineage.prepare import SqlLineageError

    for broken in ("select 'unterminated from orders", "select (id from orders"):
        with pytest.raises(SqlLineageError):
            parse(broken)
        assert parse("select id from orders").sql() == "SELECT id FROM orders"
