"""Turn dbt's per-node results into orchestrator events, as each node finishes.

Both backends feed the same handler: in-process callbacks and `--log-format json` lines carry
the same `NodeFinished` payload (`node_info` + `run_result`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from integrations.dbt.manifest import DbtNodes
from orchestrator.execution.context import BatchContext
from orchestrator.keys import AssetKey
from orchestrator.storage.events import EventType

NODE_FINISHED = "NodeFinished"
NODE_LOG_LINES = frozenset({"LogStartLine", "LogModelResult", "LogTestResult", "LogSeedResult",
                            "LogSnapshotResult", "LogHookStartLine", "LogHookEndLine"})
"""dbt's console lines about each node (`1 of 5 START ...`, `1 of 5 OK created ...`): kept as logs."""
LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "warning": "warning", "error": "error"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # dbt colours its console lines


def keeps_log(name: str, level: str) -> bool:
    """The dbt log lines the run's event log keeps: each node's start and result, every warning and error."""
    return name in NODE_LOG_LINES or level in ("warn", "warning", "error")
MODEL_OK = {"success"}
TEST_PASSED = {"pass", "warn"}


class NodeResultHandler:
    """Reports each finished dbt node to the step's BatchContext exactly once."""

    def __init__(self, context: BatchContext, nodes: DbtNodes) -> None:
        self.context = context
        self.nodes = nodes
        self.wanted = set(context.assets)
        self.reported: set[str] = set()
        self.failed_unit_tests: dict[Any, list[str]] = {}
        """asset -> its unit tests that failed: dbt then skips the model, and says 'upstream'."""
        self.failures: dict[AssetKey, str] = {}
        """Why each asset that failed (or whose blocking test failed) in this invocation did."""
        self._lock = threading.Lock()

    def on_event(self, name: str, data: Mapping[str, Any]) -> None:
        if name == NODE_FINISHED:
            self.node_finished(data.get("node_info") or {}, data.get("run_result") or {})

    def log_line(self, name: str, level: str, message: str, unique_id: str | None) -> None:
        """One of dbt's log lines (see keeps_log), as a LOG event of the node's asset."""
        if not message or not keeps_log(name, level):
            return
        key = self.nodes.key_of.get(unique_id or "")
        check = self.nodes.check_of.get(unique_id or "")
        self.context.event(EventType.LOG, key or (check.asset if check else None), ANSI.sub("", message),
                           level=LEVELS.get(level, "info"), source="dbt", dbt_event=name)

    def node_finished(self, node_info: Mapping[str, Any], run_result: Mapping[str, Any]) -> None:
        uid = node_info.get("unique_id") or ""
        with self._lock:
            if uid in self.reported:
                return
            self.reported.add(uid)
        status = str(run_result.get("status") or node_info.get("node_status") or "").lower()
        message = run_result.get("message") or ""
        timing = {"execution_time": round(float(run_result.get("execution_time") or 0.0), 4)}
        if uid.startswith("test.") or uid.startswith("unit_test."):
            self._test_finished(uid, status, message, run_result, timing)
            return
        key = self.nodes.key_of.get(uid)
        if key is None or key not in self.wanted:
            return
        if status not in MODEL_OK and self.context.cancel.is_set():  # dbt's interrupted queries
            self.context.canceled(key)
        elif status in MODEL_OK:
            relation = (node_info.get("node_relation") or {}).get("relation_name")
            response = run_result.get("adapter_response") or {}
            metadata = {**timing, "dbt_unique_id": uid, "message": message}
            if relation:
                metadata["relation_name"] = relation
            if response.get("rows_affected") is not None:
                metadata["rows_affected"] = int(response["rows_affected"])
            self.context.succeeded(key, **metadata)
        elif status == "skipped":
            units = self.failed_unit_tests.get(key)
            cause = f"its unit test {'; '.join(units)}" if units else self._skip_cause(key, message)
            self.context.skipped(key, f"dbt skipped '{key}' because {cause}")
        else:
            cause = f"dbt {status} in '{key}': {message}".rstrip(": ")
            self.failures[key] = cause
            self.context.failed(key, cause)

    def _skip_cause(self, key: AssetKey, message: str) -> str:
        """The nearest upstream failure of this invocation that made dbt skip `key`, as Python skips
        name theirs; dbt's own message when none is known."""
        seen: set[AssetKey] = set()
        frontier = [dep.key for dep in self.nodes.deps_of.get(key, ())]
        while frontier:
            for parent in frontier:
                if parent in self.failures:
                    return self.failures[parent]
            seen.update(frontier)
            frontier = [dep.key for parent in frontier for dep in self.nodes.deps_of.get(parent, ())
                        if dep.key not in seen]
        return message or "an upstream node failed or was skipped (see the dbt log)"

    def _test_finished(self, uid: str, status: str, message: str, run_result: Mapping[str, Any],
                       timing: dict[str, Any]) -> None:
        check = self.nodes.check_of.get(uid)
        if check is None:
            return
        passed = status in TEST_PASSED
        metadata = {**timing, "status": status, "dbt_unique_id": uid,
                    "test_type": check.metadata.get("test_type")}
        if run_result.get("num_failures") is not None:
            metadata["failures"] = int(run_result["num_failures"])
        if message:
            metadata["message"] = message
        if status == "skipped":
            self.context.event(EventType.LOG, check.asset, f"dbt skipped test {check.name}: {message}")
            return
        if not passed and check.metadata.get("test_type") == "unit":
            detail = " ".join(message.split())[:300]
            self.failed_unit_tests.setdefault(check.asset, []).append(
                f"'{check.name}' failed" + (f": {detail}" if detail else ""))
        elif not passed and check.blocking:
            self.failures.setdefault(check.asset, f"test '{check.name}' on '{check.asset}' {status}"
                                     + (f": {message}" if message else ""))
        self.context.check(check.asset, check.name, passed, check.blocking, **metadata)
