"""CLI output never misleads: text is shown as written, empty selections and stray options are
errors, credentials are masked, summaries say what ran."""

from __future__ import annotations

import json

from click.testing import CliRunner

from orchestrator.cli import main
from tests.conftest import FIXTURES

BRACKETS = str(FIXTURES / "defs" / "brackets.py")


def _orch(tmp_path, *args: str, defs: str = BRACKETS):
    return CliRunner().invoke(main, ["--defs", defs, "--home", str(tmp_path / "home"), *args])


def test_bracketed_user_text_is_shown_as_written(tmp_path):
    failed = _orch(tmp_path, "materialize")
    assert failed.exit_code == 1
    assert "missing key in [tool.x] of pyproject.toml" in failed.output
    listed = _orch(tmp_path, "assets", "list")
    assert "[ops]" in listed.output and "[nightly]" in listed.output
    shown = _orch(tmp_path, "runs", "show", json.loads(_orch(tmp_path, "runs", "list", "--json").output)[0]["run_id"])
    assert "[tool.x]" in shown.output


def test_the_no_definitions_hint_keeps_its_brackets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORCH_DEFS", raising=False)
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "assets", "list"])
    assert result.exit_code == 2
    assert '`[tool.orchestrator] defs = "..."`' in result.output


def test_a_user_error_message_with_brackets_is_shown_whole(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('set [tool.x] first')\n")
    result = _orch(tmp_path, "assets", "list", defs=str(bad))
    assert result.exit_code == 2 and "ValueError: set [tool.x] first" in result.output


SHOP = str(FIXTURES / "defs" / "shop.py")


def test_an_empty_selection_is_an_error_and_records_no_run(tmp_path):
    result = _orch(tmp_path, "materialize", "--select", "tag:nope", defs=SHOP)
    assert result.exit_code == 2
    assert "Selection 'tag:nope' matches no asset: 'tag:nope' matched nothing." in result.output
    assert "Known tags: finance, slow." in result.output
    misspelt = _orch(tmp_path, "materialize", "--select", "group:mart", defs=SHOP)
    assert misspelt.exit_code == 2 and "Did you mean 'group:marts'?" in misspelt.output
    excluded = _orch(tmp_path, "materialize", "--select", "orders", "--exclude", "group:raw", defs=SHOP)
    assert excluded.exit_code == 2 and "--exclude 'group:raw' leaves nothing" in excluded.output
    assert json.loads(_orch(tmp_path, "runs", "list", "--json", defs=SHOP).output) == []


TENANTS = str(FIXTURES / "defs" / "tenants.py")


def test_partition_given_to_unpartitioned_assets_is_an_error(tmp_path):
    result = _orch(tmp_path, "materialize", "--select", "orders", "--partition", "2024-01-01", defs=SHOP)
    assert result.exit_code == 2
    assert "--partition '2024-01-01' was given, but none of the selected assets is partitioned (orders)" \
        in result.output
    assert json.loads(_orch(tmp_path, "runs", "list", "--json", defs=SHOP).output) == []


def test_partitions_add_checks_the_name_and_remove_says_what_it_removed(tmp_path):
    typo = _orch(tmp_path, "partitions", "add", "tenant", "acme", defs=TENANTS)
    assert typo.exit_code == 2
    assert "No asset uses dynamic partitions 'tenant'. Did you mean 'tenants'?" in typo.output
    assert json.loads(_orch(tmp_path, "partitions", "list", "tenant", "--json", defs=TENANTS).output) == []
    assert "added 2 of 2" in _orch(tmp_path, "partitions", "add", "tenants", "acme", "globex", defs=TENANTS).output
    removed = _orch(tmp_path, "partitions", "remove", "tenants", "globex", "initech", defs=TENANTS)
    assert removed.exit_code == 0
    assert "tenants: removed 1 of 2 keys (globex); not there: initech (1 left)" in removed.output
    gone = _orch(tmp_path, "partitions", "remove", "tenant", "acme", defs=TENANTS)
    assert gone.exit_code == 2 and "Did you mean 'tenants'?" in gone.output


def test_every_credential_form_in_a_store_url_is_masked(tmp_path):
    for url in ("postgresql://admin:s3cret-pw@127.0.0.1:1/orch",
                "postgresql://admin:s3cret@pw@127.0.0.1:1/orch",            # an unescaped '@'
                "postgresql://admin@127.0.0.1:1/orch?password=s3cret-pw",
                "postgresql://admin@127.0.0.1:1/orch?sslmode=disable&password=s3cret-pw&x=1"):
        result = CliRunner().invoke(main, ["--defs", SHOP, "--home", str(tmp_path), "--storage", url,
                                           "runs", "list"])
        assert result.exit_code == 2, result.output
        assert "127.0.0.1:1" in result.output and "s3cret" not in result.output and "pw" not in \
            result.output.replace("postgresql", ""), result.output


def test_masking_covers_urls_and_key_value_pairs():
    from orchestrator.secrets import mask_text, mask_url

    assert mask_url("sqlite:////data/with@sign/orch.db") == "sqlite:////data/with@sign/orch.db"
    assert mask_url("https://host/catalog?token=abc&warehouse=s3://b") == \
        "https://host/catalog?token=***&warehouse=s3://b"
    assert mask_text("connect failed: host=db user=orch password='x y' port=5432") == \
        "connect failed: host=db user=orch password=*** port=5432"
    assert mask_text("see postgresql://u:p@w@h/db and rest://h/?api_key=k") == \
        "see postgresql://u:***@h/db and rest://h/?api_key=***"


def test_a_password_with_an_unescaped_at_sign_connects_as_meant(postgres_url, tmp_path):
    # The local server trusts 127.0.0.1, so any password works: what matters is that the host is
    # 127.0.0.1, not 'pw@127.0.0.1'.
    url = postgres_url.replace("postgres@", "postgres:s3cret@pw@", 1)
    assert url.count("@") == 2
    result = CliRunner().invoke(main, ["--defs", SHOP, "--home", str(tmp_path), "--storage", url,
                                       "runs", "list", "--json"])
    assert result.exit_code == 0, result.output


def test_global_options_work_after_the_subcommand(tmp_path, storage_url):
    home = str(tmp_path / "home")
    after = CliRunner().invoke(main, ["materialize", "--select", "orders", "--defs", SHOP, "--home", home,
                                      f"--storage={storage_url}", "--json"])
    assert after.exit_code == 0, after.output
    run_id = json.loads(after.output)["run_id"]
    listed = CliRunner().invoke(main, ["runs", "list", "--json", "--storage", storage_url, "--home", home])
    assert [r["run_id"] for r in json.loads(listed.output)] == [run_id]
    from orchestrator.cli import hoist_global_options

    assert hoist_global_options(["runs", "show", "ID", "--home=h"]) == ["--home=h", "runs", "show", "ID"]
    assert hoist_global_options(["dbt", "--", "--defs", "x"]) == ["dbt", "--", "--defs", "x"]


def test_errors_name_the_definitions_file_not_an_internal_module(tmp_path):
    defs = tmp_path / "misspelled.py"
    defs.write_text("from orchestrator import Definitions, asset\n\n"
                    "@asset\ndef orders():\n    return 1\n\n"
                    "@asset\ndef revenue(ordres):\n    return ordres\n\n"
                    "defs = Definitions(assets=[orders, revenue])\n")
    result = _orch(tmp_path, "assets", "list", defs=str(defs))
    assert result.exit_code == 2
    assert f"misspelled.revenue ({defs}:7)) depends on 'ordres'" in result.output
    assert "_orch_defs" not in result.output and "Did you mean 'orders'?" in result.output


def test_runs_list_shows_the_selection_as_typed_and_the_partition(tmp_path):
    _orch(tmp_path, "materialize", "--exclude", "group:broken tag:slow", defs=SHOP)
    _orch(tmp_path, "materialize", "--select", "+group:marts", "--exclude", "tag:slow", defs=SHOP)
    daily = str(FIXTURES / "defs" / "daily.py")
    assert _orch(tmp_path, "materialize", "--select", "+sales", "--partition", "2024-03-02",
                 defs=daily).exit_code == 0
    listed = _orch(tmp_path, "runs", "list", defs=SHOP).output
    assert "* --exclude group:broken tag:slow" in listed
    assert "+group:marts --exclude tag:slow" in listed
    assert "2024-03-02" in listed
    rows = json.loads(_orch(tmp_path, "runs", "list", "--json", defs=SHOP).output)
    assert [(r["selection"], r["exclude"], r["partition"]) for r in rows] == [
        ("+sales", None, "2024-03-02"), ("+group:marts", "tag:slow", None), (None, "group:broken tag:slow", None)]
    shown = _orch(tmp_path, "runs", "show", rows[1]["run_id"], defs=SHOP).output
    assert "selection +group:marts --exclude tag:slow)" in shown


def test_the_materialize_summary_counts_checks_and_times_steps(tmp_path):
    out = _orch(tmp_path, "materialize", "--select", "+group:marts", "--exclude", "tag:slow", defs=SHOP).output
    assert "Checks: 1 passed, 0 warned, 0 failed" in out
    assert "Steps: 3; slowest: " in out and "revenue_by_customer" in out.split("Steps:")[1]
    summary = json.loads(_orch(tmp_path, "materialize", "--select", "+group:marts", "--exclude", "tag:slow",
                               "--json", defs=SHOP).output)
    assert summary["checks"] == {"passed": 1, "warned": 0, "failed": 0, "failed_checks": [], "warned_checks": []}
    assert {s["step"] for s in summary["steps"]} == {"orders", "customers", "revenue_by_customer"}
    assert all(s["seconds"] >= 0 for s in summary["steps"])
