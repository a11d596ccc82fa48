"""Selection: dbt's node selection grammar -> a frozen tree -> resolve(graph) -> frozenset[AssetKey].

One grammar for the CLI, the Python API and the UI. Space separates union terms, ',' inside a term
intersects, and each atom is ``[@][N+][method:]value[+N]``:

    orders          the asset named 'orders' (any key prefix), or the key 'orders'
    marts/orders    the key 'marts/orders' (a value with '/' is a full key)
    stg_*           a glob on names and on key strings; '*' alone is everything
    +orders         orders and all its ancestors; 2+orders: ancestors up to 2 hops
    orders+         orders and all its descendants; orders+1: direct children
    @orders         orders, its descendants, and all ancestors of those descendants
    tag:nightly     a method; see METHODS and DOTTED_METHODS (config.<key>:, meta.<key>:)
    state:modified  against a previous state given to resolve() (slim CI; orchestrator.state)

A bare name that matches nothing is an error with a suggestion; a method that matches nothing selects
nothing, as in dbt. Resolving reads only the graph it is given.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import translate
from functools import lru_cache
from typing import Any, TypeAlias

from orchestrator.assets import AssetDefinition
from orchestrator.errors import SelectionError, UnknownAssetError, did_you_mean
from orchestrator.graph import AssetGraph
from orchestrator.keys import AssetKey
from orchestrator.state import StateComparison

__all__ = [
    "ALL",
    "DOTTED_METHODS",
    "METHODS",
    "Atom",
    "Intersection",
    "Selection",
    "Union",
    "parse_selection",
    "resolve",
]

GLOB_CHARS = frozenset("*?[")


class _All(enum.Enum):
    """The depth of a '+' without a number: every ancestor or descendant."""

    ALL = "all"

    def __repr__(self) -> str:
        return "ALL"


ALL = _All.ALL


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Atom:
    """One selector: a method and a value, with graph operators around it.

    ``method`` is None for a bare value (name, key or glob). Depths are None (no operator), an int
    (hops) or ALL. ``at`` is dbt's '@' operator.
    """

    method: str | None
    value: str
    parents_depth: int | _All | None = None
    children_depth: int | _All | None = None
    at: bool = False

    def __str__(self) -> str:
        text = f"{self.method}:{self.value}" if self.method is not None else self.value
        if self.parents_depth is not None:
            text = f"{_depth_text(self.parents_depth)}+{text}"
        if self.children_depth is not None:
            text = f"{text}+{_depth_text(self.children_depth)}"
        return f"@{text}" if self.at else text


@dataclass(frozen=True, slots=True)
class Intersection:
    """Assets selected by every part (',' in the grammar)."""

    parts: tuple[Selection, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))

    def __str__(self) -> str:
        return ",".join(map(str, self.parts))


@dataclass(frozen=True, slots=True)
class Union:
    """Assets selected by any part (space in the grammar)."""

    parts: tuple[Selection, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))

    def __str__(self) -> str:
        return " ".join(map(str, self.parts))


Selection: TypeAlias = Union | Intersection | Atom
EVERYTHING = Atom(None, "*")


def _depth_text(depth: int | _All) -> str:
    return "" if depth is ALL else str(depth)


# -- methods: plain tables of predicates ----------------------------------------------------------


@lru_cache(maxsize=4096)
def _matcher(pattern: str) -> Callable[[str], bool]:
    """Equality, or a case-sensitive fnmatch compiled once per pattern."""
    if GLOB_CHARS.isdisjoint(pattern):
        return pattern.__eq__
    match = re.compile(translate(pattern)).match
    return lambda text: match(text) is not None


def _any_matches(values: Any, pattern: str) -> bool:
    matches = _matcher(pattern)
    return any(matches(v) for v in values)


def _value_matches(actual: Any, pattern: str) -> bool:
    """Compare a config or meta value as a string; bools as 'true'/'false'; lists by any item."""
    if actual is None or isinstance(actual, Mapping):
        return False
    if isinstance(actual, (list, tuple, set, frozenset)):
        return any(_value_matches(item, pattern) for item in actual)
    text = str(actual).lower() if isinstance(actual, bool) else str(actual)
    return _matcher(pattern)(text)


def _lookup(mapping: Mapping[str, Any], dotted: str) -> Any:
    value: Any = mapping
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@lru_cache(maxsize=1024)
def _path_matcher(value: str) -> Callable[[str], bool]:
    """dbt's path: the path itself or a directory above it; globs as a filesystem's ('*' stays in
    one directory, '**/' spans any number of them)."""
    pattern = value.replace("\\", "/").removeprefix("./").rstrip("/")
    if GLOB_CHARS.isdisjoint(pattern):
        return lambda path: path == pattern or path.startswith(pattern + "/")
    regex = re.compile("".join(map(_path_token, _PATH_TOKENS.split(pattern))) + r"(?:/.*)?\Z", re.S)
    return lambda path: regex.match(path) is not None


_PATH_TOKENS = re.compile(r"(\*\*/?|\*|\?|\[!?\]?[^]]*\])")


def _path_token(token: str) -> str:
    if token.startswith("**"):
        return "(?:.*/)?" if token.endswith("/") else ".*"
    if token in ("*", "?"):
        return "[^/]*" if token == "*" else "[^/]"
    if token.startswith("[") and token.endswith("]") and len(token) > 2:
        body = token[1:-1]
        return "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
    return re.escape(token)


def _by_path(asset: AssetDefinition, value: str) -> bool:
    if not asset.path:
        return False
    return _path_matcher(value)(asset.path.replace("\\", "/").removeprefix("./"))


def _by_fqn(asset: AssetDefinition, value: str) -> bool:
    """dbt's fqn: the last component, or a '.'-separated prefix; from the first glob part on,
    the rest of the fqn is matched as one glob (as dbt does)."""
    fqn = asset.fqn
    if not fqn:
        return False
    if _matcher(value)(fqn[-1]):
        return True
    flat = [item for part in fqn for item in part.split(".")]
    wanted = value.split(".")
    if len(flat) < len(wanted):
        return False
    for i, part in enumerate(wanted):
        if not GLOB_CHARS.isdisjoint(part):
            return _matcher(".".join(wanted[i:]))(".".join(flat[i:]))
        if flat[i] != part:
            return False
    return True


def _by_source(asset: AssetDefinition, value: str) -> bool:
    """dbt sources: 'source_name' or 'source_name.table'. The source name is read from
    metadata['dbt_source_name'] (also carried by a Python asset that produces a dbt source), the
    table name is the key's name; globs allowed per part."""
    if "dbt_source_name" not in asset.metadata:
        return False
    source, _, table = value.partition(".")
    return _matcher(source)(str(asset.metadata.get("dbt_source_name", ""))) and (
        not table or _matcher(table)(asset.key.name)
    )


METHODS: dict[str, Callable[[AssetDefinition, str], bool]] = {
    "key": lambda a, v: _matcher(v.strip("/"))(str(a.key)),
    "name": lambda a, v: _matcher(v)(a.key.name),
    "group": lambda a, v: _matcher(v)(a.group),
    "kind": lambda a, v: _matcher(v)(a.kind) or _any_matches(a.kinds, v),
    "owner": lambda a, v: _any_matches(a.owners, v),
    "tag": lambda a, v: _any_matches(a.tags, v),
    "path": _by_path,
    "resource_type": lambda a, v: _matcher(v)(a.resource_type),
    "fqn": _by_fqn,
    "source": _by_source,
    "test_type": lambda a, v: _any_matches(a.metadata.get("test_types", ()), v),
}
"""Selection methods: ``method:value`` selects the assets for which ``METHODS[method](asset, value)``."""

DOTTED_METHODS: dict[str, Callable[[AssetDefinition, str, str], bool]] = {
    "config": lambda a, key, v: _value_matches(_lookup(a.config, key), v),
    "meta": lambda a, key, v: _value_matches(_lookup(a.metadata, key), v),
}
"""``prefix.<key>:value`` methods: ``DOTTED_METHODS[prefix](asset, key, value)``; keys may nest (a.b)."""


STATE_METHOD = "state"
"""`state:<value>` compares the graph with a previous state (see orchestrator.state)."""


def _needs_state(asset: AssetDefinition, value: str) -> bool:
    raise SelectionError("'state:' is resolved against a previous state, not per asset.")


def _predicate(method: str, where: str, position: int) -> Callable[[AssetDefinition, str], bool]:
    if method in METHODS:
        return METHODS[method]
    if method == STATE_METHOD:
        return _needs_state
    prefix, dot, key = method.partition(".")
    if dot and key and prefix in DOTTED_METHODS:
        dotted = DOTTED_METHODS[prefix]
        return lambda asset, value: dotted(asset, key, value)
    known = sorted([*METHODS, STATE_METHOD]) + [f"{p}.<key>" for p in sorted(DOTTED_METHODS)]
    hint = did_you_mean(method, [*METHODS, STATE_METHOD, *DOTTED_METHODS])
    if prefix in DOTTED_METHODS and not key:
        hint = f" Use '{prefix}.<key>:value'."
    raise _syntax_error(
        where, position, f"unknown selection method '{method}'.{hint} Known methods: {', '.join(known)}."
    )


# -- parsing -----------------------------------------------------------------------------------


def parse_selection(text: str) -> Selection:
    """Parse a selection string into a frozen, cached tree; blank text means everything ('*').

    >>> parse_selection("+orders")
    Atom(method=None, value='orders', parents_depth=ALL, children_depth=None, at=False)
    >>> parse_selection("2+tag:nightly,group:marts stg_*+1")  # doctest: +NORMALIZE_WHITESPACE
    Union(parts=(Intersection(parts=(Atom(method='tag', value='nightly', parents_depth=2,
        children_depth=None, at=False), Atom(method='group', value='marts', parents_depth=None,
        children_depth=None, at=False))), Atom(method=None, value='stg_*', parents_depth=None,
        children_depth=1, at=False)))
    >>> str(parse_selection("@orders  config.materialized:table"))
    '@orders config.materialized:table'
    """
    if not isinstance(text, str):
        raise TypeError(f"A selection is a string, got {type(text).__name__}: {text!r}")
    return _parse(text)


@lru_cache(maxsize=1024)
def _parse(text: str) -> Selection:
    terms = [_parse_term(text, m.group(), m.start()) for m in re.finditer(r"\S+", text)]
    if not terms:
        return EVERYTHING
    return terms[0] if len(terms) == 1 else Union(tuple(terms))


def _parse_term(text: str, term: str, offset: int) -> Selection:
    atoms, position = [], offset
    for piece in term.split(","):
        if not piece:
            raise _syntax_error(text, position, "empty term around ','.")
        atoms.append(_parse_atom(text, piece, position))
        position += len(piece) + 1
    return atoms[0] if len(atoms) == 1 else Intersection(tuple(atoms))


_PARENTS = re.compile(r"(\d*)\+")
_CHILDREN = re.compile(r"\+(\d*)\Z")


def _parse_atom(text: str, atom: str, offset: int) -> Atom:
    at = atom.startswith("@")
    start = 1 if at else 0
    parents: int | _All | None = None
    if match := _PARENTS.match(atom, start):
        if at:
            raise _syntax_error(
                text, offset, f"'@' cannot be combined with a leading '{match.group()}' in '{atom}': "
                "'@' already selects ancestors."
            )
        parents = int(match.group(1)) if match.group(1) else ALL
        start = match.end()
    end, children = len(atom), None
    if (match := _CHILDREN.search(atom)) and match.start() >= start:
        children = int(match.group(1)) if match.group(1) else ALL
        end = match.start()
    body = atom[start:end]
    if not body:
        raise _syntax_error(
            text, offset + start, f"'{atom}' has an operator but no name or method:value."
        )
    method, colon, value = body.partition(":")
    if not colon:
        method, value = None, body
    elif not method:
        raise _syntax_error(text, offset + start, f"'{body}' has no method before ':'.")
    elif not value:
        raise _syntax_error(text, offset + start + len(body), f"'{method}:' needs a value after ':'.")
    else:
        _predicate(method, text, offset + start)
    if "+" in value:
        where = offset + end - len(value) + value.index("+")
        raise _syntax_error(text, where, f"unexpected '+' inside '{atom}'.")
    return Atom(method, value, parents, children, at)


def _syntax_error(text: str, position: int, message: str) -> SelectionError:
    return SelectionError(
        f"Invalid selection '{text}' at position {position}: {message}\n  {text}\n  {' ' * position}^"
    )


# -- resolving ---------------------------------------------------------------------------------


def resolve(
    selection: str | Selection | None,
    graph: AssetGraph,
    exclude: str | Selection | None = None,
    state: StateComparison | None = None,
) -> frozenset[AssetKey]:
    """The keys of `graph` that `selection` picks, minus those `exclude` picks.

    Union, intersection and exclusion are set algebra over the atoms; each atom applies its graph
    operators to what its method matched. A blank or None selection is everything; a blank or None
    exclude is nothing. `state:` atoms select from `state`, the comparison of this graph with a
    previous one.

    >>> from orchestrator.assets import AssetSpec
    >>> graph = AssetGraph([
    ...     AssetSpec("raw_orders", tags=["nightly"]),
    ...     AssetSpec("marts/orders", deps=["raw_orders"], group="marts"),
    ...     AssetSpec("marts/revenue", deps=["marts/orders"], group="marts"),
    ... ])
    >>> sorted(map(str, resolve("+orders", graph)))
    ['marts/orders', 'raw_orders']
    >>> sorted(map(str, resolve("tag:nightly+ group:marts", graph, exclude="revenue")))
    ['marts/orders', 'raw_orders']
    >>> resolve("+ordres", graph)
    Traceback (most recent call last):
    ...
    orchestrator.errors.UnknownAssetError: No asset 'ordres' in selection '+ordres'. Did you mean 'orders'?
    """
    selected = _Resolver(graph, selection, "selection", state).run()
    if exclude is None or (isinstance(exclude, str) and not exclude.strip()):
        return frozenset(selected)
    return frozenset(selected - _Resolver(graph, exclude, "exclude", state).run())


class _Resolver:
    def __init__(self, graph: AssetGraph, selection: str | Selection | None, label: str,
                 state: StateComparison | None = None) -> None:
        self.state = state
        if selection is None or isinstance(selection, str):
            self.tree = parse_selection(selection or "")
        elif isinstance(selection, (Atom, Intersection, Union)):
            self.tree = selection
        else:
            raise TypeError(f"A selection is a string or a parsed Selection, got {selection!r}")
        self.graph, self.label = graph, label
        self.text = selection if isinstance(selection, str) else str(self.tree)

    def run(self) -> set[AssetKey]:
        return self.evaluate(self.tree)

    def evaluate(self, node: Selection) -> set[AssetKey]:
        if isinstance(node, Atom):
            return self.atom(node)
        results = [self.evaluate(part) for part in node.parts]
        if not results:
            return set()
        if isinstance(node, Intersection):
            return set.intersection(*results)
        if isinstance(node, Union):
            return set.union(*results)
        raise TypeError(f"Not a selection node: {node!r}")

    def atom(self, atom: Atom) -> set[AssetKey]:
        base = self.matches(atom)
        result = set(base)
        if atom.parents_depth is not None:
            result |= self.graph.upstream(base, _hops(atom.parents_depth))
        if atom.children_depth is not None:
            result |= self.graph.downstream(base, _hops(atom.children_depth))
        if atom.at:
            descendants = base | self.graph.downstream(base)
            result |= descendants | self.graph.upstream(descendants)
        return result

    def matches(self, atom: Atom) -> set[AssetKey]:
        if atom.method is None:
            return self.named(atom.value)
        if atom.method == STATE_METHOD:
            if self.state is None:
                raise SelectionError(f"'{atom}' in {self.label} '{self.text}' compares with a previous state: "
                                     "pass --state DIR (written by `orch state save DIR`).")
            return self.state.select(atom.value) & set(self.graph.assets)
        predicate = _predicate(atom.method, self.text, max(self.text.find(f"{atom.method}:"), 0))
        value = atom.value
        return {key for key, asset in self.graph.assets.items() if predicate(asset, value)}

    def named(self, value: str) -> set[AssetKey]:
        """The default method: a name or a full key, or a glob on names and key strings."""
        if value == "*":
            return set(self.graph.assets)
        if not GLOB_CHARS.isdisjoint(value):
            matches = _matcher(value)
            return {k for k in self.graph.assets if matches(k.name) or matches(str(k))}
        found = set() if "/" in value else set(self.graph.keys_named(value))
        try:
            key = AssetKey.parse(value)
        except ValueError:
            key = None
        if key is not None and key in self.graph:
            found.add(key)
        if not found:
            candidates = {k.name for k in self.graph.assets} | {str(k) for k in self.graph.assets}
            raise UnknownAssetError(
                f"No asset '{value}' in {self.label} '{self.text}'.{did_you_mean(value, candidates)}"
            )
        return found


def _hops(depth: int | _All) -> int | None:
    return None if depth is ALL else depth
