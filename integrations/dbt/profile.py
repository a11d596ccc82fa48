"""The dbt profile a project runs with, read without importing dbt, and the profiles dbt is given
when it runs in this process.

Discovery is dbt's (`DbtProject.profiles_dir`: the project directory, else `$DBT_PROFILES_DIR`,
else `~/.dbt`). `profiles.yml` is Jinja over YAML: its strings are rendered with `env_var()` as dbt
renders them. The target is the project's (`DbtProject(target=...)`), else `DBT_TARGET`, else the
profile's `target:`. For dbt-duckdb the warehouse is the target's `path` and its `attach:`
databases; `:memory:` and MotherDuck (`md:`) are no file.

One rule for relative DuckDB paths: they are relative to the dbt PROJECT directory, for everything
that opens them: `DbtProject.warehouse()`, `duckdb_path()`, lineage and dbt itself. dbt-duckdb
opens a path from its working directory; a dbt subprocess runs in the project directory, and dbt in
this process (whose working directory is anyone's, and shared by threads) gets `run_profiles_dir()`:
a copy of the profile whose DuckDB paths are absolute. Parsing keeps the user's profiles: a parse
opens no database, and dbt hashes the connection values into its partial-parse state.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from integrations.dbt.manifest import ManifestError
from orchestrator.io.files import atomic_write_bytes

ENV_VAR_CALL = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
_MISSING = object()
_COPY_FORMAT = 1
_COPY_MAX_AGE = 86400.0
"""Seconds a generated profiles dir is kept unused (touched at each use) before it is removed."""
_decided: dict[str, Path] = {}
"""This process's run_profiles_dir() answers, by cache key."""


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

    @property
    def files(self) -> tuple[Path, ...]:
        """The DuckDB files a dbt invocation on this target opens (main, then attached)."""
        return tuple(f for f in (self.path, *(a.path for a in self.attached)) if f is not None)


class _Project(Protocol):  # a DbtProject (which imports this module)
    project_dir: Path
    profiles_dir: Path
    target: str | None


@dataclass(frozen=True)
class _Output:
    file: Path
    profile: str
    target: str
    raw: dict[str, Any]
    """The output as written: Jinja not rendered."""
    config: Any = None
    """The file's top-level `config:` (dbt's user config, in older projects)."""

    def render(self, value: Any) -> Any:
        return _render(value, self.file)


def _render(value: Any, file: Path) -> Any:
    """One value of `file`, rendered as dbt renders it (only the values this module reads)."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        import jinja2  # a dbt dependency; only profiles with Jinja need it

        def env_var(name: str, default: Any = _MISSING) -> str:
            if name in os.environ:
                return os.environ[name]
            if default is _MISSING:
                raise ManifestError(f"'{file}' uses env_var('{name}'), which is not set and has no default.")
            return str(default)

        environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
        try:
            return environment.from_string(value).render(env_var=env_var)
        except jinja2.TemplateError as exc:
            raise ManifestError(f"'{file}': cannot render {value!r}: {exc}") from None
    return value


def _read_yaml(path: Path) -> dict[str, Any] | None:
    """The mapping in a YAML file; None when there is no such file."""
    try:
        found = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return None
    except yaml.YAMLError as exc:
        raise ManifestError(f"'{path}' is not valid YAML: {exc}") from None
    return found if isinstance(found, dict) else {}


def _output(project_dir: Path, profiles_dir: Path, target: str | None, required: bool = False) -> _Output | None:
    """The chosen output of the project's profile; None (or, when `required`, an error) when the
    project names no profile or there is none for it."""
    file = profiles_dir / "profiles.yml"
    name = (_read_yaml(project_dir / "dbt_project.yml") or {}).get("profile")
    profiles = (_read_yaml(file) if name else None) or {}
    profile = profiles.get(name)
    if not isinstance(profile, Mapping):
        if required:
            raise ManifestError(_no_profile(project_dir, file, name, profiles))
        return None
    chosen = target or os.environ.get("DBT_TARGET") or _render(profile.get("target"), file) or "default"
    outputs = profile.get("outputs") or {}
    if chosen not in outputs or not isinstance(outputs[chosen], Mapping):
        raise ManifestError(f"'{file}': profile '{name}' has no target '{chosen}' "
                            f"(it has: {', '.join(map(str, outputs)) or 'none'}).")
    return _Output(file, str(name), str(chosen), dict(outputs[chosen]), profiles.get("config"))


def _no_profile(project_dir: Path, file: Path, name: Any, profiles: Mapping[str, Any]) -> str:
    if not name:
        return f"'{project_dir / 'dbt_project.yml'}' names no `profile:`."
    if not file.exists():
        return (f"No profiles.yml for the dbt project '{project_dir}' in '{file.parent}' (dbt looks in "
                "the project dir, then $DBT_PROFILES_DIR, then ~/.dbt).")
    return f"'{file}' has no profile '{name}' (it has: {', '.join(map(str, profiles)) or 'none'})."


def _file(path: str, project_dir: Path) -> Path | None:
    """A DuckDB database path, relative ones against the project directory; None for in-memory or
    remote databases."""
    if not path or path == ":memory:" or path.startswith(("md:", "motherduck:")) or "://" in path:
        return None
    return (project_dir / os.path.expanduser(path)).resolve()


def _database(output: _Output, value: Any, project_dir: Path) -> tuple[Path | None, bool]:
    """A path of the output, rendered: its file (None: in memory or remote) and whether it is
    written relative."""
    rendered = str(output.render(value) or "")
    path = _file(rendered, project_dir)
    return path, path is not None and not os.path.isabs(os.path.expanduser(rendered))


def _attached(output: _Output, project_dir: Path) -> list[tuple[int, Attached, bool]]:
    """(index in `attach:`, the database, written relative) of the target's attached files."""
    found = []
    for index, item in enumerate(output.raw.get("attach") or ()):
        if isinstance(item, Mapping):
            path, relative = _database(output, item.get("path"), project_dir)
            if path is not None:
                found.append((index, Attached(path, str(output.render(item.get("alias")) or path.stem)), relative))
    return found


def read_target(project_dir: Path, profiles_dir: Path, target: str | None = None,
                required: bool = False) -> DbtTarget | None:
    """The rendered target of the project's profile, or None when there is no profile for it (an
    error instead when `required`). Only what this module needs is rendered: the adapter type and,
    for DuckDB, the paths and aliases."""
    output = _output(project_dir, profiles_dir, target, required)
    if output is None:
        return None
    adapter = str(output.render(output.raw.get("type")) or "")
    if adapter != "duckdb":
        return DbtTarget(output.profile, output.target, adapter, None)
    path, _ = _database(output, output.raw.get("path") or ":memory:", project_dir)
    attached = tuple(a for _, a, _ in _attached(output, project_dir))
    return DbtTarget(output.profile, output.target, adapter, path, attached)


def duckdb_path(project: _Project) -> Path | None:
    """The DuckDB file of the project's target (absolute; a relative path is relative to the dbt
    project directory), or None when the target is not dbt-duckdb or an in-memory database. An error
    names what is missing when there is no profile for the project."""
    found = read_target(project.project_dir, project.profiles_dir, project.target, required=True)
    assert found is not None
    return found.path


def run_profiles_dir(project_dir: Path, profiles_dir: Path, target: str | None, cache_dir: Path,
                     read_only: bool = False) -> Path:
    """The `--profiles-dir` of dbt run in this process: `profiles_dir` itself unless the target is
    dbt-duckdb with a relative database path (or `read_only`); else a generated copy of the target
    under `cache_dir` whose DuckDB paths are absolute (`read_only`: opened read-only, to compile
    models whose Jinja runs queries). The copy is keyed by profiles.yml (content and mtime), the
    environment it reads, the target and the project; a key is computed from one small read, and
    rendered and written once."""
    key = _copy_key(project_dir, profiles_dir, target, read_only)
    known = _decided.get(key)
    if known is not None and (known == profiles_dir or (known / "profiles.yml").exists()):
        _touch(known, profiles_dir)
        return known
    folder = cache_dir / key[:24]
    if not (folder / "profiles.yml").exists():
        profiles = _copy(project_dir, profiles_dir, target, read_only)
        if profiles is None:
            folder = profiles_dir
        else:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(folder / "profiles.yml", yaml.safe_dump(profiles, sort_keys=False).encode())
            _prune(cache_dir, keep=folder)
    _touch(folder, profiles_dir)
    if len(_decided) > 64:
        _decided.clear()
    _decided[key] = folder
    return folder


def _copy_key(project_dir: Path, profiles_dir: Path, target: str | None, read_only: bool) -> str:
    file = profiles_dir / "profiles.yml"
    try:
        content, mtime = file.read_bytes(), file.stat().st_mtime_ns
    except FileNotFoundError:
        content, mtime = b"", 0
    try:
        project_yml = (project_dir / "dbt_project.yml").stat()  # its `profile:` name
        project_key = f"{project_yml.st_size}:{project_yml.st_mtime_ns}"
    except FileNotFoundError:
        project_key = ""
    names = sorted({"DBT_TARGET", *ENV_VAR_CALL.findall(content.decode(errors="replace"))})
    env = [f"{n}={os.environ.get(n)!r}" for n in names]
    parts = [str(_COPY_FORMAT), str(project_dir), str(profiles_dir), project_key, str(mtime), repr(target),
             str(read_only), *env]
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=16)
    digest.update(content)
    return digest.hexdigest()


def _copy(project_dir: Path, profiles_dir: Path, target: str | None, read_only: bool) -> dict[str, Any] | None:
    """The profiles.yml dbt runs with, or None when the user's own opens the same files. Only the
    DuckDB paths are rendered (absolute); everything else is copied as written, Jinja included."""
    output = _output(project_dir, profiles_dir, target)
    if output is None or output.render(output.raw.get("type")) != "duckdb":
        return None
    raw = dict(output.raw)
    path, changed = _database(output, raw.get("path") or ":memory:", project_dir)
    if path is not None:
        raw["path"] = str(path)
    attach = [dict(item) if isinstance(item, Mapping) else item for item in raw.get("attach") or ()]
    for index, database, relative in _attached(output, project_dir):
        attach[index]["path"] = str(database.path)
        changed |= relative
    if read_only:
        raw["config_options"] = {**(raw.get("config_options") or {}), "access_mode": "READ_ONLY"}
        attach = [{**item, "read_only": True} if isinstance(item, Mapping) else item for item in attach]
    if attach:
        raw["attach"] = attach
    if not (changed or read_only):
        return None
    profiles: dict[str, Any] = {output.profile: {"target": output.target, "outputs": {output.target: raw}}}
    if output.config is not None:
        profiles["config"] = output.config
    return profiles


def _touch(folder: Path, profiles_dir: Path) -> None:
    """Marks a generated dir as used (`_prune` removes those unused for a day)."""
    if folder != profiles_dir:
        try:
            os.utime(folder)
        except FileNotFoundError:
            pass


def _prune(cache_dir: Path, keep: Path) -> None:
    cutoff = time.time() - _COPY_MAX_AGE
    for old in cache_dir.iterdir():
        try:
            if old != keep and old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass
