"""The committed schema.graphql is the schema the code serves."""

from __future__ import annotations

from pathlib import Path

from dxgl.schema import schema

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_sdl_matches_the_code():
    committed = SDL.read_text()
    current = schema.as_str() + "\n"
    assert committed == current, (
        "schema.graphql is out of date; regenerate it with: "
        ".venv/bin/python -c \"from dxgl.schema import schema; open('schema.graphql','w').write(schema.as_str()+'\\n')\""
    )


def test_sdl_has_the_dashboard_operations():
    text = SDL.read_text()
    for fragment in ("uploadModel(\n    file: Upload!", "renderUpdated(id: ID!)", "renderUpdates", "totalCount: Int!"):
        assert fragment in text
