"""A benchmark-owned virtualenv for a reference tool (Dagster), created on first use and reused.

The reference never enters the project's own environment: it lives under `benchmarks/.work/`
(git-ignored) and runs as a child process that prints JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"


def _python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def installed_version(env_dir: Path, module: str) -> str | None:
    """The `__version__` of `module` inside the venv, or None when the venv or module is missing."""
    python = _python(env_dir)
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", f"import json, {module}; print(json.dumps({module}.__version__))"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None
    return json.loads(probe.stdout.strip().splitlines()[-1])


def ensure_venv(name: str, requirement: str | Sequence[str], module: str, version: str) -> Path:
    """The python of `benchmarks/.work/<name>`, with `requirement` (one or several) installed; built
    when missing.

    Reused as is when `module.__version__ == version`; otherwise (re)installed with pip.
    """
    env_dir = WORK / name
    if installed_version(env_dir, module) == version:
        return _python(env_dir)
    if not _python(env_dir).exists():
        print(f"[setup] creating {env_dir} (first run only) ...", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(env_dir)
    requirements = [requirement] if isinstance(requirement, str) else list(requirement)
    print(f"[setup] pip install {' '.join(requirements)} into {env_dir} (a few minutes) ...",
          file=sys.stderr, flush=True)
    subprocess.run(
        [str(_python(env_dir)), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         *requirements],
        check=True,
    )
    found = installed_version(env_dir, module)
    if found != version:
        raise RuntimeError(f"{env_dir}: expected {module} {version} after install, found {found}")
    return _python(env_dir)
