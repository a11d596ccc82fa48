"""The Dagster side of automation.py; runs in benchmarks/.work/dagster-venv, prints one JSON line.

The same 10,000-asset graph, every asset `AutomationCondition.eager()`, on Dagster's standard SQLite
instance (DagsterInstance.local_temp). One materialization per asset is reported through the
instance (the rate is measured: 1M events would take hours), then ten roots get a new one, and
`evaluate_automation_conditions` is timed twice: cold (no cursor) and with the cursor of the first.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import warnings

import dagster as dg


def main() -> int:
    warnings.filterwarnings("ignore")
    spec = json.loads(open(sys.argv[1]).read())
    namespace: dict = {"dg": dg}
    assets = []
    started = time.perf_counter()
    for name, parents in spec:
        exec(f"def {name}():\n    return None\n", namespace)  # noqa: S102
        assets.append(dg.asset(namespace[name], name=name, deps=parents,
                               automation_condition=dg.AutomationCondition.eager()))
    defs = dg.Definitions(assets=assets)
    build_s = time.perf_counter() - started
    tmp = tempfile.mkdtemp()
    try:
        instance = dg.DagsterInstance.local_temp(tmp)
        started = time.perf_counter()
        for name, _ in spec:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=name))
        report_s = time.perf_counter() - started
        started = time.perf_counter()
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        cold_s = time.perf_counter() - started
        for name, parents in spec:
            if not parents and name.endswith(tuple(f"_{i:03d}" for i in range(10))):
                instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=name))
        started = time.perf_counter()
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        warm_s = time.perf_counter() - started
        print(json.dumps({"version": dg.__version__, "build_s": build_s, "events": len(spec) + 10,
                          "report_rate": len(spec) / report_s, "evaluate_s": cold_s, "evaluate_cursor_s": warm_s,
                          "requested": second.total_requested}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
