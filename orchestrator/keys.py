"""AssetKey: the one identity of an asset, with exactly one string form."""

from __future__ import annotations

from dataclasses import dataclass, field

SEPARATOR = "/"


@dataclass(frozen=True, order=True, slots=True)
class AssetKey:
    """A path of non-empty components; its string form joins them with '/'.

    >>> AssetKey.parse("marts/orders")
    AssetKey('marts/orders')
    >>> str(AssetKey(("marts", "orders")))
    'marts/orders'
    """

    path: tuple[str, ...]
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(self.path))  # keys are hashed constantly
        if not self.path:
            raise ValueError("An asset key needs at least one component.")
        for part in self.path:
            if not isinstance(part, str) or not part or SEPARATOR in part:
                raise ValueError(
                    f"Invalid asset key component {part!r} in {self.path!r}: "
                    f"components are non-empty strings without '{SEPARATOR}'."
                )

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:  # the generated one is slow, and keys are compared constantly
        if self is other:
            return True
        if other.__class__ is AssetKey:
            return self._hash == other._hash and self.path == other.path  # type: ignore[attr-defined]
        return NotImplemented

    def __reduce__(self) -> tuple:
        # Rebuilt from the path: string hashes differ between processes, the cache must not travel.
        return (AssetKey, (self.path,))

    @classmethod
    def parse(cls, text: str) -> AssetKey:
        """Parse the string form ('a/b/c')."""
        parts = tuple(text.strip().strip(SEPARATOR).split(SEPARATOR))
        return cls(parts)

    @classmethod
    def coerce(cls, value: str | AssetKey | tuple[str, ...] | list[str]) -> AssetKey:
        """The public boundary: accept a key, its string form or a sequence of parts."""
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, (tuple, list)):
            return cls(tuple(value))
        raise TypeError(f"Cannot make an AssetKey from {type(value).__name__}: {value!r}")

    @property
    def name(self) -> str:
        """The last component, the name dbt-style selection matches."""
        return self.path[-1]

    @property
    def prefix(self) -> tuple[str, ...]:
        return self.path[:-1]

    def with_prefix(self, *prefix: str) -> AssetKey:
        return AssetKey((*prefix, *self.path))

    def __str__(self) -> str:
        return SEPARATOR.join(self.path)

    def __repr__(self) -> str:
        return f"AssetKey({str(self)!r})"
