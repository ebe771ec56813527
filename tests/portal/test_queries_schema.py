"""Every GraphQL operation the portal sends validates against the committed schema.graphql (the
operations are read from the app's own modules with node, when it is installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from graphql import build_schema, parse, validate

from tests.live_server import ROOT

JS = ROOT / "dxgl" / "portal" / "static" / "js"
DUMP = """
import { Q, M, S } from "%s/queries.js";
import { readFileSync } from "fs";
const app = readFileSync("%s/app.js", "utf8");
const live = app.match(/RENDER_LIVE = "([^"]*)"/)[1];
const watch = app.match(/const WATCH = `([^`]*)`/)[1].replace("${RENDER_LIVE}", live);
const upload = readFileSync("%s/views/upload.js", "utf8").match(/gql\\(`([^`]*)`\\)/)[1];
console.log(JSON.stringify({ ...Q, ...M, ...S, watch, overlaysAndCredits: upload }));
"""


def test_portal_operations_match_schema_graphql() -> None:
    node = shutil.which("node")
    if node is None:
        message = "node is not installed (only this check needs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)  # in CI a missing tool is a failure, never a skip
        pytest.skip(message)
    script = DUMP % (JS, JS, JS)
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    operations = json.loads(out.stdout)
    schema = build_schema((ROOT / "schema.graphql").read_text())
    assert len(operations) > 20
    problems = {name: [e.message for e in validate(schema, parse(q))] for name, q in operations.items()}
    assert not {k: v for k, v in problems.items() if v}
