"""Partitions and the mappings between partitioned assets."""

from __future__ import annotations

import pyarrow as pa
import pytest

from orchestrator import (
    AllPartitionsMapping, DailyPartitions, LastPartitionMapping, MonthlyPartitions, MultiPartitions,
    StaticPartitions, TimeWindowMapping, TimeWindowPartitions, asset, materialize,
)
from orchestrator.errors import DefinitionError, PartitionError

DAYS = DailyPartitions(start="2024-01-01", end="2024-02-01")


def test_time_windows_of_every_grain_with_timezone_and_end_offset():
    assert DAYS.keys()[:2] == ["2024-01-01", "2024-01-02"] and len(DAYS.keys()) == 31
    hours = TimeWindowPartitions(start="2024-01-01", grain="hourly", end="2024-01-02", timezone="Europe/Paris")
    assert hours.keys()[1] == "2024-01-01-01:00" and len(hours.keys()) == 24
    weeks = TimeWindowPartitions(start="2024-01-01", grain="weekly", end="2024-02-01")
    assert weeks.keys() == ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]
    months = MonthlyPartitions(start="2024-01-01", end="2024-04-01", end_offset=1)
    assert months.keys() == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]


def test_an_unknown_key_suggests_the_closest():
    with pytest.raises(PartitionError, match="Did you mean '2024-01-01'"):
        StaticPartitions(["2024-01-01", "us"]).validate("2024-01-0l")


def test_two_dimensional_partitions_are_date_by_static():
    both = MultiPartitions(DailyPartitions("2024-01-01", "2024-01-03"), StaticPartitions(["us", "eu"]))
    assert both.keys() == ["2024-01-01|us", "2024-01-01|eu", "2024-01-02|us", "2024-01-02|eu"]
    assert both.keys_between("2024-01-02", "2024-01-02") == ["2024-01-02|us", "2024-01-02|eu"]
    with pytest.raises(PartitionError, match="Did you mean 'eu'"):
        both.validate("2024-01-01|eux")


def test_mappings_name_the_upstream_keys_a_partition_reads():
    assert TimeWindowMapping(-1, -1).upstream("2024-03-01", DailyPartitions("2024-01-01")) == "2024-02-29"
    assert TimeWindowMapping(-6, 0).upstream("2024-03-10", DailyPartitions("2024-01-01")) == "2024-03-04...2024-03-10"
    assert TimeWindowMapping().upstream("2024-03-10...2024-04-02", MonthlyPartitions("2024-01-01")) == "2024-03-01...2024-04-01"
    assert AllPartitionsMapping().upstream("2024-03-01", DAYS) is None
    assert LastPartitionMapping().upstream("2024-03-01", DAYS) == "2024-01-31"


@asset(partitions=DAYS)
def sales(context):
    return pa.table({"day": [context.partition_key], "amount": [int(context.partition_key[-2:])]})


@asset(partitions=DAYS, partition_mappings={"sales": TimeWindowMapping(-1, -1)})
def day_over_day(context, sales):
    return sales["day"].to_pylist()


@asset(partitions=DAYS, partition_mappings={"sales": TimeWindowMapping(-2, 0)})
def three_days(sales):
    return sales["amount"].to_pylist()


@asset
def month_total(sales):  # not partitioned: reads every partition
    return sum(sales["amount"].to_pylist())


def test_a_partition_reads_the_upstream_partitions_its_mapping_names(tmp_path):
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        materialize([sales], partition=day, home=tmp_path)
    assert materialize([sales, day_over_day], "day_over_day", partition="2024-01-03",
                       home=tmp_path).value("day_over_day") == ["2024-01-02"]
    assert materialize([sales, three_days], "three_days", partition="2024-01-03",
                       home=tmp_path).value("three_days") == [1, 2, 3]
    assert materialize([sales, month_total], "month_total", home=tmp_path).value("month_total") == 6


def test_partition_mappings_must_name_a_parameter_or_upstream_key():
    with pytest.raises(DefinitionError, match="partition_mappings name"):
        @asset(partitions=DAYS, partition_mappings={"nope": TimeWindowMapping(-1, -1)})
        def bad(sales):
            return 1
