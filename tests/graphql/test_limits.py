"""Operation limits (depth, aliases, estimated cost): an operation over a limit is refused with
query_too_complex while it is validated, so no resolver runs and no SQL statement is issued; the
dashboard's queries and GraphiQL's introspection stay within the limits."""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import get_introspection_query
from strawberry.extensions import SchemaExtension

from dxgl.schema.context import DxglContext
from dxgl.schema.errors import DxglErrors
from dxgl.schema.limits import QueryLimits
from dxgl.schema.schema import DxglSchema, RootMutation, RootQuery
from dxgl.schema.subscriptions import Subscription
from tests.graphql.conftest import gql
from tests.graphql.test_sql_count import _fifty_models_with_renders, counted_statements

# Model.renders <-> Render.model, 16 fields deep (the finding: each level multiplies the answer).
NESTED_16 = "{ models { items { " + "renders { model { " * 7 + "id" + " } }" * 7 + " } } }"


def _aliases(n: int) -> str:
    return "{ " + " ".join(f"a{i}: account {{ id }}" for i in range(n)) + " }"


def _too_complex(result: dict) -> dict[str, dict]:
    """The query_too_complex errors by limit; asserts nothing ran (no data at all)."""
    errors = result.get("errors") or []
    assert errors and all(e["extensions"]["code"] == "query_too_complex" for e in errors), result
    assert all(e["extensions"]["status"] == 400 for e in errors), result
    assert result.get("data") is None, result
    return {e["extensions"]["limit"]: e for e in errors}


async def test_deep_nesting_is_refused_before_any_resolver_runs(service):
    acct = await service.account()
    with counted_statements(service.runtime.engine) as statements:
        result = await gql(acct, NESTED_16)
    refused = _too_complex(result)
    assert statements == []  # not even the token lookup: no resolver ran
    depth = refused["depth"]
    assert depth["extensions"]["value"] == 17 and depth["extensions"]["max"] == 10
    assert "17" in depth["message"] and "DXGL_GRAPHQL_MAX_DEPTH" in depth["message"]
    # Each level multiplies: the estimate is over the cost limit too, and says so.
    assert refused["cost"]["extensions"]["max"] == 5000 and "DXGL_GRAPHQL_MAX_COST" in refused["cost"]["message"]


async def test_too_many_aliases_are_refused_before_any_resolver_runs(service):
    acct = await service.account()
    with counted_statements(service.runtime.engine) as statements:
        result = await gql(acct, _aliases(31))
    refused = _too_complex(result)
    assert statements == []
    assert set(refused) == {"aliases"}
    assert refused["aliases"]["extensions"]["value"] == 31
    assert "31" in refused["aliases"]["message"] and "DXGL_GRAPHQL_MAX_ALIASES" in refused["aliases"]["message"]
    # At the limit it runs.
    ok = await gql(acct, _aliases(30))
    assert "errors" not in ok and len(ok["data"]) == 30


async def test_fragments_are_counted_where_they_are_spread(service):
    acct = await service.account()
    # Ten aliases in a fragment spread four times (and through a nested fragment) are 40 aliases.
    wide = (
        "{ ...A ...A ...B } fragment A on Query { ...C } fragment B on Query { ...C ...C } "
        "fragment C on Query { " + " ".join(f"c{i}: account {{ id }}" for i in range(10)) + " }"
    )
    deep = (
        "{ models { items { ...M1 } } } "
        + " ".join(f"fragment M{i} on Model {{ renders {{ model {{ ...M{i + 1} }} }} }}" for i in range(1, 8))
        + " fragment M8 on Model { id }"
    )
    inline = "{ models { items { " + "... on Model { renders { model { " * 7 + "id" + " } } }" * 7 + " } } }"
    with counted_statements(service.runtime.engine) as statements:
        assert _too_complex(await gql(acct, wide))["aliases"]["extensions"]["value"] == 40
        assert {"depth", "cost"} <= set(_too_complex(await gql(acct, deep)))
        assert {"depth", "cost"} <= set(_too_complex(await gql(acct, inline)))
    assert statements == []


async def test_cost_counts_lists_by_their_limit_and_multiplies_nested_lists(service):
    acct = await service.account()
    # 1 page + 100 models + 100 x 50 renders (Model.renders has no limit: the default page size).
    costly = "{ models(limit: $n) { items { renders { model { id } } } } }".replace("$n", "100")
    with counted_statements(service.runtime.engine) as statements:
        refused = _too_complex(await gql(acct, costly))
        by_variable = _too_complex(
            await gql(acct, "query($n: Int) { models(limit: $n) { items { renders { id } } } }", {"n": 100})
        )
    assert statements == []
    assert set(refused) == {"cost"} and refused["cost"]["extensions"]["value"] == 1 + 100 + 2 * 100 * 50
    assert by_variable["cost"]["extensions"]["value"] == 1 + 100 + 100 * 50
    # The same shape with a smaller page fits: 1 + 20 + 20 x 50.
    ok = await gql(acct, "query($n: Int) { models(limit: $n) { items { renders { id } } } }", {"n": 20})
    assert "errors" not in ok, ok


async def test_dashboard_queries_still_work(service):
    acct = await service.account()
    await _fifty_models_with_renders(service, acct.id)
    dashboard = """
      query Dashboard($limit: Int, $offset: Int) {
        account { id credits }
        models(limit: $limit, offset: $offset) {
          totalCount limit offset
          items { id originalName title tags createdAt renders { id status fileSize hasWebVariant updatedAt } }
        }
        renders(limit: 10) { totalCount items { id status model { id title } } }
      }
    """
    first = await gql(acct, dashboard, {"limit": 50, "offset": 0})
    assert "errors" not in first, first
    assert first["data"]["models"]["totalCount"] == 50
    assert all(len(m["renders"]) == 2 for m in first["data"]["models"]["items"])
    second = await gql(acct, dashboard, {"limit": 20, "offset": 40})
    assert [m["id"] for m in second["data"]["models"]["items"]] == [
        m["id"] for m in first["data"]["models"]["items"][40:]
    ]


async def test_graphiql_introspection_is_allowed(service):
    result = await gql(service.client, get_introspection_query(descriptions=True))
    assert "errors" not in result, result
    names = {t["name"] for t in result["data"]["__schema"]["types"]}
    assert {"Model", "Render", "ModelPage"} <= names
    # Introspection is bounded by its own rule: lists nested in it beyond types > fields > args.
    nested = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    assert set(_too_complex(await gql(service.client, nested))) == {"introspection"}


async def test_limits_follow_the_settings(service):
    acct = await service.account()
    service.runtime.settings.graphql_max_depth = 3
    refused = _too_complex(await gql(acct, "{ models { items { renders { id } } } }"))
    assert refused["depth"]["extensions"] == {
        "code": "query_too_complex",
        "status": 400,
        "limit": "depth",
        "value": 4,
        "max": 3,
    }
    assert "errors" not in await gql(acct, "{ models { items { id } } }")


async def test_a_huge_document_is_refused_while_it_is_parsed(service):
    acct = await service.account()
    with counted_statements(service.runtime.engine) as statements:
        refused = _too_complex(await gql(acct, _aliases(5000)))  # the finding: 5000 aliases of account
    assert statements == []
    assert set(refused) == {"tokens"} and refused["tokens"]["extensions"]["max"] == 5000
    assert "5000 tokens" in refused["tokens"]["message"]


class _CountResolvers(SchemaExtension):
    """Counts every field resolution (a real extension on a copy of the schema, not a mock)."""

    calls: ClassVar[list[str]] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_no_resolver_is_called_for_a_refused_operation(service):
    acct = await service.account()
    counted = DxglSchema(
        query=RootQuery,
        mutation=RootMutation,
        subscription=Subscription,
        extensions=[QueryLimits, DxglErrors, _CountResolvers],
    )

    async def run(query: str) -> Any:
        _CountResolvers.calls.clear()
        context = DxglContext(runtime=service.runtime, authorization=f"Bearer {acct.token}")
        return await counted.execute(query, context_value=context)

    for refused in (NESTED_16, _aliases(31)):
        result = await run(refused)
        assert {e.extensions["code"] for e in result.errors} == {"query_too_complex"}
        assert _CountResolvers.calls == []
    ok = await run("{ account { id } }")
    assert not ok.errors and _CountResolvers.calls  # the counter does count


async def test_the_inspection_report_costs_nothing_more_than_its_model(service):
    """A model's inspection report and its textures are part of the model's row: free like leaves."""
    acct = await service.account(credits=1)
    query = "{ models(limit: 50) { items { id inspection { triangles textures { width height } } renders { id } } } }"
    result = await gql(acct, query)
    assert "errors" not in result, result  # 1 + 50 + 50 x 50 = 2551 with the report free
    costly = "{ models(limit: 100) { items { inspection { textures { width } } renders { id } } } }"
    refused = _too_complex(await gql(acct, costly))
    assert refused["cost"]["extensions"]["value"] == 1 + 100 + 100 * 50
