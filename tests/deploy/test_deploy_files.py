"""The deployment files (Dockerfile, deploy/compose.yaml) against the code: every DXGL_* variable they
set is a setting, and every dxgl command they run is a command of the CLI. There is no Docker engine
on the CI machines, so the files are parsed, not run."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from dxgl.cli import build_parser
from dxgl.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in _final_stage():
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _uses_dxgl_image(service: dict[str, Any]) -> bool:
    return "build" in service or str(service.get("image", "")).startswith("dxgl")


def _setting_names() -> set[str]:
    return {f"DXGL_{name.upper()}" for name in Settings.model_fields}


def _dxgl_vars(env: dict[str, Any]) -> set[str]:
    return {name for name in env if name.startswith("DXGL_")}


def _parses(argv: list[str]) -> bool:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def test_the_dockerfile_runs_the_cli_and_sets_only_real_settings():
    final = dict((w, r) for w, r in _final_stage() if w in ("ENTRYPOINT", "CMD"))
    assert _exec_form(final["ENTRYPOINT"]) == ["dxgl"]
    assert _parses(_exec_form(final["CMD"]))
    env = _dockerfile_env()
    assert _dxgl_vars(env) and _dxgl_vars(env) <= _setting_names(), _dxgl_vars(env) - _setting_names()
    assert any(w == "USER" and r not in ("root", "0") for w, r in _final_stage()), "the image must not run as root"


def test_compose_has_the_production_shape():
    services = _compose()["services"]
    for name in ("postgres", "redis", "s3", "api", "worker", "gpu-worker"):
        assert name in services, name
    gpu = services["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and {"gpu", "video", "graphics"} <= set(devices[0]["capabilities"])
    api_env = services["api"]["environment"]
    assert api_env["DXGL_REDIS_URL"].startswith("redis://") and api_env["DXGL_STORAGE_URL"].startswith("s3://")
    assert api_env["DXGL_DATABASE_URL"].startswith("postgresql")
    # No folder is shared between the API and the workers: no volume of theirs at all.
    for name in ("api", "worker", "gpu-worker"):
        assert "volumes" not in services[name], name


@pytest.mark.parametrize("name", ["migrate", "api", "worker", "gpu-worker"])
def test_every_dxgl_service_runs_a_cli_command_and_sets_only_real_settings(name):
    service = _compose()["services"][name]
    assert _uses_dxgl_image(service)
    command = service["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    entrypoint = service.get("entrypoint", ["dxgl"])
    assert entrypoint == ["dxgl"] and _parses(argv), argv
    env = service.get("environment", {})
    assert isinstance(env, dict)
    assert _dxgl_vars(env) <= _setting_names(), _dxgl_vars(env) - _setting_names()


def test_no_other_service_sets_dxgl_variables():
    for name, service in _compose()["services"].items():
        if not _uses_dxgl_image(service):
            assert not _dxgl_vars(service.get("environment", {}) or {}), name


def test_a_wrong_variable_or_command_would_be_caught():
    # The checks above are only worth something if they can fail.
    assert "DXGL_NO_SUCH_SETTING" not in _setting_names()
    assert not _parses(["no-such-command"])
