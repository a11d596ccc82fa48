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

from orchestrator import materialize
from orchestrator.definitions import Definitions, load_definitions
from orchestrator.execution.backfill import create_backfill, run_backfill
from orchestrator.storage.base import EventStore
from orchestrator.storage.open import open_store
from orchestrator.web.app import create_app
from tests.conftest import FIXTURES
from tests.web.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-unsafe-swiftshader"]  # WebGL (the graph) through SwiftShader, without a GPU
SHOTS = Path(os.environ.get("ORCH_UI_SCREENSHOTS") or REPO / "test-artifacts" / "ui")
WAIT = 20_000  # ms


@dataclass
class Demo:
    defs: Definitions
    store: EventStore
    home: Path
    url: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("web_demo")
    project = base / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    home = base / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as env:  # module-wide, undone at the end
        env.setenv("LAKEHOUSE_DBT_PROJECT", str(project))
        env.setenv("ORCH_HOME", str(home))
        env.setenv("ORCH_WAREHOUSE_PATH", str(home / "warehouse.duckdb"))
        env.setenv("WEB_SLOW_SECONDS", "0.5")
        defs = load_definitions(str(FIXTURES / "defs" / "web_lakehouse.py"))
        store = open_store(None, home)
        assert materialize(defs, "*", exclude="revenue_digest slow_probe", store=store, home=home).success
        backfill = create_backfill(defs, store, "marts/fct_daily_revenue", None, "2024-12-01", "2024-12-07")
        run_backfill(defs, store, backfill.backfill_id, io_managers=_io(defs, home))
        with LiveServer(create_app(defs, store, home=home, token="")) as server:
            yield Demo(defs, store, home, server.url)
        store.close()


def _io(defs: Definitions, home: Path) -> dict[str, Any]:
    from orchestrator.home import default_io_managers

    return {**default_io_managers(home), **defs.io_managers}


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


def until(page: Any, expression: str, timeout: float = WAIT / 1000) -> Any:
    """Poll a JavaScript expression until it is truthy. (Playwright's wait_for_function evaluates
    strings with eval, which the UI's Content-Security-Policy forbids, as it should.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        page.wait_for_timeout(50)


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


def test_a_runs_events_arrive_live_on_its_page(page: Any, demo: Demo) -> None:
    page.goto("/runs")
    page.locator("table.table").wait_for()
    done: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: done.update(result=materialize(
        demo.defs, "slow_probe", store=demo.store, home=demo.home)))
    worker.start()
    try:
        page.locator("tbody tr").first.locator(".state-started").wait_for()  # the list shows it start, live
        page.locator("tbody tr").first.get_by_role("link").click()
        page.locator(".live-dot").wait_for()
        until(page, "document.querySelectorAll('.log-row.level-info .log-text').length > 0 && "
                               "[...document.querySelectorAll('.log-text')].some(e => e.textContent.startsWith('probing'))")
        probes_while_running = page.evaluate(
            "[...document.querySelectorAll('.log-text')].filter(e => e.textContent.startsWith('probing')).length")
        assert probes_while_running < 6  # the page shows steps before the run has done them all
        shot(page, "11_run_live")
        until(page, "[...document.querySelectorAll('.log-text')].filter("
                               "e => e.textContent.startsWith('probing')).length === 6")
        page.locator("h1 .state-succeeded").wait_for()
    finally:
        worker.join()
    assert done["result"].success
    shot(page, "12_run_done", height=1500)
    page.goto("/runs")
    page.locator("tbody tr").first.wait_for()
    shot(page, "13_runs")


def test_the_backfill_page_shows_chunks_and_partitions(page: Any, demo: Demo) -> None:
    page.goto("/backfills")
    page.locator("tbody tr").first.get_by_role("link").click()
    page.locator(".health-bar").first.wait_for()
    assert page.locator("tbody tr").count() >= 1
    shot(page, "14_backfill")
