"""The UI in a real headless Chromium over the demo lakehouse (real dbt, DuckDB, Iceberg): catalog ->
graph -> asset -> column lineage -> a run whose events arrive live, plus the runs and backfill pages.

One browser and one page for the whole module. Screenshots of every page go to $ORCH_UI_SCREENSHOTS
(default: test-artifacts/ui/ at the repository root; git-ignored).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks._ui_browser import CHROMIUM as CHROMIUM_PATH, FLAGS, until as wait_until
from orchestrator import materialize
from orchestrator.automation.automation_tick import run_automation
from orchestrator.automation.daemon import Daemon, DaemonOptions
from orchestrator.automation.ticking import tick_schedule_at, tick_sensor
from orchestrator.definitions import Definitions
from orchestrator.storage.base import EventStore
from orchestrator.web.server import app_for
from orchestrator.workspace import Workspace
from tests.conftest import FIXTURES
from tests.web.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(CHROMIUM_PATH)
SHOTS = Path(os.environ.get("ORCH_UI_SCREENSHOTS") or REPO / "test-artifacts" / "ui")
WAIT = 30_000  # ms


@dataclass
class Demo:
    defs: Definitions
    store: EventStore
    home: Path
    url: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo materialized once, served by the UI of its workspace (as `orch dev` does) with a
    daemon executing what the pages queue, in run processes of their own (its schedules, sensors and
    automation are ticked by the tests themselves, so nothing starts behind their back)."""
    base = tmp_path_factory.mktemp("web_demo")
    project = base / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    home = base / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as env:  # module-wide, undone at the end
        env.setenv("LAKEHOUSE_DBT_PROJECT", str(project))
        env.setenv("ORCH_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
        env.setenv("WEB_SLOW_SECONDS", "0.5")
        ws = Workspace(str(FIXTURES / "defs" / "web_lakehouse.py"), str(home), None)
        assert materialize(ws.defs, "*", exclude="revenue_digest slow_probe", store=ws.store, home=home).success
        stop = threading.Event()
        daemon = threading.Thread(target=Daemon(ws, DaemonOptions(triggers=False), log=lambda _m: None).run, args=(stop,),
                                  name="orch-test-daemon", daemon=True)
        daemon.start()
        try:
            with LiveServer(app_for(ws)) as server:
                yield Demo(ws.defs, ws.store, home, server.url)
        finally:
            stop.set()
            daemon.join(30)
            ws.close()


@pytest.fixture(scope="module")
def page(demo: Demo) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (the browser tests drive /usr/bin/chromium).")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="orch-chromium-")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=FLAGS, headless=True,
            viewport={"width": 1440, "height": 900}, base_url=demo.url)
        tab = browser.new_page()
        tab.set_default_timeout(WAIT)
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.errors = errors
        yield tab
        browser.close()
    shutil.rmtree(profile, ignore_errors=True)
    assert not errors, f"JavaScript errors: {errors}"


def until(page: Any, expression: str) -> Any:
    return wait_until(page, expression, WAIT / 1000)


def shot(page: Any, name: str, height: int | None = None) -> None:
    """A screenshot of the whole page; `height` makes the window that tall first (the pages scroll
    inside their frame, so a full-page capture needs a tall window)."""
    if height:
        page.set_viewport_size({"width": 1440, "height": height})
        page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    if height:
        page.set_viewport_size({"width": 1440, "height": 900})


def test_the_catalog_lists_the_demo_and_searches(page: Any, demo: Demo) -> None:
    page.goto("/assets")
    page.get_by_role("link", name="marts/fct_orders", exact=True).wait_for()
    assert page.locator(".count-total").inner_text() == f"{len(demo.defs.graph)} of {len(demo.defs.graph)} assets"
    shot(page, "01_catalog")
    page.get_by_label("Search assets").fill("fct_")
    until(page, "document.querySelectorAll('.vrows .vrow').length === 3")
    page.get_by_label("Selection").fill("+marts/fct_orders")
    page.get_by_role("button", name="Select").click()
    until(page, "document.querySelector('.count-total').textContent.startsWith('1 of 6')")


def test_the_graph_is_drawn_and_clicks_through_to_an_asset(page: Any, demo: Demo) -> None:
    page.goto("/graph")
    until(page, "window.__orchGraph && window.__orchGraph.nodes > 0")
    assert page.evaluate("window.__orchGraph.nodes") == len(demo.defs.graph)
    shot(page, "02_graph")
    page.get_by_label("Selection").fill("+marts/fct_orders+")
    page.get_by_role("button", name="Select").click()
    until(page, "document.querySelector('.graph-info').textContent.includes('selected')")
    page.wait_for_timeout(600)  # the camera's move to the selection
    shot(page, "03_graph_selection")
    box = page.locator("#graph-canvas").bounding_box()
    at = page.evaluate("""() => { const r = window.__orchGraph.renderer;
        const a = r.getGraph().getNodeAttributes('marts/fct_orders'); return r.graphToViewport(a); }""")
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    page.wait_for_url("**/assets/marts/fct_orders")
    page.get_by_role("heading", name="fct_orders").wait_for()


def test_an_asset_page_shows_its_code_and_column_lineage(page: Any) -> None:
    page.goto("/assets/marts/fct_orders")
    page.get_by_text("Latest materialization").wait_for()
    shot(page, "04_asset_overview")
    page.get_by_role("button", name="Code").click()
    page.get_by_text("Compiled SQL").wait_for()
    assert "ref('int_order_payments')" in page.locator(".code-text").first.inner_text()
    shot(page, "05_asset_code")
    page.get_by_role("button", name="Columns & lineage").click()
    page.get_by_role("button", name="amount_paid", exact=True).click()
    page.locator(".elk-node").first.wait_for()
    boxes = page.locator(".elk-node .elk-label").all_text_contents()
    assert "raw/payments" in boxes and "revenue_forecast" in boxes  # across Python -> dbt -> Python
    assert page.locator(".elk-edge.dashed").count() > 0  # filter edges, drawn apart
    shot(page, "06_column_lineage", height=2100)
    page.get_by_role("button", name="Lineage graph").click()
    page.locator(".elk-node.focus").wait_for()
    shot(page, "07_asset_neighbourhood")


def test_history_partitions_and_checks(page: Any) -> None:
    page.goto("/assets/marts/fct_daily_revenue?tab=partitions")
    page.locator(".health-bar").wait_for()
    shot(page, "08_partitions")
    page.goto("/assets/raw/orders?tab=history")
    page.locator(".chart-svg").wait_for()
    shot(page, "09_history")
    page.goto("/assets/marts/fct_orders?tab=checks")
    page.locator(".check-strip").first.wait_for()
    shot(page, "10_checks")


def test_a_dbt_runs_page_has_its_timeline_node_results_and_dbt_log_lines(page: Any, demo: Demo) -> None:
    first = demo.store.runs_page(limit=1000)[-1]  # the demo's first run: ingest -> dbt -> Python
    page.goto(f"/runs/{first.run_id}")
    page.locator(".gantt-svg").wait_for()
    until(page, "[...document.querySelectorAll('.log-text')].some(e => / OK created /.test(e.textContent))")
    assert page.locator(".log-text", has_text="START sql").count() > 0  # dbt's own lines, per node
    assert page.locator("table.table tbody tr", has_text="marts/fct_orders").count() >= 1  # per-node results
    shot(page, "11_run_dbt", height=2400)


def test_materialize_from_the_asset_page_and_watch_the_run_live(page: Any, demo: Demo) -> None:
    page.goto("/assets/slow_probe")
    page.get_by_role("button", name="Materialize", exact=True).click()  # queued; the daemon runs it
    page.wait_for_url("**/runs/*")
    page.locator(".live-dot").wait_for()
    until(page, "[...document.querySelectorAll('.log-text')].some(e => e.textContent.startsWith('probing'))")
    probes_while_running = page.evaluate(
        "[...document.querySelectorAll('.log-text')].filter(e => e.textContent.startsWith('probing')).length")
    assert probes_while_running < 6  # the page shows steps before the run has done them all
    page.locator("h1 .state-running").wait_for()  # the header follows the run's status
    shot(page, "12_run_live")
    until(page, "[...document.querySelectorAll('.log-text')].filter(e => e.textContent.startsWith('probing')).length === 6")
    page.locator("h1 .state-succeeded").wait_for()
    run_id = page.url.rsplit("/", 1)[-1]
    run = demo.store.get_run(run_id)
    assert run.launched_by == "ui" and run.status.value == "succeeded"
    shot(page, "13_run_done", height=1500)
    page.get_by_role("button", name="Re-execute", exact=True).click()
    until(page, f"!location.pathname.endsWith('{run_id}')")
    assert demo.store.get_run(page.url.rsplit("/", 1)[-1]).parent_run_id == run_id
    page.goto("/runs")
    page.locator("tbody tr").first.wait_for()
    shot(page, "14_runs")


def test_backfill_a_range_from_the_asset_page(page: Any, demo: Demo) -> None:
    page.goto("/assets/revenue_digest")
    page.get_by_role("button", name="Materialize…").click()
    page.get_by_label("From partition").fill("2024-12-01")
    page.get_by_label("To partition").fill("2024-12-03")
    page.get_by_role("button", name="Backfill range").click()
    page.wait_for_url("**/backfills/*")
    backfill_id = page.url.rsplit("/", 1)[-1]
    deadline = time.monotonic() + 120
    while demo.store.backfills.get(backfill_id).status.value not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the backfill did not finish"
        time.sleep(0.2)
    assert demo.store.backfills.get(backfill_id).status.value == "succeeded"
    page.locator("h1 .state-succeeded").wait_for()  # the page follows the backfill live
    shot(page, "15_backfill")




def test_the_automation_page_starts_a_schedule_and_shows_ticks_and_decisions(page: Any, demo: Demo) -> None:
    import datetime as dt

    schedule = demo.defs.schedules["daily_marts_schedule"]
    tick_sensor(demo.defs, demo.store, demo.defs.sensors["late_payments"], time.time(), "test", force=True)
    run_automation(demo.defs, demo.store, time.time(), "test")
    page.goto("/automation")
    page.get_by_text("daily_marts_schedule").wait_for()
    row = page.locator("tr", has_text="daily_marts_schedule")
    row.get_by_role("button", name="Start").click()
    row.get_by_role("button", name="Stop").wait_for()
    assert demo.store.triggers.states()["daily_marts_schedule"].status == "running"
    tick_schedule_at(demo.defs, demo.store, schedule, dt.datetime.now(dt.timezone.utc))
    page.reload()
    page.locator("tr", has_text="no late payments reported").wait_for()
    page.get_by_role("button", name="Evaluate now (dry run)").click()
    page.locator(".notice").wait_for()
    shot(page, "16_automation", height=1600)
