"""`orch init`: a new project from the templates in orchestrator/templates/project/, optionally
wired to an existing dbt project (found by its dbt_project.yml, its profile found as dbt finds it).

The dbt project is only read here (no dbt import): the generated definitions load it at run time.
"""

from __future__ import annotations

import keyword
import os
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from orchestrator.errors import OrchestratorError

TEMPLATES = Path(__file__).with_name("templates") / "project"
RESERVED_PACKAGES = frozenset({"orchestrator", "integrations", "tests", "examples", "dbt"})
_PROFILE = re.compile(r"""^profile:\s*['"]?([A-Za-z0-9_.-]+)""", re.M)


@dataclass(frozen=True)
class DbtWiring:
    project_dir: Path
    profile: str
    profiles_dir: Path | None
    """Where profiles.yml holding the profile was found; None: not found (one is written)."""


def package_name(name: str) -> str:
    """A Python package name for a project name: `my-shop` -> `my_shop`."""
    package = re.sub(r"\W+", "_", name.strip().lower()).strip("_")
    if not package:
        raise OrchestratorError(f"'{name}' makes no Python package name; use letters, digits and '_'.")
    if package[0].isdigit():
        package = f"p_{package}"
    if keyword.iskeyword(package) or package in RESERVED_PACKAGES:
        raise OrchestratorError(f"'{name}' would make the package '{package}', which shadows another "
                                "module; pick another name.")
    return package


def find_dbt(path: Path) -> DbtWiring:
    """The dbt project at `path` and where its profile is: the project directory, then
    $DBT_PROFILES_DIR, then ~/.dbt (dbt's own order)."""
    project_dir = path.resolve()
    project_yml = project_dir / "dbt_project.yml"
    if not project_yml.exists():
        raise OrchestratorError(f"--dbt '{path}' is not a dbt project: no dbt_project.yml in {project_dir}.")
    found = _PROFILE.search(project_yml.read_text())
    if found is None:
        raise OrchestratorError(f"'{project_yml}' names no `profile:`; dbt needs one to connect.")
    profile = found.group(1)
    candidates = [project_dir]
    if os.environ.get("DBT_PROFILES_DIR"):
        candidates.append(Path(os.environ["DBT_PROFILES_DIR"]).expanduser())
    candidates.append(Path.home() / ".dbt")
    for folder in candidates:
        profiles = folder / "profiles.yml"
        if profiles.exists() and re.search(rf"^{re.escape(profile)}\s*:", profiles.read_text(), re.M):
            return DbtWiring(project_dir, profile, folder.resolve())
    return DbtWiring(project_dir, profile, None)


def _dbt_fields(target: Path, dbt: DbtWiring | None) -> dict[str, str]:
    if dbt is None:
        return {"dbt_imports": "", "orchestrator_imports": "", "dbt_wiring": "", "dbt_assets": "",
                "dbt_resources": "", "dbt_test": "", "dbt_readme": ""}
    relative = Path(os.path.relpath(dbt.project_dir, target.resolve())).as_posix()
    if dbt.profiles_dir is None:
        profiles, where = ", profiles_dir=ROOT", f"profile '{dbt.profile}' in ./profiles.yml (written by orch init)"
    elif dbt.profiles_dir == dbt.project_dir:
        profiles, where = "", f"profile '{dbt.profile}' in its profiles.yml"
    else:
        profiles, where = f", profiles_dir={str(dbt.profiles_dir)!r}", f"profile '{dbt.profile}' in {dbt.profiles_dir}"
    wiring = (
        f"\n# The dbt project at {relative}, in the same graph as the Python assets;\n# {where}.\n"
        f"# Its manifest is re-parsed by itself when a project file changes (`orch dbt parse` forces it).\n"
        f'dbt_project = DbtProject(ROOT / "{relative}"{profiles})\n'
        "# A dbt-duckdb profile's warehouse file: Python assets with io_manager=\"warehouse\" write the\n"
        "# tables dbt reads as sources, and read the models dbt builds.\n"
        "WAREHOUSE = duckdb_path(dbt_project)\n"
    )
    test = (
        "\n\ndef test_the_dbt_project_is_in_the_graph():\n"
        "    dbt = [a for a in defs.assets if a.kind == \"dbt\"]\n"
        "    assert dbt, \"no dbt asset in the definitions\"\n"
        "    assert defs.graph  # one graph: dbt and Python assets validated together\n"
    )
    return {
        "dbt_imports": "from integrations.dbt import DbtProject, dbt_assets, duckdb_path\n",
        "orchestrator_imports": ", DuckDBIOManager",
        "dbt_wiring": wiring,
        "dbt_assets": ", *dbt_assets(dbt_project)",
        "dbt_resources": ',\n               **({"warehouse": DuckDBIOManager(WAREHOUSE)} if WAREHOUSE else {})',
        "dbt_test": test,
        "dbt_readme": "\norch dbt parse               # re-parse the dbt project (automatic when a file changes)",
        # a written profile's default warehouse: this project's .orch/, from the dbt project (where
        # relative DuckDB paths start)
        "home_from_dbt": Path(os.path.relpath(target.resolve() / ".orch", dbt.project_dir)).as_posix(),
    }


def init_project(target: Path, dbt_path: Path | None = None) -> list[Path]:
    """Write a new project into `target` (which must be absent or empty); returns the files."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OrchestratorError(f"'{target}' already exists and is not empty; pick another name or "
                                "remove it.")
    package = package_name(target.resolve().name)
    dbt = find_dbt(dbt_path) if dbt_path is not None else None
    fields = {"name": target.resolve().name, "package": package,
              "profile": dbt.profile if dbt else "", **_dbt_fields(target, dbt)}
    layout = {
        "pyproject.toml": "pyproject.toml.tmpl",
        ".gitignore": "gitignore.tmpl",
        "README.md": "README.md.tmpl",
        f"{package}/__init__.py": "__init__.py.tmpl",
        f"{package}/assets.py": "assets.py.tmpl",
        f"{package}/definitions.py": "definitions.py.tmpl",
        "tests/test_assets.py": "test_assets.py.tmpl",
    }
    if dbt is not None and dbt.profiles_dir is None:
        layout["profiles.yml"] = "profiles.yml.tmpl"
    written = []
    for relative, template in layout.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template((TEMPLATES / template).read_text()).substitute(fields))
        written.append(path)
    return written
