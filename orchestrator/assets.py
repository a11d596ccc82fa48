"""@asset, @asset_check and AssetSpec: definitions whose parameter names are their upstream assets."""

from __future__ import annotations

import hashlib
import inspect
import os
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.errors import DefinitionError
from orchestrator.hints import ComputeHints
from orchestrator.keys import AssetKey
from orchestrator.partitions import BackfillPolicy, PartitionRange, PartitionsDefinition

RESERVED_PARAMETERS = frozenset({"context"})

SCHEMA_CHANGE_POLICIES = ("warn", "block", "ignore")

# Asset kinds: how an asset is computed. The executor dispatches steps on them.
PYTHON = "python"
EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry a failing step `attempts - 1` more times, waiting `backoff * 2**n` seconds."""

    attempts: int = 1
    backoff: float = 0.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise DefinitionError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}.")

    def delay(self, failed_attempts: int) -> float:
        return self.backoff * (2 ** (failed_attempts - 1))


@dataclass(frozen=True, slots=True)
class AssetDep:
    """An edge into an asset: `parameter` receives the upstream value; None means order only."""

    def __reduce__(self) -> tuple:
        # Positional and fast: the default for slotted dataclasses calls fields() per object.
        return (type(self), tuple(getattr(self, name) for name in self.__dataclass_fields__))

    key: AssetKey
    parameter: str | None = None
    optional: bool = False
    mapping: Any = None
    """A PartitionMapping: which upstream partitions a partition reads (None: the default)."""


@dataclass(frozen=True, slots=True)
class AssetResult:
    """What an asset function may return instead of a bare value: the value plus metadata."""

    value: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check function may return instead of a bool."""

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AssetDefinition:
    """One node of the graph, whatever its origin (Python, dbt, external)."""

    def __reduce__(self) -> tuple:
        # Positional and fast: the default for slotted dataclasses calls fields() per object.
        return (type(self), tuple(getattr(self, name) for name in self.__dataclass_fields__))

    key: AssetKey
    kind: str = PYTHON
    fn: Callable[..., Any] | None = None
    deps: tuple[AssetDep, ...] = ()
    group: str = "default"
    tags: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    owners: tuple[str, ...] = ()
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    code_version: str | None = None
    io_manager: str = "io_manager"
    partitions: PartitionsDefinition | None = None
    retry: RetryPolicy = RetryPolicy()
    path: str | None = None
    resource_type: str = PYTHON
    fqn: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""
    uses_context: bool = False
    executable: bool = True
    runner: Any = None
    """Runs this asset when it is not a plain Python function (a dbt project's runner)."""
    schema_change: str = "warn"
    """When a table's schema differs from its last materialization: warn, block or ignore."""
    backfill_policy: BackfillPolicy | None = None
    """How backfills split a range for this asset; None: the default for its kind."""
    range_parameter: str | None = None
    """The parameter (annotated PartitionRange) that receives the range a run covers."""
    pool: str | None = None
    """A named slot limit its runs hold (e.g. the DuckDB warehouse allows one writing process)."""
    automation: Any = None
    """An AutomationCondition: when the daemon materializes it by itself."""
    freshness: Any = None
    """A FreshnessPolicy: how old its data may get before it is late."""
    hints: ComputeHints | None = None
    """Cores, memory and worker tag the step needs (the Dask executor maps them to Dask resources)."""
    resource_parameters: tuple[str, ...] = ()
    """Parameters that receive resources (by their names), not upstream values."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, as in a unit test: `orders_enriched(orders, customers)`.
        Parameters not passed that name a resource of `context=build_context(resources=...)` get it."""
        if self.fn is None:
            raise DefinitionError(f"Asset '{self.key}' ({self.origin}) has no Python function to call.")
        context = kwargs.get("context") if self.uses_context else kwargs.pop("context", None)
        resources = getattr(context, "resources", None) or {}
        bound = inspect.signature(self.fn).bind_partial(*args, **kwargs).arguments
        for param in inspect.signature(self.fn).parameters:
            if param not in bound and param in resources:
                kwargs[param] = resources[param]
        if self.uses_context and "context" not in bound:
            raise DefinitionError(f"Asset '{self.key}' takes a context: call it with "
                                  "context=build_context(...) (from orchestrator).")
        return self.fn(*args, **kwargs)

    def effective_backfill_policy(self, io_writes_ranges: bool = False) -> BackfillPolicy:
        """Explicit policy, else one run for the whole range for batch runners (dbt), functions that
        take a PartitionRange and assets whose IO manager writes ranges (Iceberg), else one run per
        partition."""
        if self.backfill_policy is not None:
            return self.backfill_policy
        if self.runner is not None or self.range_parameter is not None or io_writes_ranges:
            return BackfillPolicy.single_run()
        return BackfillPolicy.per_partition()

    @property
    def dep_keys(self) -> tuple[AssetKey, ...]:
        return tuple(d.key for d in self.deps)

    def with_changes(self, **changes: Any) -> AssetDefinition:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class AssetCheckDefinition:
    """A check on one asset; blocking checks stop everything downstream of the asset when they fail."""

    def __reduce__(self) -> tuple:
        # Positional and fast: the default for slotted dataclasses calls fields() per object.
        return (type(self), tuple(getattr(self, name) for name in self.__dataclass_fields__))

    name: str
    asset: AssetKey
    fn: Callable[..., Any] | None = None
    parameter: str | None = None
    blocking: bool = False
    description: str | None = None
    kind: str = PYTHON
    uses_context: bool = False
    extra_deps: tuple[AssetKey, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.asset}:{self.name}"


def _as_key_tuple(items: Iterable[str | AssetKey] | None) -> tuple[AssetKey, ...]:
    return tuple(AssetKey.coerce(item) for item in (items or ()))


def _source_hash(fn: Callable[..., Any]) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(fn)).encode()
    except (OSError, TypeError):  # no source file (exec'd code): hash the compiled code instead
        code = getattr(fn, "__code__", None)
        source = repr((code.co_code, code.co_consts, code.co_names)).encode() if code else b""
    return hashlib.sha256(source).hexdigest()[:16]


LOADED_FILE_MODULE = "_orch_defs_"
"""The prefix of the unique module names given to definitions files loaded by path."""


def _module_name(fn: Callable[..., Any]) -> str:
    """The module as the user knows it: a definitions file loaded by path is its file's stem, not
    the internal unique name it was imported under."""
    module = fn.__module__ or "?"
    code = getattr(fn, "__code__", None)
    if module.startswith(LOADED_FILE_MODULE) and code is not None:
        return os.path.splitext(os.path.basename(code.co_filename))[0]
    return module


def _origin(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    where = f"{code.co_filename}:{code.co_firstlineno}" if code else "?"
    return f"{_module_name(fn)}.{fn.__qualname__} ({where})"


def _tags(tags: Iterable[str] | Mapping[str, str] | None) -> frozenset[str]:
    if tags is None:
        return frozenset()
    if isinstance(tags, Mapping):
        return frozenset(f"{k}={v}" if v else k for k, v in tags.items())
    if isinstance(tags, str):
        return frozenset({tags})
    return frozenset(tags)


def _is_partition_range(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] == "PartitionRange"
    return annotation is PartitionRange


def _is_resource_class(fn: Callable[..., Any], annotation: Any) -> bool:
    """An annotation naming a resource class (anything with a `for_run` lifecycle, such as a
    ConfigurableResource), also as a string under `from __future__ import annotations`."""
    if isinstance(annotation, str):
        annotation = getattr(fn, "__globals__", {}).get(annotation.rsplit(".", 1)[-1])
    return isinstance(annotation, type) and callable(getattr(annotation, "for_run", None))


def _parameter_deps(
    fn: Callable[..., Any], prefix: tuple[str, ...], inputs: Mapping[str, str | AssetKey]
) -> tuple[tuple[AssetDep, ...], bool, str | None, tuple[str, ...]]:
    deps: list[AssetDep] = []
    uses_context = False
    range_parameter = None
    resources: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.name in RESERVED_PARAMETERS:
            uses_context = True
            continue
        if _is_partition_range(param.annotation):  # injected: the range this run covers
            range_parameter = param.name
            continue
        if param.name not in inputs and _is_resource_class(fn, param.annotation):
            resources.append(param.name)
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"{_origin(fn)}: *args/**kwargs cannot name upstream assets.")
        if param.name in inputs:
            key = AssetKey.coerce(inputs[param.name])
        else:
            # A bare parameter name refers to a sibling under the same prefix.
            key = AssetKey((*prefix, param.name))
        deps.append(AssetDep(key, param.name, optional=param.default is not param.empty))
    return tuple(deps), uses_context, range_parameter, tuple(resources)


def asset(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    ins: Mapping[str, str | AssetKey] | None = None,
    deps: Iterable[str | AssetKey] | None = None,
    group: str | None = None,
    tags: Iterable[str] | Mapping[str, str] | None = None,
    kinds: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    code_version: str | None = None,
    io_manager: str = "io_manager",
    partitions: PartitionsDefinition | None = None,
    retry: RetryPolicy | int | None = None,
    schema_change: str = "warn",
    backfill_policy: BackfillPolicy | None = None,
    partition_mappings: Mapping[str, Any] | None = None,
    column_lineage: Mapping[str, Any] | None = None,
    pool: str | None = None,
    automation: Any = None,
    freshness: Any = None,
    hints: ComputeHints | Mapping[str, Any] | None = None,
) -> Any:
    """Declare a Python function as an asset; its parameter names are its upstream assets.

    `context` is reserved for the run context; a parameter named after a resource of the
    Definitions (or annotated with a resource class) receives that resource, not an upstream value;
    a parameter with a default is an optional dependency;
    `ins` maps a parameter to a key elsewhere; `deps` adds order-only dependencies. A parameter
    annotated `PartitionRange` receives the range of partitions the run covers, and makes a
    backfill run the whole range at once (`backfill_policy` overrides).
    `schema_change` says what happens when a table's schema differs from its last
    materialization: "warn" (a log event, the default), "block" (the step fails, nothing is
    written) or "ignore". `pool` names a slot limit its runs hold (`Definitions(pools=...)`);
    `automation` (an AutomationCondition) lets the daemon materialize it by itself; `freshness`
    (a FreshnessPolicy) says how old its data may get.

    >>> @asset(group="demo")
    ... def orders(): return [1, 2]
    >>> @asset
    ... def order_count(orders): return len(orders)
    >>> order_count.deps[0].key
    AssetKey('orders')
    """

    if schema_change not in SCHEMA_CHANGE_POLICIES:
        raise DefinitionError(f"schema_change must be one of {SCHEMA_CHANGE_POLICIES}, not '{schema_change}'.")

    def build(func: Callable[..., Any]) -> AssetDefinition:
        prefix = (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix or ())
        param_deps, uses_context, range_parameter, resource_params = _parameter_deps(func, prefix, ins or {})
        order_deps = tuple(AssetDep(k) for k in _as_key_tuple(deps))
        mappings = dict(partition_mappings or {})
        unknown = set(mappings) - {d.parameter for d in param_deps} - {str(d.key) for d in param_deps + order_deps}
        if unknown:
            raise DefinitionError(f"{_origin(func)}: partition_mappings name {sorted(unknown)}, which are "
                                  "neither parameters nor upstream keys of the asset.")
        param_deps = tuple(replace(d, mapping=mappings.get(d.parameter) or mappings.get(str(d.key)))
                           for d in param_deps)
        retry_policy = RetryPolicy(retry) if isinstance(retry, int) else (retry or RetryPolicy())
        compute_hints = ComputeHints.coerce(hints)
        return AssetDefinition(
            key=AssetKey((*prefix, name or func.__name__)),
            kind=PYTHON,
            fn=func,
            deps=param_deps + order_deps,
            group=group or "default",
            tags=_tags(tags),
            kinds=frozenset(kinds or {"python"}),
            owners=tuple(owners or ()),
            description=description or inspect.getdoc(func),
            metadata={**(metadata or {}), **({"column_lineage": dict(column_lineage)} if column_lineage else {})},
            code_version=code_version or _source_hash(func),
            io_manager=io_manager,
            partitions=partitions,
            retry=retry_policy,
            path=_relative_path(func),
            fqn=(*_module_parts(func), name or func.__name__),
            origin=_origin(func),
            uses_context=uses_context,
            schema_change=schema_change,
            backfill_policy=backfill_policy,
            range_parameter=range_parameter,
            pool=pool,
            automation=automation,
            freshness=_freshness_policy(freshness),
            hints=compute_hints,
            resource_parameters=resource_params,
        )

    return build(fn) if fn is not None else build


def _freshness_policy(value: Any) -> Any:
    """A FreshnessPolicy as given, or built from a mapping (dbt's `meta.freshness`)."""
    if value is None or not isinstance(value, Mapping):
        return value
    from orchestrator.automation.freshness import FreshnessPolicy

    return FreshnessPolicy.from_mapping(value)


def _module_parts(fn: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(_module_name(fn).split(".")) if fn.__module__ else ()


def _relative_path(fn: Callable[..., Any]) -> str | None:
    code = getattr(fn, "__code__", None)
    return code.co_filename if code else None


def AssetSpec(  # noqa: N802 - reads as a type at call sites, like dataclasses
    key: str | AssetKey | Sequence[str],
    *,
    deps: Iterable[str | AssetKey] | None = None,
    group: str | None = None,
    tags: Iterable[str] | Mapping[str, str] | None = None,
    kinds: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    io_manager: str = "io_manager",
    partitions: PartitionsDefinition | None = None,
    freshness: Any = None,
) -> AssetDefinition:
    """Declare an asset computed elsewhere (a table another system loads); it is never executed.

    `freshness` (a FreshnessPolicy) is checked against the materializations the store records for it."""
    asset_key = AssetKey.coerce(key)
    return AssetDefinition(
        key=asset_key,
        kind=EXTERNAL,
        deps=tuple(AssetDep(k) for k in _as_key_tuple(deps)),
        group=group or "default",
        tags=_tags(tags),
        kinds=frozenset(kinds or ()),
        owners=tuple(owners or ()),
        description=description,
        metadata=dict(metadata or {}),
        io_manager=io_manager,
        partitions=partitions,
        resource_type=EXTERNAL,
        fqn=asset_key.path,
        origin=f"AssetSpec({str(asset_key)!r})",
        executable=False,
        freshness=_freshness_policy(freshness),
    )


def asset_check(
    fn: Callable[..., Any] | None = None,
    *,
    asset: str | AssetKey | AssetDefinition,
    name: str | None = None,
    blocking: bool = False,
    description: str | None = None,
) -> Any:
    """Declare a check on `asset`; the function receives the asset's value by parameter name.

    It returns a bool or a CheckResult. `blocking=True` skips everything downstream of the asset
    when the check fails.
    """
    target = asset.key if isinstance(asset, AssetDefinition) else AssetKey.coerce(asset)

    def build(func: Callable[..., Any]) -> AssetCheckDefinition:
        params = [p for p in inspect.signature(func).parameters if p not in RESERVED_PARAMETERS]
        if len(params) > 1:
            raise DefinitionError(
                f"{_origin(func)}: a check receives one asset value; got parameters {params}."
            )
        return AssetCheckDefinition(
            name=name or func.__name__,
            asset=target,
            fn=func,
            parameter=params[0] if params else None,
            blocking=blocking,
            description=description or inspect.getdoc(func),
            uses_context="context" in inspect.signature(func).parameters,
        )

    return build(fn) if fn is not None else build
