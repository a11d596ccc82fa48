"""A real Dask LocalCluster (2 worker processes, 1 thread each) shared by the Dask tests, with Dask's
config, temporary and local directories in a temporary folder (not /tmp and $HOME)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import Definitions, load_definitions
from tests.conftest import FIXTURES

STEPS = FIXTURES / "defs" / "dask_steps.py"


@pytest.fixture(scope="session")
def dask_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("dask")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DASK_CONFIG", str(root / "config"))
        env.setenv("DASK_TEMPORARY_DIRECTORY", str(root / "tmp"))
        import dask

        dask.config.refresh()
        yield root


@pytest.fixture(scope="session")
def cluster(dask_dirs: Path) -> Iterator[str]:
    """The scheduler address of a 2-worker LocalCluster, as DaskExecutor() starts one for a run."""
    from orchestrator.execution.executors.dask import DaskExecutor, close_cluster

    client, local = DaskExecutor(n_workers=2, local_directory=str(dask_dirs / "local")).connect()
    assert local is not None
    try:
        yield local.scheduler_address
    finally:
        client.close()
        close_cluster(local)


@pytest.fixture(scope="session")
def steps() -> Definitions:
    return load_definitions(str(STEPS))


def worker_addresses(address: str) -> set[str]:
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        return set(client.scheduler_info(n_workers=-1)["workers"])


def worker_pids(address: str) -> set[int]:
    import os

    from distributed import Client

    with Client(address, set_as_default=False) as client:
        return set(client.run(os.getpid).values())
