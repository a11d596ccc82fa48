"""Compiling simple dbt models without dbt: most models use only `ref`, `source`, `this`,
`config` and `{% if is_incremental() %}`, and those render by substitution in microseconds
(dbt's in-process compile costs ~7 ms a model).

A model is simple when every Jinja tag in its raw code is one of

    {{ ref('name') }}  {{ ref('package', 'name') }}  {{ source('source', 'table') }}  {{ this }}
    {{ config(...) }}  {% if [not] is_incremental() %} {% else %} {% endif %}  {# comments #}

with whitespace control (`{{-`, `-%}`) allowed. Anything else (macros, `var`, `env_var`, sets,
loops, filters, versioned refs) leaves the model to dbt. The output is what dbt writes: relations
as the manifest's `relation_name`, `is_incremental()` true for incremental models (as
`compile.IS_INCREMENTAL` makes it), and ephemeral models injected as `__dbt__cte__<name>` CTEs,
flattened and in the order dbt uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from integrations.lineage.dbt_manifest import DbtDigest, DbtNode
from integrations.lineage.prepare import EPHEMERAL_PREFIX

_TAG = re.compile(r"\{\{(-?)(.*?)(-?)\}\}|\{%(-?)(.*?)(-?)%\}|\{#(-?).*?(-?)#\}", re.S)
_STRING = r"""\s*(['"])([^'"\\]*)\{q}\s*"""
_CALL = re.compile(r"(ref|source)\(" + _STRING.format(q=2) + r"(?:," + _STRING.format(q=4) + r")?\)", re.S)
_CONFIG = re.compile(r"config\(.*\)", re.S)
_IF = re.compile(r"if\s+(not\s+)?is_incremental\(\s*\)")
_WITH = re.compile(r"\s*with\b(\s+recursive\b)?", re.I)
_OPENERS = ("{{", "{%", "{#")


class NotSimple(Exception):
    """The model needs dbt to compile."""


def render_simple(nodes: Iterable[DbtNode], digest: DbtDigest) -> dict[str, str]:
    """uid -> compiled SQL for the nodes that are simple (see the module docstring)."""
    renderer = _Renderer(digest)
    found: dict[str, str] = {}
    for node in nodes:
        try:
            found[node.uid] = renderer.compiled(node)
        except NotSimple:
            pass
    return found


class _Renderer:
    def __init__(self, digest: DbtDigest) -> None:
        self.nodes = digest.nodes
        self._bodies: dict[str, tuple[str, tuple[str, ...]]] = {}

    def compiled(self, node: DbtNode) -> str:
        """The node's SQL with its ephemeral parents injected as CTEs, as `dbt compile` gives it."""
        sql, ephemerals = self._body(node)
        ctes: dict[str, str] = {}
        for uid in ephemerals:
            self._prepend(uid, ctes)
        return inject_ctes(sql, list(ctes.values()))

    def _prepend(self, uid: str, ctes: dict[str, str]) -> None:
        if uid in ctes:
            return
        ephemeral = self.nodes[uid]
        body, nested = self._body(ephemeral)
        for inner in nested:
            self._prepend(inner, ctes)
        ctes[uid] = f" {EPHEMERAL_PREFIX}{ephemeral.name} as (\n{body}\n)"

    def _body(self, node: DbtNode) -> tuple[str, tuple[str, ...]]:
        """The rendered SQL before injection, and the ephemeral models it reads, in order."""
        if node.uid not in self._bodies:
            if node.raw_code is None:
                raise NotSimple(node.uid)
            ephemerals: list[str] = []
            sql = render(node.raw_code, lambda call: self._call(node, call, ephemerals),
                         node.materialized == "incremental")
            self._bodies[node.uid] = (sql, tuple(dict.fromkeys(ephemerals)))
        return self._bodies[node.uid]

    def _call(self, node: DbtNode, call: str, ephemerals: list[str]) -> str:
        if call == "this":
            if node.relation_name is None:
                raise NotSimple(f"{{{{ this }}}} of {node.uid}")
            return node.relation_name
        match = _CALL.fullmatch(call)
        if match is None:
            raise NotSimple(call)
        function, first, second = match.group(1), match.group(3), match.group(5)
        parent = self._parent(node, function, first, second)
        if parent.is_ephemeral:
            ephemerals.append(parent.uid)
            return EPHEMERAL_PREFIX + parent.name
        if parent.relation_name is None:
            raise NotSimple(call)
        return parent.relation_name

    def _parent(self, node: DbtNode, function: str, first: str, second: str | None) -> DbtNode:
        for uid in node.parents:
            parent = self.nodes[uid]
            if function == "source":
                if second is not None and parent.resource_type == "source" and \
                        (parent.source_name, parent.name) == (first, second):
                    return parent
            elif parent.resource_type != "source" and parent.name == (second or first):
                return parent
        raise NotSimple(f"{function}({first!r}) is not a parent of {node.uid}")


def render(raw: str, call: Callable[[str], str], incremental: bool) -> str:
    """`raw` with its tags rendered: `call(text)` for each `{{ ref/source(...) }}` and `{{ this }}`
    in a rendered branch, config as nothing; raises NotSimple on any other tag."""
    out: list[str] = []
    stack: list[bool] = []  # for each open if: is its current branch rendered
    position, strip_next = 0, False
    for match in _TAG.finditer(raw):
        text = raw[position:match.start()]
        if strip_next:
            text = text.lstrip()
        if match.group(1) or match.group(4) or match.group(7):
            text = text.rstrip()
        _literal(text)
        if all(stack):
            out.append(text)
        position, strip_next = match.end(), bool(match.group(3) or match.group(6) or match.group(8))
        if match.group(2) is not None:
            expression = match.group(2).strip()
            if _CONFIG.fullmatch(expression):
                continue
            if expression != "this" and not _CALL.fullmatch(expression):
                raise NotSimple(expression)
            if all(stack):
                out.append(call(expression))
        elif match.group(5) is not None:
            statement = " ".join(match.group(5).split())
            if (found := _IF.fullmatch(statement)) is not None:
                stack.append(incremental != bool(found.group(1)))
            elif statement == "else" and stack:
                stack[-1] = not stack[-1]
            elif statement == "endif" and stack:
                stack.pop()
            else:
                raise NotSimple(statement)
    if stack:
        raise NotSimple("unclosed if")
    text = raw[position:]
    text = text.lstrip() if strip_next else text
    _literal(text)
    out.append(text)
    return "".join(out)


def _literal(text: str) -> None:
    if any(opener in text for opener in _OPENERS):
        raise NotSimple("a tag the renderer does not know")


def inject_ctes(sql: str, ctes: list[str]) -> str:
    """dbt's injection: CTEs go first in the query's WITH, or a WITH is added."""
    if not ctes:
        return sql
    joined = ", ".join(ctes)
    found = _WITH.match(sql)
    if found is None:
        return f"with {joined} {sql}"
    return f"{sql[:found.end()]} {joined},{sql[found.end():]}"

