"""The public API is exactly `__all__`, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import orchestrator


def test_every_public_name_resolves() -> None:
    for name in orchestrator.__all__:
        assert getattr(orchestrator, name) is not None, name


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        orchestrator.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("orchestrator.NoSuchThing resolved")


def test_loading_definitions_imports_no_heavy_dependency() -> None:
    # Listing and selecting assets (and loading a dbt manifest) must not pay for pyarrow, duckdb
    # or SQLAlchemy; a fresh interpreter shows what `import` really pulls in.
    code = (
        "import sys, orchestrator, integrations.dbt, orchestrator.storage, orchestrator.execution.run\n"
        "print(','.join(m for m in ('pyarrow', 'duckdb', 'sqlalchemy', 'dbt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    lazy = subprocess.run([sys.executable, "-c", "import sys, orchestrator; orchestrator.open_store; "
                           "print('sqlalchemy' in sys.modules)"], capture_output=True, text=True, check=True)
    assert lazy.stdout.strip() == "True"
