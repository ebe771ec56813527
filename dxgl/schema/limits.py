"""Operation limits: depth, aliases and an estimated cost, checked while the operation is validated,
before graphql-core's own rules and before any resolver runs (so a refused operation costs no SQL).

- **depth**: the longest chain of nested fields, leaves included (``{ account { id } }`` is 2);
- **aliases**: every aliased field of the operation, fragments expanded at each spread;
- **cost**: the estimated number of objects the answer holds. Every field that has a selection set
  counts once per time it resolves; leaves are free (they are columns of a row already read). A
  list field resolves ``k`` times per parent: ``k`` is its ``limit`` argument, or the ``limit`` of
  the page it belongs to (``models(limit: 20) { items }``), or the default page size (50);
  nested lists multiply. ``{ models(limit: 50) { items { renders { id } } } }`` is
  1 + 50 + 50 x 50 = 2551.
  Objects read with their parent's row (``IN_ROW_TYPES``: a model's inspection report and its
  textures, a render's settings) are free like leaves: they cost no query and no more than the row they are part of.

Fragments are expanded where they are spread (memoised, so a document that spreads fragments into
fragments costs its real size, not its text size, and walking it stays linear).

Introspection (``__schema``, ``__type``) is in-memory and is not counted in depth or cost, so
GraphiQL's full introspection query is allowed; it may nest at most ``INTROSPECTION_MAX_LISTS``
lists (types > fields > args), which bounds it by the size of the schema. ``__typename`` is free.

A document of more than ``MAX_TOKENS`` tokens is not even parsed to the end (``tokens``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.extensions import SchemaExtension

from dxgl.config import Settings
from dxgl.contract import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, ErrorCode

INTROSPECTION_MAX_LISTS = 3
# Parsing stops past this many tokens (graphql-core's max_tokens): a 5000-alias document is refused
# after reading a sixth of it. GraphiQL's introspection query is a few hundred tokens; a batch of 100
# renders with inline settings under 2000.
MAX_TOKENS = 5000
_INTROSPECTION_ROOTS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
# Object types whose values are part of the parent's row (a JSON column: a model's inspection report, a
# render's settings), not rows of their own: free in the cost estimate, like leaves (their depth still counts).
IN_ROW_TYPES = frozenset({"ModelInspection", "TextureInfo", "RenderSettings"})
_SHOWN_MAX = 10**15  # a cost beyond this is reported as "more than"


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_cost: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.graphql_max_depth, settings.graphql_max_aliases, settings.graphql_max_cost)


@lru_cache(maxsize=1)
def default_limits() -> Limits:
    return Limits.of(Settings())


@dataclass(frozen=True)
class Measure:
    """What a selection set (or one field) adds, per one instance of its parent."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0
    introspection_lists: int = 0  # the deepest nesting of lists inside introspection


_EMPTY = Measure()


def _combine(parts: Iterator[Measure]) -> Measure:
    depth = aliases = cost = lists = 0
    for part in parts:
        depth = max(depth, part.depth)
        aliases += part.aliases
        cost += part.cost
        lists = max(lists, part.introspection_lists)
    return Measure(depth, aliases, cost, lists)


class _Walker:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._memo: dict[tuple[str, int | None, bool], Measure] = {}
        self._active: set[str] = set()

    def operation(self, node: OperationDefinitionNode) -> Measure:
        root = self.schema.get_root_type(node.operation)
        if root is None:
            return _EMPTY
        return self.selections(node.selection_set, root, page_limit=None, introspection=False)

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        *,
        page_limit: int | None,
        introspection: bool,
    ) -> Measure:
        return _combine(self._selection(sel, parent, page_limit, introspection) for sel in selection_set.selections)

    def _selection(
        self, sel: Any, parent: GraphQLNamedType | None, page_limit: int | None, introspection: bool
    ) -> Measure:
        if isinstance(sel, FieldNode):
            return self.field(sel, parent, page_limit, introspection)
        if isinstance(sel, InlineFragmentNode):
            typed = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            return self.selections(sel.selection_set, typed, page_limit=page_limit, introspection=introspection)
        if isinstance(sel, FragmentSpreadNode):
            return self.fragment(sel.name.value, page_limit, introspection)
        return _EMPTY

    def fragment(self, name: str, page_limit: int | None, introspection: bool) -> Measure:
        key = (name, page_limit, introspection)
        if key in self._memo:
            return self._memo[key]
        definition = self.fragments.get(name)
        if definition is None or name in self._active:
            return _EMPTY  # unknown fragment or a cycle: graphql-core's own rules answer these
        self._active.add(name)
        try:
            typed = self.schema.get_type(definition.type_condition.name.value)
            measure = self.selections(
                definition.selection_set, typed, page_limit=page_limit, introspection=introspection
            )
        finally:
            self._active.discard(name)
        self._memo[key] = measure
        return measure

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, page_limit: int | None, introspection: bool
    ) -> Measure:
        name = node.name.value
        aliases = 1 if node.alias else 0
        if name == "__typename":
            return Measure(depth=1, aliases=aliases)
        definition = _INTROSPECTION_ROOTS.get(name)
        if definition is None and isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            definition = parent.fields.get(name)
        if definition is None:
            return Measure(depth=1, aliases=aliases)  # an unknown field: graphql-core's own rules answer it
        if node.selection_set is None:
            return Measure(depth=1, aliases=aliases)
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        is_list = isinstance(field_type, GraphQLList)
        named = _named(field_type)
        own_limit = self._limit(node) if "limit" in definition.args else None
        inner_introspection = introspection or name in _INTROSPECTION_ROOTS
        inner = self.selections(
            node.selection_set,
            named,
            page_limit=None if is_list else own_limit,
            introspection=inner_introspection,
        )
        if inner_introspection:
            # In-memory: neither deep nor costly for this operation; only its lists are bounded.
            lists = inner.introspection_lists + (1 if is_list else 0)
            return Measure(depth=1, aliases=aliases + inner.aliases, introspection_lists=lists)
        if named is not None and named.name in IN_ROW_TYPES:
            return Measure(depth=1 + inner.depth, aliases=aliases + inner.aliases, cost=inner.cost)
        times = (own_limit or page_limit or DEFAULT_PAGE_LIMIT) if is_list else 1
        return Measure(
            depth=1 + inner.depth,
            aliases=aliases + inner.aliases,
            cost=times * (1 + inner.cost),
            introspection_lists=inner.introspection_lists,
        )

    def _limit(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != "limit":
                continue
            value: Any = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            if isinstance(value, int) and not isinstance(value, bool):
                return min(max(value, 1), MAX_PAGE_LIMIT)  # as the services clamp it
        return None


def _named(gql_type: Any) -> GraphQLNamedType | None:
    while isinstance(gql_type, (GraphQLNonNull, GraphQLList)):
        gql_type = gql_type.of_type
    return gql_type


def _shown(value: int) -> str:
    return str(value) if value <= _SHOWN_MAX else f"more than {_SHOWN_MAX}"


def _too_complex(message: str, limit: str, value: int, maximum: int, nodes: Any = None) -> GraphQLError:
    code = ErrorCode.QUERY_TOO_COMPLEX
    return GraphQLError(
        message,
        nodes=nodes,
        extensions={
            "code": code.value,
            "status": code.status,
            "limit": limit,
            "value": value if value <= _SHOWN_MAX else None,
            "max": maximum,
        },
    )


def measure_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    node: OperationDefinitionNode,
    variables: Mapping[str, Any] | None = None,
) -> Measure:
    return _Walker(schema, document, variables).operation(node)


def check_limits(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None, limits: Limits
) -> list[GraphQLError]:
    """The ``query_too_complex`` errors of every operation of ``document`` (empty when it fits)."""
    errors: list[GraphQLError] = []
    walker = _Walker(schema, document, variables)
    for node in document.definitions:
        if not isinstance(node, OperationDefinitionNode):
            continue
        try:
            m = walker.operation(node)
        except RecursionError:
            m = Measure(depth=limits.max_depth + 1)
        label = f"operation {node.name.value!r}" if node.name else "the operation"
        if m.depth > limits.max_depth:
            errors.append(
                _too_complex(
                    f"Query too complex: {label} is nested {m.depth} fields deep; the limit is "
                    f"{limits.max_depth} (DXGL_GRAPHQL_MAX_DEPTH)",
                    "depth",
                    m.depth,
                    limits.max_depth,
                    [node],
                )
            )
        if m.aliases > limits.max_aliases:
            errors.append(
                _too_complex(
                    f"Query too complex: {label} uses {m.aliases} aliases; the limit is "
                    f"{limits.max_aliases} (DXGL_GRAPHQL_MAX_ALIASES)",
                    "aliases",
                    m.aliases,
                    limits.max_aliases,
                    [node],
                )
            )
        if m.cost > limits.max_cost:
            errors.append(
                _too_complex(
                    f"Query too complex: {label} has an estimated cost of {_shown(m.cost)} objects; the "
                    f"limit is {limits.max_cost} (DXGL_GRAPHQL_MAX_COST; lists count by their limit "
                    f"argument, {DEFAULT_PAGE_LIMIT} by default, and nested lists multiply)",
                    "cost",
                    m.cost,
                    limits.max_cost,
                    [node],
                )
            )
        if m.introspection_lists > INTROSPECTION_MAX_LISTS:
            errors.append(
                _too_complex(
                    f"Query too complex: {label} nests {m.introspection_lists} lists in introspection; "
                    f"the limit is {INTROSPECTION_MAX_LISTS}",
                    "introspection",
                    m.introspection_lists,
                    INTROSPECTION_MAX_LISTS,
                    [node],
                )
            )
    return errors


def _limits_of(context: Any) -> Limits:
    runtime = getattr(context, "runtime", None)
    settings = getattr(runtime, "settings", None)
    return Limits.of(settings) if isinstance(settings, Settings) else default_limits()


class QueryLimits(SchemaExtension):
    """Runs ``check_limits`` when the operation is validated (HTTP and websocket alike). An operation
    over a limit is answered with its ``query_too_complex`` errors and goes no further: graphql-core's
    rules and every resolver are skipped."""

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        ec.parse_options["max_tokens"] = MAX_TOKENS
        yield
        for error in ec.pre_execution_errors or ():
            if isinstance(error, GraphQLSyntaxError) and "tokens" in error.message:
                # Parsing stopped early: the document alone is too big to be worth reading.
                error.message = (
                    f"Query too complex: the document has more than {MAX_TOKENS} tokens; the limit is {MAX_TOKENS}"
                )
                error.extensions = {**_too_complex("", "tokens", 0, MAX_TOKENS).extensions, "value": None}

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        if document is not None and ec.pre_execution_errors is None:
            errors = check_limits(ec.schema._schema, document, ec.variables, _limits_of(ec.context))
            if errors:
                ec.pre_execution_errors = errors
        yield
