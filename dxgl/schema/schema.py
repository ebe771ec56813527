"""The Strawberry schema of dxgl (exported to ``schema.graphql``)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from dxgl.schema.errors import DxglErrors
from dxgl.schema.limits import QueryLimits
from dxgl.schema.mutations import Mutation
from dxgl.schema.overlays import OverlayMutation, OverlayQuery
from dxgl.schema.queries import Query
from dxgl.schema.subscriptions import Subscription
from dxgl.schema.webhooks import WebhookMutation, WebhookQuery


class DxglSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # DxglErrors converts (and logs the unexpected ones); client errors are not server log noise.
        return None


@strawberry.type(name="Query")
class RootQuery(Query, OverlayQuery, WebhookQuery):
    pass


@strawberry.type(name="Mutation")
class RootMutation(Mutation, OverlayMutation, WebhookMutation):
    pass


# QueryLimits refuses an operation that is too deep, too wide or too costly before any resolver runs.
schema: Any = DxglSchema(
    query=RootQuery, mutation=RootMutation, subscription=Subscription, extensions=[QueryLimits, DxglErrors]
)
