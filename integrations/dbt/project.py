"""DbtProject: a dbt project on disk, its manifest, and the caches that make loading it cheap.

The manifest at `target/manifest.json` is used while no project file changed since the parse that
wrote it (a manifest dbt wrote itself: while it is newer than every project file); when a file
changed, the project is re-parsed (dbt's partial parsing) automatically unless
`reparse="never"` (or ORCH_DBT_REPARSE=never), in which case a stale manifest is an error naming
the command to run. The assets built from a manifest are cached beside it, keyed by its checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from integrations.dbt.manifest import DbtNodes, ManifestError, load_nodes, read_manifest
from integrations.dbt.profile import ENV_VAR_CALL, DbtTarget, read_target, run_profiles_dir
from integrations.dbt.translator import DbtTranslator
from orchestrator.io.files import atomic_write_bytes
from orchestrator.memory import paused_gc

CACHE_FORMAT = 4
PROJECT_PATHS = {"model-paths": ["models"], "seed-paths": ["seeds"], "snapshot-paths": ["snapshots"],
                 "test-paths": ["tests"], "macro-paths": ["macros"], "analysis-paths": ["analyses"]}
"""dbt_project.yml keys naming the folders dbt parses, with dbt's defaults."""
PACKAGE_FILES = ("packages.yml", "dependencies.yml")
DEFAULT_PACKAGES_PATH = "dbt_packages"
SOURCE_SUFFIXES = (".sql", ".yml", ".yaml", ".csv", ".py", ".md")


@dataclass(frozen=True)
class ManifestState:
    path: Path
    checksum: str
    size: int
    mtime_ns: int


class DbtProject:
    """A dbt project directory and the manifest that describes it."""

    def __init__(
        self,
        project_dir: str | Path,
        *,
        profiles_dir: str | Path | None = None,
        target: str | None = None,
        target_path: str | Path | None = None,
        reparse: str | None = None,
        translator: DbtTranslator | None = None,
        vars: Mapping[str, Any] | None = None,
    ) -> None:
        self.project_dir = Path(project_dir).resolve()
        if not (self.project_dir / "dbt_project.yml").exists():
            raise ManifestError(f"'{self.project_dir}' is not a dbt project: no dbt_project.yml.")
        self.profiles_dir = Path(profiles_dir).resolve() if profiles_dir else self._default_profiles_dir()
        self.target = target
        self.target_path = Path(target_path).resolve() if target_path else self.project_dir / "target"
        self.reparse = reparse or os.environ.get("ORCH_DBT_REPARSE", "auto")
        if self.reparse not in ("auto", "never"):
            raise ManifestError(f"reparse must be 'auto' or 'never', not '{self.reparse}'.")
        self.translator = translator or DbtTranslator()
        self.vars = dict(vars or {})
        """`--vars` of every parse, build and compile: projects enable models and seeds by vars."""
        self.parsed_here = False
        """True once this object parsed the project (in this process)."""

    def _default_profiles_dir(self) -> Path:
        if (self.project_dir / "profiles.yml").exists():
            return self.project_dir
        return Path(os.environ.get("DBT_PROFILES_DIR", Path.home() / ".dbt")).resolve()

    @property
    def manifest_path(self) -> Path:
        return self.target_path / "manifest.json"

    @property
    def name(self) -> str:
        return self.project_dir.name

    # -- freshness ----------------------------------------------------------------------------

    def _project_yml(self) -> dict[str, Any]:
        try:
            found = yaml.safe_load((self.project_dir / "dbt_project.yml").read_text()) or {}
        except (OSError, yaml.YAMLError):
            return {}
        return found if isinstance(found, dict) else {}

    def source_dirs(self) -> list[Path]:
        """The folders dbt parses: the paths dbt_project.yml names (dbt's defaults where it names
        none) and the installed packages (`packages-install-path`, default dbt_packages/)."""
        config = self._project_yml()
        folders = []
        for key, default in PROJECT_PATHS.items():
            value = config.get(key) or default
            folders += [self.project_dir / p for p in ([value] if isinstance(value, str) else value)]
        folders.append(self.packages_dir)
        return folders

    @property
    def packages_dir(self) -> Path:
        return self.project_dir / str(self._project_yml().get("packages-install-path") or DEFAULT_PACKAGES_PATH)

    def package_files(self) -> list[Path]:
        return [self.project_dir / name for name in PACKAGE_FILES if (self.project_dir / name).exists()]

    def source_fingerprint(self) -> tuple[int, int, int]:
        """(newest modification time, number of files, sum of their modification times) of the files
        dbt parses: an edit, a new file and a deleted file each change it. Symlinked folders are
        followed (dbt deps links local packages), each real folder once."""
        newest = count = total = 0
        tops = [self.project_dir / "dbt_project.yml", self.profiles_dir / "profiles.yml", *self.package_files()]
        for top in tops:
            if top.exists():
                mtime = top.stat().st_mtime_ns
                newest, count, total = max(newest, mtime), count + 1, total + mtime
        seen: set[str] = set()
        for folder in self.source_dirs():
            stack = [str(folder)]
            while stack:
                current = stack.pop()
                real = os.path.realpath(current)
                if real in seen:
                    continue
                seen.add(real)
                try:
                    entries = os.scandir(current)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                with entries:
                    for entry in entries:
                        if entry.is_dir():
                            stack.append(entry.path)
                        elif entry.name.endswith(SOURCE_SUFFIXES):
                            mtime = entry.stat().st_mtime_ns
                            newest, count, total = max(newest, mtime), count + 1, total + mtime
        return newest, count, total

    def needs_deps(self) -> bool:
        """True when packages.yml / dependencies.yml name packages that are not installed (or
        changed since `dbt deps` installed them)."""
        files = self.package_files()
        if not files:
            return False
        installed = self.packages_dir
        if not installed.exists():
            return any(_lists_packages(f) for f in files)
        return max(f.stat().st_mtime_ns for f in files) > installed.stat().st_mtime_ns

    @property
    def vars_key(self) -> str:
        return json.dumps(self.vars, sort_keys=True, default=str)

    def warehouse(self) -> DbtTarget | None:
        """The target of the project's profile: for dbt-duckdb, the database files it opens
        (relative paths against the project directory); None when there is no profile for it."""
        return read_target(self.project_dir, self.profiles_dir, self.target)

    def warehouse_files(self) -> tuple[Path, ...]:
        """The DuckDB files dbt opens for this project (none for another adapter or a profile that
        does not render: dbt then says what is wrong with it)."""
        try:
            target = self.warehouse()
        except ManifestError:
            return ()
        return target.files if target is not None else ()

    def run_profiles_dir(self, read_only: bool = False) -> Path:
        """The --profiles-dir of dbt run in this process, so it opens the files `warehouse()` names
        (profile.run_profiles_dir; copies under target/orch_profiles/)."""
        return run_profiles_dir(self.project_dir, self.profiles_dir, self.target,
                                self.target_path / "orch_profiles", read_only)

    def is_stale(self) -> bool:
        """True when the files changed since the manifest was parsed: compared with the files a parse
        of ours read (so a file dated in the future, e.g. by clock skew, is not re-parsed again and
        again until the clock passes it), else with the manifest's own modification time (a manifest
        written by dbt itself)."""
        if not self.manifest_path.exists():
            return True
        if self.parse_env_changed() or self.parse_vars_changed() or self.needs_deps():
            return True
        sources = self.source_fingerprint()
        parsed = self.parsed_sources()
        if parsed is not None:
            return sources != parsed
        return sources[0] > self.manifest_path.stat().st_mtime_ns

    @property
    def parse_sources_path(self) -> Path:
        return self.target_path / "orch_parse_sources.json"

    def _manifest_key(self) -> str:
        return _stat_key(self.manifest_path.stat())

    def record_parsed_sources(self, sources: tuple[int, int, int]) -> None:
        """After a parse: the fingerprint of the files it read (taken before dbt read them, so an
        edit during the parse still counts), tied to the manifest it wrote."""
        atomic_write_bytes(self.parse_sources_path,
                           json.dumps({"manifest": self._manifest_key(), "sources": list(sources)}).encode())

    def parsed_sources(self) -> tuple[int, int, int] | None:
        """The fingerprint recorded by the parse that wrote the current manifest (None: another
        manifest, e.g. one `dbt parse` wrote)."""
        try:
            recorded = json.loads(self.parse_sources_path.read_text())
            if recorded["manifest"] != self._manifest_key():
                return None
            newest, count, total = recorded["sources"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return int(newest), int(count), int(total)

    @property
    def parse_env_path(self) -> Path:
        return self.target_path / "orch_parse_env.json"

    def parse_env(self, used: set[str]) -> dict[str, str | None]:
        """The values of the environment variables a parse used: dbt's own record of the project's
        env_var() calls plus those in profiles.yml (the warehouse path is baked into relation names)."""
        profiles = self.profiles_dir / "profiles.yml"
        if profiles.exists():
            used = used | set(ENV_VAR_CALL.findall(profiles.read_text()))
        return {name: os.environ.get(name) for name in sorted(used)}

    def parse_env_changed(self) -> bool:
        """True when the manifest was parsed (by us) under other values of the variables it used."""
        try:
            recorded = json.loads(self.parse_env_path.read_text())
        except (FileNotFoundError, ValueError):
            return False
        return any(os.environ.get(name) != value for name, value in recorded.items())

    @property
    def parse_vars_path(self) -> Path:
        return self.target_path / "orch_parse_vars.json"

    def parse_vars_changed(self) -> bool:
        """True when the manifest was parsed with other `vars` than this project's."""
        try:
            recorded = self.parse_vars_path.read_text()
        except FileNotFoundError:
            return bool(self.vars)
        return recorded != self.vars_key

    # -- manifest and nodes -------------------------------------------------------------------

    parse_requested = False
    """Set by `orch dbt parse` before it loads the definitions: parse even under reparse="never"
    (the command exists to repair a missing, stale or corrupt manifest)."""

    @property
    def may_parse(self) -> bool:
        return self.reparse != "never" or DbtProject.parse_requested

    def ensure_manifest(self) -> Path:
        """The manifest path, re-parsing first when it is missing or older than the project files."""
        if self.is_stale():
            if not self.may_parse:
                state = "missing" if not self.manifest_path.exists() else "older than the project files"
                raise ManifestError(
                    f"The dbt manifest '{self.manifest_path}' is {state}. Run `orch dbt parse`."
                )
            self.parse()
        return self.manifest_path

    def manifest_state(self, ensure: bool = True) -> ManifestState:
        """The manifest's path and checksum; `ensure`: re-parse first when it is stale (a parse
        itself passes False: it just wrote the manifest)."""
        path = self.ensure_manifest() if ensure else self.manifest_path
        stat = path.stat()
        stamp = self.target_path / "orch_manifest.stamp"
        key = _stat_key(stat)
        if stamp.exists():
            recorded = stamp.read_text().split()
            if len(recorded) == 2 and recorded[0] == key:
                return ManifestState(path, recorded[1], stat.st_size, stat.st_mtime_ns)
        checksum = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        atomic_write_bytes(stamp, f"{key} {checksum}".encode())
        return ManifestState(path, checksum, stat.st_size, stat.st_mtime_ns)

    def nodes(self, runner: Any = None) -> DbtNodes:
        """Assets and checks of the manifest, from the cache when the manifest did not change."""
        with paused_gc(freeze=True):  # 10,000s of new long-lived objects: keep the collector off them
            return self._nodes(runner)

    def _nodes(self, runner: Any) -> DbtNodes:
        state = self.manifest_state()
        cache = self.target_path / f"orch_nodes.{state.checksum}.{type(self.translator).__name__}.pickle"
        nodes: DbtNodes | None = None
        if cache.exists():
            try:
                cached = pickle.loads(cache.read_bytes())
                if cached.get("format") == CACHE_FORMAT:
                    nodes = cached["nodes"]
            except Exception:  # a corrupt or foreign cache is rebuilt, never trusted
                nodes = None
        if nodes is None:
            nodes = load_nodes(self._read_or_reparse(state.path), self.translator)
            state = self.manifest_state()  # a re-parse wrote a new manifest
            cache = self.target_path / f"orch_nodes.{state.checksum}.{type(self.translator).__name__}.pickle"
            self._clear_caches("orch_nodes.")
            atomic_write_bytes(cache, pickle.dumps({"format": CACHE_FORMAT, "nodes": nodes},
                                                    protocol=pickle.HIGHEST_PROTOCOL))
        return nodes if runner is None else _with_runner(nodes, runner)

    def _read_or_reparse(self, path: Path) -> dict[str, Any]:
        """A manifest that does not read (truncated, corrupt, foreign) is re-parsed, as a changed
        project file is; under reparse="never" it is an error naming the command that fixes it."""
        try:
            return read_manifest(path)
        except ManifestError:
            if not self.may_parse:
                raise
        self.parse()
        return read_manifest(path)

    def parse(self) -> Any:
        """Parse with dbt (partial parsing when possible) and cache the parsed Manifest object."""
        from integrations.dbt.runner import parse_project  # dbt is imported only here

        manifest = parse_project(self)
        self.parsed_here = True
        return manifest

    def _clear_caches(self, prefix: str) -> None:
        for old in self.target_path.glob(f"{prefix}*"):
            old.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"DbtProject({str(self.project_dir)!r})"


def _lists_packages(path: Path) -> bool:
    try:
        found = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return True  # let `dbt deps` say what is wrong with it
    return bool(isinstance(found, dict) and found.get("packages"))


def _with_runner(nodes: DbtNodes, runner: Any) -> DbtNodes:
    # These values were just built or unpickled for this call and nobody else holds them: setting
    # the runner in place saves copying 10,000s of frozen dataclasses.
    for definition in nodes.assets:
        if definition.executable:
            object.__setattr__(definition, "runner", runner)
    for check in nodes.checks:
        if hasattr(check.fn, "runner"):  # a source freshness check runs through the runner
            check.fn.runner = runner
    return nodes


def _stat_key(stat: os.stat_result) -> str:
    """What identifies one manifest file written: its size and modification time."""
    return f"{stat.st_size}:{stat.st_mtime_ns}"
