"""The notebooks in notebooks/ run from a clean kernel, top to bottom, on a copy of the repository
in a temporary folder, with ORCH_HOME, HOME and every Jupyter, IPython and matplotlib folder pointed
at temporary dirs: nothing is written outside them. Their values show as pandas tables and plots."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
REAL_HOME = Path.home()  # before any test points HOME elsewhere
USER_DIRS = [REAL_HOME / d for d in (".jupyter", ".ipython", ".local/share/jupyter", ".cache/matplotlib",
                                     ".config/matplotlib")]


def _user_files() -> set[Path]:
    return {p for d in USER_DIRS if d.exists() for p in d.rglob("*")}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """The parts of the repository the notebooks use, copied (the dbt project without its target)."""
    root = tmp_path_factory.mktemp("repo")
    for part in ("examples", "dbt_project", "notebooks"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("target", "logs", "__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> Path:
    dirs = {"HOME": "home", "ORCH_HOME": "orch_home", "JUPYTER_CONFIG_DIR": "jupyter/config",
            "JUPYTER_DATA_DIR": "jupyter/data", "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
            "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "matplotlib"}
    for variable, folder in dirs.items():
        (tmp_path / folder).mkdir(parents=True)
        monkeypatch.setenv(variable, str(tmp_path / folder))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    for variable in ("ORCH_DEFS", "ORCH_STORAGE_URL", "ORCH_WAREHOUSE_PATH"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def _files(root: Path) -> set[Path]:
    """Everything under root but dbt's own target/ and logs/ (what dbt writes, ignored by git)."""
    dbt = root / "dbt_project"
    return {p for p in root.rglob("*") if not p.is_relative_to(dbt / "target") and not p.is_relative_to(dbt / "logs")}


def _outputs(nb, kind: str) -> list[str]:
    return [o["data"][kind] for cell in nb.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if kind in o.get("data", {})]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_notebook_runs_and_shows_tables_and_plots(name, workspace, isolated):
    path = workspace / "notebooks" / name
    before, user_before = _files(workspace), _user_files()
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for cell in nb.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any("<table" in html for html in _outputs(nb, "text/html")), "no pandas table shown"
    assert _outputs(nb, "image/png"), "no plot shown"
    written = _files(workspace) - before
    assert not written, f"the notebook wrote into the project: {sorted(map(str, written))[:5]}"
    assert _user_files() == user_before, "Jupyter wrote into the real home"


def test_the_notebooks_are_stored_without_outputs():
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), name
    assert set(NOTEBOOKS) == {"quickstart.ipynb", "explore_lineage.ipynb", "backfill_walkthrough.ipynb"}
