"""The warehouse a dbt project's profile points at, read without importing dbt.

`profiles.yml` is Jinja over YAML: its strings are rendered with `env_var()` (and `var`-free
built-ins) as dbt renders them. The target is the project's (`DbtProject(target=...)`), else
`DBT_TARGET`, else the profile's `target:`. For dbt-duckdb the warehouse is the target's `path`
(relative paths as dbt-duckdb opens them: from the working directory, else from the project) and
its `attach:` databases; `:memory:` and MotherDuck (`md:`) are no file.

`read_only_profiles()` writes a copy of the profiles in which the DuckDB target and its attached
databases open read-only (`config_options.access_mode: READ_ONLY`), for compiling models whose
Jinja runs queries without any chance of writing to the warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from integrations.dbt.manifest import ManifestError
from orchestrator.io.files import atomic_write_bytes

_MISSING = object()


@dataclass(frozen=True)
class Attached:
    path: Path
    alias: str


@dataclass(frozen=True)
class DbtTarget:
    """One output of a profile, rendered: its adapter type and, for DuckDB, the files it opens."""

    profile: str
    name: str
    adapter: str
    path: Path | None
    attached: tuple[Attached, ...] = ()

    @property
    def catalog(self) -> str | None:
        """The DuckDB catalog name of the main database (the file's stem)."""
        return self.path.stem if self.path is not None else None


def _env_var(name: str, default: Any = _MISSING) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is _MISSING:
        raise ManifestError(f"profiles.yml uses env_var('{name}'), which is not set and has no default.")
    return str(default)


def _render(value: Any) -> Any:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        import jinja2  # a dbt dependency; only profiles with Jinja need it

        environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
        try:
            return environment.from_string(value).render(env_var=_env_var)
        except jinja2.TemplateError as exc:
            raise ManifestError(f"profiles.yml: cannot render {value!r}: {exc}") from None
    if isinstance(value, Mapping):
        return {k: _render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v) for v in value]
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        found = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ManifestError(f"'{path}' is not valid YAML: {exc}") from None
    return found if isinstance(found, dict) else {}


def profile_name(project_dir: Path) -> str | None:
    return _read_yaml(project_dir / "dbt_project.yml").get("profile")


def _output(project_dir: Path, profiles_dir: Path, target: str | None) -> tuple[str, str, dict[str, Any]] | None:
    name = profile_name(project_dir)
    profiles = _read_yaml(profiles_dir / "profiles.yml")
    profile = profiles.get(name) if name else None
    if not isinstance(profile, Mapping):
        return None
    chosen = target or os.environ.get("DBT_TARGET") or _render(profile.get("target")) or "default"
    outputs = profile.get("outputs") or {}
    if chosen not in outputs:
        raise ManifestError(f"profiles.yml: profile '{name}' has no target '{chosen}' "
                            f"(it has: {', '.join(outputs) or 'none'}).")
    return name, chosen, dict(outputs[chosen])


def read_target(project_dir: Path, profiles_dir: Path, target: str | None = None) -> DbtTarget | None:
    """The rendered target of the project's profile, or None when there is no profile for it."""
    found = _output(project_dir, profiles_dir, target)
    if found is None:
        return None
    name, chosen, output = found
    rendered = _render(output)
    adapter = str(rendered.get("type") or "")
    if adapter != "duckdb":
        return DbtTarget(name, chosen, adapter, None)
    attached = tuple(
        Attached(path, str(item.get("alias") or path.stem))
        for item in rendered.get("attach") or () if isinstance(item, Mapping)
        and (path := _file(str(item.get("path") or ""), project_dir)) is not None
    )
    return DbtTarget(name, chosen, adapter, _file(str(rendered.get("path") or ":memory:"), project_dir), attached)


def _file(path: str, project_dir: Path) -> Path | None:
    """A DuckDB database path as dbt-duckdb opens it; None for in-memory or remote databases."""
    if not path or path == ":memory:" or path.startswith(("md:", "motherduck:")) or "://" in path:
        return None
    candidate = Path(os.path.expanduser(path))
    if candidate.is_absolute():
        return candidate
    here = Path.cwd() / candidate
    in_project = project_dir / candidate
    return in_project if not here.exists() and in_project.exists() else here


def read_only_profiles(project_dir: Path, profiles_dir: Path, target: str | None, into: Path) -> Path:
    """A profiles dir (`into`) whose DuckDB target opens its databases read-only; returns `into`."""
    found = _output(project_dir, profiles_dir, target)
    if found is None:
        raise ManifestError(f"No profile for the dbt project '{project_dir}' in '{profiles_dir}'.")
    name, chosen, output = found
    output["config_options"] = {**(output.get("config_options") or {}), "access_mode": "READ_ONLY"}
    output["attach"] = [{**item, "read_only": True} for item in output.get("attach") or ()]
    if not output["attach"]:
        del output["attach"]
    profiles = {name: {"target": chosen, "outputs": {chosen: output}}}
    into.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(into / "profiles.yml", yaml.safe_dump(profiles, sort_keys=False).encode())
    return into
