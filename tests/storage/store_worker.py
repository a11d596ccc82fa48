"""A separate OS process for the concurrency test: `python store_worker.py URL RUN_ID N BATCH`.

Waits for a line on stdin before each phase, so that workers started together act at the same moment:
1. open the (possibly brand-new) store and create its run, then print "ready";
2. append N events to its run in batches of BATCH, finish the run, print "done".
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from orchestrator.keys import AssetKey
from orchestrator.storage import Event, EventType, RunRecord, RunStatus, open_store


def events(run_id: str, n: int) -> list[Event]:
    out = []
    for i in range(n):
        if i % 10 == 0:  # materializations of keys that both workers write
            key, partition = AssetKey(("shared", f"a{i % 7}")), (None, "p")[i % 20 == 0]
            kind = EventType.MATERIALIZATION
            out.append(Event(run_id, kind, time.time(), asset_key=key, partition=partition, data={"i": i}))
        else:
            out.append(Event(run_id, EventType.LOG, time.time(), step_key="s", data={"i": i}))
    return out


def main(url: str, run_id: str, n: str, batch: str) -> None:
    todo = events(run_id, int(n))
    print("ready", flush=True)
    sys.stdin.readline()
    store = open_store(url, Path("."))
    store.create_run(RunRecord(run_id, RunStatus.STARTED, None, (), None, time.time()))
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(0, len(todo), int(batch)):
        store.append(todo[i : i + int(batch)])
    store.finish_run(run_id, RunStatus.SUCCEEDED, time.time())
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
