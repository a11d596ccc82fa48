"""ConfigurableResource and EnvVar: configured objects (a warehouse, an API client) that assets
receive by parameter name, set up once per run and torn down when it ends.

    class Warehouse(ConfigurableResource):
        path: str
        threads: int = 4

    defs = Definitions(assets=[...], resources={"warehouse": Warehouse(path=EnvVar("WAREHOUSE_PATH"))})

Fields are validated by pydantic when the resource is made; a field given as `EnvVar("NAME")` is
read and validated when a run first uses the resource, and its value is never shown (repr, errors,
events). The run lifecycle itself (`for_run`) is what `orchestrator.execution.run_resources` calls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from orchestrator.errors import ResourceError

MASK = "**********"


@dataclass(frozen=True, slots=True)
class EnvVar:
    """A field value read from the environment variable `name` when a run uses the resource."""

    name: str
    default: str | None = None

    def read(self, where: str) -> str:
        value = os.environ.get(self.name, self.default)
        if value is None:
            raise ResourceError(
                f"{where} reads the environment variable {self.name}, which is not set. "
                f"Set it (export {self.name}=...) or give the field a value."
            )
        return value

    def __repr__(self) -> str:
        return f"EnvVar({self.name!r})"


class ConfigurableResource(BaseModel):
    """A resource with validated fields. Override `setup()`/`teardown()` (called once per run, on
    the copy whose EnvVar fields were read), or `for_run()` to yield something else to assets."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    _secret_fields: frozenset[str] = PrivateAttr(default=frozenset())

    def __init__(self, **data: Any) -> None:
        cls = type(self)
        from_env = {name for name, value in data.items() if isinstance(value, EnvVar)}
        if not from_env:
            _validated(lambda: super(ConfigurableResource, self).__init__(**data), cls.__name__)
            return
        # EnvVar fields are read and validated at run time; the others now, one by one.
        unknown = sorted(set(data) - set(cls.model_fields))
        missing = [n for n, f in cls.model_fields.items() if f.is_required() and n not in data]
        if unknown or missing:
            raise ResourceError(f"{cls.__name__}: unknown field(s) {unknown}, missing required "
                                f"field(s) {missing}; fields: {sorted(cls.model_fields)}.")
        built = cls.model_construct(**data)
        for name, value in data.items():
            if name not in from_env:
                _validated(lambda: cls.__pydantic_validator__.validate_assignment(built, name, value),
                           cls.__name__)
        for attribute in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
            object.__setattr__(self, attribute, getattr(built, attribute))

    # -- the run lifecycle ----------------------------------------------------------------------

    def resolved(self, name: str = "resource") -> ConfigurableResource:
        """A copy with every EnvVar field read from the environment and validated."""
        env_fields = {k: v for k, v in self.__dict__.items() if isinstance(v, EnvVar)}
        if not env_fields:
            return self
        where = f"Resource '{name}' ({type(self).__name__})"
        values = {k: v for k, v in self.__dict__.items() if k in self.model_fields_set and k not in env_fields}
        values.update({k: v.read(f"{where} field '{k}'") for k, v in env_fields.items()})
        copy = type(self).__new__(type(self))
        _validated(lambda: BaseModel.__init__(copy, **values), where)
        copy._secret_fields = frozenset(env_fields)
        return copy

    def setup(self) -> None:
        """Called once per run before the first asset receives this resource."""

    def teardown(self) -> None:
        """Called once when the run ends (also when it failed or was canceled)."""

    @contextlib.contextmanager
    def for_run(self, name: str = "resource") -> Iterator[Any]:
        """What assets receive during one run: by default the resolved resource, set up."""
        ready = self.resolved(name)
        ready.setup()
        try:
            yield ready
        finally:
            ready.teardown()

    def __repr_args__(self) -> Any:
        for field, value in super().__repr_args__():
            yield field, MASK if field in self._secret_fields else value


def _validated(validate: Callable[[], object], where: str) -> None:
    """Run a pydantic validation; its errors become one ResourceError that names each field but
    shows no value (pydantic's own message repeats the input, which may be a secret)."""
    try:
        validate()
    except ValidationError as exc:
        problems = [f"field '{'.'.join(map(str, e['loc'])) or '?'}': {e['msg']}"
                    for e in exc.errors(include_url=False)]
        raise ResourceError(f"{where} is not valid: " + "; ".join(problems)) from None
