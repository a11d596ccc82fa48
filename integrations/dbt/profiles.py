"""The dbt profile a project runs with, read as dbt reads it: which target, which adapter, and for
dbt-duckdb the warehouse file, so Python assets read and write the tables dbt builds.

Discovery is dbt's: `profiles.yml` in the project directory, else `$DBT_PROFILES_DIR`, else
`~/.dbt/` (what `DbtProject(profiles_dir=...)` overrides). `{{ env_var('NAME', 'default') }}` in
values is rendered like dbt renders it; a relative DuckDB path is relative to the project directory,
where dbt runs from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integrations.dbt.manifest import ManifestError
from integrations.dbt.project import DbtProject


@dataclass(frozen=True)
class ProfileTarget:
    profiles_path: Path
    profile: str
    target: str
    adapter: str
    settings: dict[str, Any]
    """The target's rendered settings (path, schema, threads, ...); secrets are the user's to keep."""


def _env_var(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ManifestError(f"The dbt profile reads the environment variable {name}, which is not set.")
    return value


def _render(value: Any) -> Any:
    if isinstance(value, str) and "{{" in value:
        import jinja2

        return jinja2.Environment().from_string(value).render(env_var=_env_var)
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}
    return value


def profile_target(project: DbtProject) -> ProfileTarget:
    """The target the project's builds use (its `--target`, else the profile's default)."""
    import yaml

    project_yml = yaml.safe_load((project.project_dir / "dbt_project.yml").read_text()) or {}
    name = project_yml.get("profile")
    path = project.profiles_dir / "profiles.yml"
    if not name:
        raise ManifestError(f"'{project.project_dir / 'dbt_project.yml'}' names no `profile:`.")
    if not path.exists():
        raise ManifestError(f"No profiles.yml for the dbt project '{project.project_dir}': looked in "
                            f"{project.profiles_dir} (project dir, then $DBT_PROFILES_DIR, then ~/.dbt).")
    profiles = yaml.safe_load(path.read_text()) or {}
    if name not in profiles:
        raise ManifestError(f"'{path}' has no profile '{name}' (it has {', '.join(sorted(profiles)) or 'none'}).")
    target = project.target or _render(profiles[name].get("target", "dev"))
    outputs = profiles[name].get("outputs") or {}
    if target not in outputs:
        raise ManifestError(f"Profile '{name}' in '{path}' has no target '{target}'.")
    settings = _render(dict(outputs[target]))
    return ProfileTarget(path, name, target, str(settings.get("type", "")), settings)


def duckdb_path(project: DbtProject) -> Path | None:
    """The DuckDB file of the project's target, or None when the target is not dbt-duckdb (or an
    in-memory database)."""
    target = profile_target(project)
    path = str(target.settings.get("path") or "")
    if target.adapter != "duckdb" or path in ("", ":memory:") or path.startswith("md:"):
        return None
    return (project.project_dir / path).resolve()
