"""dxgl's GraphQL interface (Strawberry): types, queries, mutations, subscriptions, dataloaders.

Imports services, events and errors only (never dxgl.rest, never dxgl.render)."""

from dxgl.schema.schema import schema
from dxgl.schema.view import DxglGraphQL, graphql_app

__all__ = ["DxglGraphQL", "graphql_app", "schema"]
