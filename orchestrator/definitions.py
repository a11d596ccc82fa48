"""Definitions: the assets, checks and IO managers of a project, and loading them from a target."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from orchestrator.assets import LOADED_FILE_MODULE, AssetCheckDefinition, AssetDefinition
from orchestrator.errors import DefinitionError, DefinitionsLoadError, OrchestratorError
from orchestrator.graph import AssetGraph
from orchestrator.io.base import IOManager
from orchestrator.keys import AssetKey

DEFAULT_ATTRIBUTE = "defs"


def _flatten(items: Iterable[Any]) -> Iterable[Any]:
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


class Definitions:
    """Everything a project defines. `assets` may also carry checks (dbt tests arrive that way);
    `asset_checks` (or its older name `checks`) takes more.

    `resources` maps names to resources: an asset parameter with that name receives the resource
    (it is not an upstream asset); a ConfigurableResource is set up once per run. IO managers are
    resources too: `io_manager="warehouse"` on an asset names an IOManager given in `resources` or
    `io_managers`; names left out get the defaults of the run (Parquet under ORCH_HOME, or in
    memory in the Python API). `root` is the project's directory: Python asset paths are made
    relative to it for `path:`.
    `jobs`, `schedules` and `sensors` are what the daemon runs by itself (a job a schedule or sensor
    names is added to `jobs`); `pools` maps pool names to their slots (a pool not named has 1);
    `run_retries` (a RunRetryPolicy) re-queues failed runs of jobs that set none.
    """

    def __init__(
        self,
        assets: Iterable[AssetDefinition | AssetCheckDefinition] = (),
        asset_checks: Iterable[AssetCheckDefinition] = (),
        *,
        checks: Iterable[AssetCheckDefinition] = (),
        io_managers: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        root: str | Path | None = None,
        jobs: Iterable[Any] = (),
        schedules: Iterable[Any] = (),
        sensors: Iterable[Any] = (),
        pools: Mapping[str, int] | None = None,
        run_retries: Any = None,
    ) -> None:
        self.root = Path(root).resolve() if root else None
        found_assets: list[AssetDefinition] = []
        found_checks: list[AssetCheckDefinition] = [*_flatten(asset_checks), *_flatten(checks)]
        for item in _flatten(assets):
            if isinstance(item, AssetDefinition):
                found_assets.append(self._relative(item))
            elif isinstance(item, AssetCheckDefinition):
                found_checks.append(item)
            else:
                raise DefinitionError(
                    f"Definitions(assets=...) got a {type(item).__name__} ({item!r}); expected "
                    "functions decorated with @asset, AssetSpec(...) or @asset_check."
                )
        self.resources, self.io_managers = _resources(io_managers or {}, resources or {})
        self.assets = tuple(bind_resources(_absorb_declared_sources(found_assets), self.resources))
        self.checks = tuple(found_checks)
        from orchestrator.automation.registry import automation_registry  # no graph needed: cheap

        self.jobs, self.schedules, self.sensors = automation_registry(jobs, schedules, sensors)
        self.pools = {str(k): int(v) for k, v in (pools or {}).items()}
        self.run_retries = run_retries

    def with_resources(self, resources: Mapping[str, Any]) -> Definitions:
        """The same definitions with these resources (and IO managers) added or replaced."""
        if not resources:
            return self
        kept_io = {k: v for k, v in self.io_managers.items() if k not in resources}
        others = {k: v for k, v in self.resources.items() if k not in self.io_managers}
        return Definitions(assets=[*self.assets, *self.checks], io_managers=kept_io,
                           resources={**others, **resources}, root=self.root, jobs=self.jobs.values(),
                           schedules=self.schedules.values(), sensors=self.sensors.values(),
                           pools=self.pools, run_retries=self.run_retries)

    def _relative(self, definition: AssetDefinition) -> AssetDefinition:
        if self.root is None or definition.path is None or not os.path.isabs(definition.path):
            return definition
        try:
            return definition.with_changes(path=str(Path(definition.path).relative_to(self.root)))
        except ValueError:
            return definition

    @cached_property
    def graph(self) -> AssetGraph:
        return AssetGraph(self.assets, self.checks)


def _resources(io_managers: Mapping[str, Any], resources: Mapping[str, Any]) -> tuple[dict, dict]:
    """All resources (IO managers included) and the IO managers among them."""
    for name in io_managers.keys() & resources.keys():
        if io_managers[name] is not resources[name]:
            raise DefinitionError(f"'{name}' is given twice, in io_managers= and in resources=, as "
                                  "two different objects; give it once.")
    managers = {**io_managers, **{k: v for k, v in resources.items() if isinstance(v, IOManager)}}
    return {**io_managers, **resources}, managers


def bind_resources(assets: list[AssetDefinition], resources: Mapping[str, Any]) -> list[AssetDefinition]:
    """A parameter named after a resource receives it and is no dependency. A resource named like
    an asset it could be confused with is an error naming both."""
    if not resources:
        return assets
    by_key = {a.key: a for a in assets}
    for name in resources:
        clash = by_key.get(AssetKey((name,)))
        if clash is not None:
            raise DefinitionError(_clash(name, resources[name], clash))
    bound = []
    for definition in assets:
        if definition.fn is None or not any(d.parameter in resources for d in definition.deps):
            bound.append(definition)
            continue
        prefix = definition.key.path[:-1]
        deps, names = [], []
        for dep in definition.deps:
            if dep.parameter in resources and dep.key == AssetKey((*prefix, dep.parameter)):
                if dep.key in by_key:
                    raise DefinitionError(_clash(dep.parameter, resources[dep.parameter], by_key[dep.key],
                                                 user=definition))
                names.append(dep.parameter)
            else:
                deps.append(dep)
        bound.append(definition.with_changes(deps=tuple(deps),
                                             resource_parameters=(*definition.resource_parameters, *names))
                     if names else definition)
    return bound


def _clash(name: str, resource: Any, asset: AssetDefinition, user: AssetDefinition | None = None) -> str:
    where = f" (parameter '{name}' of asset '{user.key}', {user.origin})" if user is not None else ""
    return (f"Resource '{name}' ({type(resource).__name__}) and asset '{asset.key}' ({asset.origin}) "
            f"have the same name{where}: a parameter '{name}' could mean either. Rename the resource "
            "or the asset.")


def _absorb_declared_sources(assets: list[AssetDefinition]) -> list[AssetDefinition]:
    """A source that dbt declares and a Python asset produces (same key) is ONE asset: the Python
    one, carrying the source's documentation. Any other repeated key stays for the graph to reject."""
    producers = {a.key: a for a in assets if a.executable}
    merged: dict[AssetKey, AssetDefinition] = {}
    result = []
    for definition in assets:
        producer = producers.get(definition.key)
        if definition.resource_type == "source" and producer is not None and producer is not definition:
            merged[producer.key] = _document_with(merged.get(producer.key, producer), definition)
            continue
        result.append(definition)
    return [merged.get(a.key, a) if a.executable else a for a in result]


def _document_with(producer: AssetDefinition, source: AssetDefinition) -> AssetDefinition:
    carried = {k: v for k, v in source.metadata.items() if k != "relation_name"}
    return producer.with_changes(
        description=producer.description or source.description,
        metadata={**carried, **producer.metadata},
        tags=producer.tags | source.tags,
    )


def load_definitions(target: str, attribute: str | None = None) -> Definitions:
    """Load `file.py[:attr]` or `package.module[:attr]` (attr defaults to `defs`).

    Import errors are re-raised as DefinitionsLoadError carrying the user's traceback only.
    """
    spec, _, attr = target.partition(":")
    attr = attr or attribute or DEFAULT_ATTRIBUTE
    module = _import_file(Path(spec)) if spec.endswith(".py") else _import_module(spec)
    try:
        value = getattr(module, attr)
    except AttributeError:
        names = [n for n in vars(module) if not n.startswith("_")]
        raise DefinitionsLoadError(
            f"'{spec}' has no attribute '{attr}'. It defines: {', '.join(names) or 'nothing'}. "
            f"Point --defs at '{spec}:NAME' or assign `{attr} = Definitions(...)`."
        ) from None
    if callable(value) and not isinstance(value, Definitions):
        value = value()
    if not isinstance(value, Definitions):
        raise DefinitionsLoadError(
            f"'{spec}:{attr}' is a {type(value).__name__}, not a Definitions object."
        )
    if value.root is None:
        value.root = _project_root(Path(module.__file__ or ".").resolve().parent)
        value.assets = tuple(value._relative(a) for a in value.assets)
    return value


def _project_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists():
            return folder
    return start


def _user_traceback(exc: BaseException) -> str:
    """The traceback without our frames and importlib's: only the user's code."""
    here = os.path.abspath(__file__)
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.abspath(f.filename) != here and "importlib" not in f.filename
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


def _import_file(path: Path) -> Any:
    if not path.exists():
        raise DefinitionsLoadError(f"Definitions file '{path}' does not exist.")
    path = path.resolve()
    name = f"{LOADED_FILE_MODULE}{path.stem}_{abs(hash(str(path))):x}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # The file's folder and its project's root are importable, as when running from the root.
    for folder in (_project_root(path.parent), path.parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        if isinstance(exc, OrchestratorError):  # our own errors say what and where: no traceback
            lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
            where = f"{path}:{lines[-1]}" if lines else str(path)
            raise DefinitionsLoadError(f"Loading definitions {where} failed: {exc}") from exc
        raise DefinitionsLoadError(
            f"Importing definitions file '{path}' failed:\n{_user_traceback(exc)}"
        ) from exc
    return module


def _import_module(name: str) -> Any:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise DefinitionsLoadError(
                f"Cannot import definitions module '{name}': no module named '{exc.name}'. "
                "Pass a file path (path/to/definitions.py) or an importable module."
            ) from exc
        raise DefinitionsLoadError(
            f"Importing definitions module '{name}' failed:\n{_user_traceback(exc)}"
        ) from exc
    except Exception as exc:
        raise DefinitionsLoadError(
            f"Importing definitions module '{name}' failed:\n{_user_traceback(exc)}"
        ) from exc
