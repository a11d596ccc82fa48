"""AutomationCondition: when the daemon should materialize an asset by itself. Pure: a condition is
a value; evaluating it reads an AssetView (facts from one store snapshot and the clock).

Composable with `&`, `|` and `~`. Each evaluation says which sub-conditions decided, so
`orch automation evaluate` explains why an asset runs or does not.

    AutomationCondition.eager()            # an upstream changed (or it is missing), nothing upstream
                                           # is missing or in progress, it is not in progress itself
    AutomationCondition.on_cron("0 2 * * *", "Europe/Berlin")
    AutomationCondition.on_missing()
    AutomationCondition.any_deps_updated() & ~AutomationCondition.check_failed()
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from orchestrator.automation.cron import CronSchedule
from orchestrator.errors import DefinitionError


class AssetView(Protocol):
    """What a condition may ask about one asset in one evaluation (see evaluate.py)."""

    def missing(self) -> bool: ...
    def requested_for_current_inputs(self) -> bool: ...
    def updated_deps(self) -> list[str]: ...
    def missing_deps(self) -> list[str]: ...
    def in_progress_deps(self) -> list[str]: ...
    def in_progress(self) -> bool: ...
    def code_version_change(self) -> str | None: ...
    def data_version_change(self) -> str | None: ...
    def failed_checks(self) -> list[str]: ...
    def cron_tick_passed(self, cron: CronSchedule) -> dt.datetime | None: ...
    def deps_not_updated_since(self, moment: dt.datetime) -> list[str]: ...


class Verdict(NamedTuple):  # a tuple: built 100,000s of times per evaluation
    value: bool
    reasons: tuple[str, ...]


def _names(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"'{i}'" for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class AutomationCondition(ABC):
    """A condition on one asset; build them with the factories below and combine with & | ~."""

    @abstractmethod
    def evaluate(self, view: AssetView) -> Verdict: ...

    @abstractmethod
    def describe(self) -> str: ...

    def crons(self) -> tuple[CronSchedule, ...]:
        """The cron schedules inside: a request records the tick it covered."""
        return ()

    def __and__(self, other: AutomationCondition) -> AutomationCondition:
        return All((self, other))

    def __or__(self, other: AutomationCondition) -> AutomationCondition:
        return Any_((self, other))

    def __invert__(self) -> AutomationCondition:
        return Not(self)

    def __repr__(self) -> str:
        return f"AutomationCondition({self.describe()})"

    # -- operands ---------------------------------------------------------------------------------

    @staticmethod
    def missing() -> AutomationCondition:
        return Missing()

    @staticmethod
    def newly_missing() -> AutomationCondition:
        """Missing, and not requested yet since it went missing."""
        return Missing() & ~Requested()

    @staticmethod
    def any_deps_updated() -> AutomationCondition:
        """An upstream's data version differs from what this asset last read (or an upstream is
        requested in this same evaluation), and it was not requested for these inputs already."""
        return DepsUpdated() & ~Requested()

    @staticmethod
    def any_deps_missing() -> AutomationCondition:
        return DepsMissing()

    @staticmethod
    def any_deps_in_progress() -> AutomationCondition:
        return DepsInProgress()

    @staticmethod
    def in_progress() -> AutomationCondition:
        return InProgress()

    @staticmethod
    def code_version_changed() -> AutomationCondition:
        return CodeVersionChanged() & ~Requested()

    @staticmethod
    def data_version_changed() -> AutomationCondition:
        """Its own data version changed since the previous evaluation."""
        return DataVersionChanged()

    @staticmethod
    def check_failed() -> AutomationCondition:
        return CheckFailed()

    @staticmethod
    def cron_tick_passed(cron: str, timezone: str = "UTC") -> AutomationCondition:
        return CronTickPassed(CronSchedule(cron, timezone))

    @staticmethod
    def all_deps_updated_since_cron(cron: str, timezone: str = "UTC") -> AutomationCondition:
        return DepsUpdatedSinceCron(CronSchedule(cron, timezone))

    # -- the usual policies -----------------------------------------------------------------------

    @staticmethod
    def eager() -> AutomationCondition:
        c = AutomationCondition
        return Named("eager", (c.newly_missing() | c.any_deps_updated() | c.code_version_changed())
                     & ~c.any_deps_missing() & ~c.any_deps_in_progress() & ~c.in_progress())

    @staticmethod
    def on_cron(cron: str, timezone: str = "UTC") -> AutomationCondition:
        c = AutomationCondition
        return Named(f"on_cron({cron!r}, {timezone!r})",
                     c.cron_tick_passed(cron, timezone) & c.all_deps_updated_since_cron(cron, timezone)
                     & ~c.in_progress())

    @staticmethod
    def on_missing() -> AutomationCondition:
        c = AutomationCondition
        return Named("on_missing", c.newly_missing() & ~c.any_deps_missing() & ~c.in_progress())

    @staticmethod
    def parse(spec: Any) -> AutomationCondition:
        """From dbt's `meta.automation`: "eager", "on_missing" or {"on_cron": CRON, "timezone": TZ}."""
        if isinstance(spec, AutomationCondition):
            return spec
        if spec in ("eager", "on_missing"):
            return getattr(AutomationCondition, spec)()
        if isinstance(spec, dict) and "on_cron" in spec:
            return AutomationCondition.on_cron(spec["on_cron"], spec.get("timezone", "UTC"))
        raise DefinitionError(f"automation {spec!r}: use 'eager', 'on_missing' or {{on_cron: '0 2 * * *'}}.")


@dataclass(frozen=True, repr=False)
class Named(AutomationCondition):
    name: str
    inner: AutomationCondition

    def evaluate(self, view: AssetView) -> Verdict:
        return self.inner.evaluate(view)

    def describe(self) -> str:
        return self.name

    def crons(self) -> tuple[CronSchedule, ...]:
        return self.inner.crons()


@dataclass(frozen=True, repr=False)
class All(AutomationCondition):
    parts: tuple[AutomationCondition, ...]

    def __post_init__(self) -> None:  # (a & b) & c is one All of three
        flat: list[AutomationCondition] = []
        for part in self.parts:
            flat.extend(part.parts if isinstance(part, All) else (part,))
        object.__setattr__(self, "parts", tuple(flat))

    def evaluate(self, view: AssetView) -> Verdict:
        reasons: list[str] = []
        for part in self.parts:
            verdict = part.evaluate(view)
            if not verdict.value:
                return Verdict(False, verdict.reasons)
            reasons.extend(verdict.reasons)
        return Verdict(True, tuple(reasons))

    def describe(self) -> str:
        return " & ".join(_wrap(p) for p in self.parts)

    def crons(self) -> tuple[CronSchedule, ...]:
        return tuple(c for p in self.parts for c in p.crons())


@dataclass(frozen=True, repr=False)
class Any_(AutomationCondition):
    parts: tuple[AutomationCondition, ...]

    def __post_init__(self) -> None:
        flat: list[AutomationCondition] = []
        for part in self.parts:
            flat.extend(part.parts if isinstance(part, Any_) else (part,))
        object.__setattr__(self, "parts", tuple(flat))

    def evaluate(self, view: AssetView) -> Verdict:
        reasons: list[str] = []
        for part in self.parts:
            verdict = part.evaluate(view)
            if verdict.value:
                return Verdict(True, verdict.reasons)
            reasons.extend(verdict.reasons)
        return Verdict(False, tuple(reasons))

    def describe(self) -> str:
        return " | ".join(_wrap(p) for p in self.parts)

    def crons(self) -> tuple[CronSchedule, ...]:
        return tuple(c for p in self.parts for c in p.crons())


@dataclass(frozen=True, repr=False)
class Not(AutomationCondition):
    inner: AutomationCondition

    def evaluate(self, view: AssetView) -> Verdict:
        verdict = self.inner.evaluate(view)
        return Verdict(not verdict.value, verdict.reasons)

    def describe(self) -> str:
        return f"~{_wrap(self.inner)}"

    def crons(self) -> tuple[CronSchedule, ...]:
        return self.inner.crons()


def _wrap(condition: AutomationCondition) -> str:
    text = condition.describe()
    return f"({text})" if isinstance(condition, (All, Any_)) else text


class _Leaf(AutomationCondition):
    name = ""

    def describe(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(vars(self).items()))))

    def verdict(self, value: bool, true: str, false: str) -> Verdict:
        return Verdict(value, (f"{self.name}: {true if value else false}",))


class Missing(_Leaf):
    name = "missing"

    def evaluate(self, view: AssetView) -> Verdict:
        return self.verdict(view.missing(), "never materialized", "it has been materialized")


class Requested(_Leaf):
    name = "requested"

    def evaluate(self, view: AssetView) -> Verdict:
        return self.verdict(view.requested_for_current_inputs(), "already requested for its current inputs",
                            "not requested for its current inputs yet")


class DepsUpdated(_Leaf):
    name = "any_deps_updated"

    def evaluate(self, view: AssetView) -> Verdict:
        updated = view.updated_deps()
        return self.verdict(bool(updated), f"{_names(updated)} changed since it last ran",
                            "no upstream changed since it last ran")


class DepsMissing(_Leaf):
    name = "any_deps_missing"

    def evaluate(self, view: AssetView) -> Verdict:
        missing = view.missing_deps()
        return self.verdict(bool(missing), f"{_names(missing)} never materialized", "no upstream is missing")


class DepsInProgress(_Leaf):
    name = "any_deps_in_progress"

    def evaluate(self, view: AssetView) -> Verdict:
        running = view.in_progress_deps()
        return self.verdict(bool(running), f"{_names(running)} queued or running", "no upstream is in progress")


class InProgress(_Leaf):
    name = "in_progress"

    def evaluate(self, view: AssetView) -> Verdict:
        return self.verdict(view.in_progress(), "a run of it is queued or running", "no run of it is in progress")


class CodeVersionChanged(_Leaf):
    name = "code_version_changed"

    def evaluate(self, view: AssetView) -> Verdict:
        change = view.code_version_change()
        return self.verdict(change is not None, change or "", "same code version as its last materialization")


class DataVersionChanged(_Leaf):
    name = "data_version_changed"

    def evaluate(self, view: AssetView) -> Verdict:
        change = view.data_version_change()
        return self.verdict(change is not None, change or "", "same data version as at the previous evaluation")


class CheckFailed(_Leaf):
    name = "check_failed"

    def evaluate(self, view: AssetView) -> Verdict:
        failed = view.failed_checks()
        return self.verdict(bool(failed), f"check {_names(failed)} failed", "no check is failing")


class _CronLeaf(_Leaf):
    def __init__(self, cron: CronSchedule) -> None:
        self.cron = cron

    def crons(self) -> tuple[CronSchedule, ...]:
        return (self.cron,)


class CronTickPassed(_CronLeaf):
    name = "cron_tick_passed"

    def describe(self) -> str:
        return f"cron_tick_passed({self.cron.expression!r}, {self.cron.timezone!r})"

    def evaluate(self, view: AssetView) -> Verdict:
        tick = view.cron_tick_passed(self.cron)
        return self.verdict(tick is not None, f"the tick at {tick.isoformat() if tick else ''} is not handled yet",
                            f"no tick of {self.cron.describe()} since it was last requested")


class DepsUpdatedSinceCron(_CronLeaf):
    name = "all_deps_updated_since_cron"

    def describe(self) -> str:
        return f"all_deps_updated_since_cron({self.cron.expression!r}, {self.cron.timezone!r})"

    def evaluate(self, view: AssetView) -> Verdict:
        tick = view.cron_tick_passed(self.cron)
        if tick is None:
            return self.verdict(True, "no tick to wait for", "")
        late = view.deps_not_updated_since(tick)
        return self.verdict(not late, f"every upstream updated since {tick.isoformat()}",
                            f"waiting for {_names(late)} to update since {tick.isoformat()}")
