"""Headless Chromium for benchmarks/ui.py (and the flags and polling tests/web/test_browser.py shares):
a UI server in a thread, the graph page's timings (ours and Dagster's), and the live-event latency of
a run page."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"  # Debian's (apt-get install -y chromium); Playwright's download is not used
# the flags that work here; the last one lets WebGL (the graph) run in software (SwiftShader) without a GPU
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-unsafe-swiftshader"]
VIEWPORT = {"width": 1440, "height": 900}
SHOTS = Path(__file__).resolve().parent / ".work"  # git-ignored


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` on a free port (uvicorn in a thread, as `orch ui` serves it); yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the UI server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def until(page: Any, expression: str, timeout: float, required: bool = True) -> Any:
    """Poll a JavaScript expression until it is truthy; its value, or (not `required`) None after
    `timeout` seconds. (Playwright's wait_for_function evaluates strings with eval, which the UI's
    Content-Security-Policy forbids, as it should; page.evaluate is not subject to it.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            if required:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for: {expression}")
            return None
        page.wait_for_timeout(20)


ZOOM = """() => new Promise(resolve => {
  const r = window.__orchGraph.renderer;
  r.once('afterRender', () => resolve(performance.now()));
  r.getCamera().setState({ ratio: r.getCamera().ratio / 2 });
})"""


def our_graph_page(browser: Any, url: str) -> dict[str, float]:
    """ms from navigation start: the graph drawn (sigma's first render), and drawn again after a zoom.
    A fresh browser context: nothing cached."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(url + "/graph", wait_until="commit")
        until(page, "window.__orchGraph && window.__orchGraph.drawnAt", 60)
        drawn = page.evaluate("window.__orchGraph.drawnAt")
        zoomed = page.evaluate(ZOOM)
        nodes = page.evaluate("window.__orchGraph.nodes")
        return {"drawn_ms": drawn, "zoomed_ms": zoomed, "nodes": nodes}
    finally:
        context.close()


DAGSTER_NODES = "document.querySelectorAll('svg foreignObject').length"
# where the first drawn node is on screen: a zoom moves or scales it
DAGSTER_TRANSFORM = "JSON.stringify((document.querySelector('svg foreignObject') || document.body).getBoundingClientRect())"


def dagster_graph_page(browser: Any, url: str, timeout: float) -> dict[str, Any]:
    """Dagster's global asset lineage page (/asset-groups), in ms from navigation: its first drawing
    (it collapses large graphs into one box per group), then every asset drawn: "Expand all groups"
    (Alt+E), "Show anyway" when it warns the graph is large; then a wheel zoom. Given up at `timeout`
    seconds from navigation. Its welcome dialog is skipped when it shows."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    started = time.monotonic()
    left = lambda: max(0.5, timeout - (time.monotonic() - started))  # noqa: E731
    found: dict[str, Any] = {"first_drawn_ms": None, "drawn_ms": None, "zoomed_ms": None,
                             "clicked_show_anyway": False, "nodes_drawn": 0}

    def dismiss() -> None:
        skip = page.get_by_role("button", name="Skip")
        if skip.count():
            skip.first.click()

    try:
        page.goto(url + "/asset-groups", wait_until="commit", timeout=timeout * 1000)
        if until(page, DAGSTER_NODES, left(), required=False) is None:
            return found
        found["first_drawn_ms"] = page.evaluate("performance.now()")
        found["groups_drawn"] = page.evaluate(DAGSTER_NODES)
        dismiss()
        page.wait_for_timeout(300)
        page.locator("body").press("Alt+KeyE")  # Expand all groups (its keyboard shortcut)
        while time.monotonic() - started < timeout:
            count = page.evaluate(DAGSTER_NODES)
            if count > 2 * found["groups_drawn"] + 10:
                found["drawn_ms"] = page.evaluate("performance.now()")
                found["nodes_drawn"] = count
                break
            button = page.get_by_role("button", name="Show anyway")
            if button.count():
                button.first.click()
                found["clicked_show_anyway"] = True
            dismiss()
            page.wait_for_timeout(100)
        if found["drawn_ms"] is None:
            found["nodes_drawn"] = page.evaluate(DAGSTER_NODES)
            found["url_at_timeout"] = page.url
            found["screenshot"] = str(SHOTS / "dagster_graph_at_timeout.png")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=found["screenshot"])
            return found
        before = page.evaluate(DAGSTER_TRANSFORM)
        box = page.viewport_size
        page.mouse.move(box["width"] * 0.6, box["height"] * 0.6)
        page.mouse.wheel(0, -400)
        if until(page, f"{DAGSTER_TRANSFORM} !== {json.dumps(before)}", left(), required=False):
            found["zoomed_ms"] = page.evaluate("performance.now()")
        return found
    finally:
        context.close()


@contextmanager
def dagster_webserver(python: Path, defs_file: Path, env: dict[str, str], home: Path,
                      timeout: float = 600.0) -> Iterator[tuple[str, float]]:
    """`dagster-webserver -f defs_file` from the Dagster venv; yields its URL and the seconds until its
    code location answered."""
    import httpx

    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    # a 10,000-model manifest takes Dagster minutes to load on a busy machine: past its 180 s default
    (home / "dagster.yaml").write_text(f"code_servers:\n  local_startup_timeout: {int(timeout)}\n"
                                       "telemetry:\n  enabled: false\n")
    command = [str(python.parent / "dagster-webserver"), "-f", str(defs_file), "-h", "127.0.0.1", "-p", str(port)]
    log = open(home / "webserver.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env={**env, "DAGSTER_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    query = {"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                      "locationOrLoadError { __typename ... on PythonError { message } } } } } }"}
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dagster-webserver exited: see {home / 'webserver.log'}")
            try:
                answer = httpx.post(url + "/graphql", json=query, timeout=30).json()
                entries = answer["data"]["workspaceOrError"]["locationEntries"]
                loaded = [e["locationOrLoadError"] for e in entries if e["loadStatus"] == "LOADED"]
                failed = [x for x in loaded if x and x["__typename"] == "PythonError"]
                if failed:
                    raise RuntimeError(f"Dagster's code location failed to load: {failed[0]['message'][:500]}")
                if loaded:
                    break
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"dagster-webserver did not load its code location in {timeout:.0f} s")
            time.sleep(0.5)
        yield url, time.monotonic() - t0
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def live_latency(browser: Any, url: str, store: Any, run_id: str, count: int = 200,
                 seed: int = 0) -> list[float]:
    """Seconds from an event's commit to the store to its row appearing on the run page, per event."""
    from orchestrator.storage.events import Event, EventType

    rng = random.Random(seed)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(f"{url}/runs/{run_id}")
        until(page, "document.querySelector('.live-dot')", 30)
        page.wait_for_timeout(1500)  # the stream is open
        committed: dict[int, float] = {}
        for i in range(count):
            store.append([Event(run_id, EventType.LOG, time.time(), message=f"tick {i}", data={"level": "info"})])
            stamp = time.time()  # committed: from now on a reader sees it
            for event in store.events_after(max(committed, default=0), run_id=run_id, limit=10):
                committed.setdefault(event.id, stamp)
            time.sleep(rng.uniform(0.01, 0.06))
        page.wait_for_timeout(2000)
        arrivals = {int(i): at for i, at in page.evaluate("window.__orchArrivals || []")}
        return [arrivals[i] - at for i, at in committed.items() if i in arrivals]
    finally:
        context.close()
