"""The vocabulary module against the documented DXGL Public API: the tables of the document
(errors, quality tiers, dataset tiers, render settings, statuses) are read from the document itself,
so a value that drifts from it fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dxgl.contract import (
    BASE_DEFAULTS,
    DATASET_TIERS,
    FINISHED,
    PROCESSING,
    QUALITY_TIERS,
    SETTING_FIELDS,
    TRANSITIONS,
    Codec,
    DatasetQuality,
    ErrorCode,
    IntRange,
    NumberRange,
    Quality,
    RenderStatus,
    bundle_members,
    effect_defaults,
    main_video_file,
    output_size,
    render_key,
    render_prefix,
    sources_of,
)
from dxgl.errors import DxglError

DOCUMENT = Path(__file__).resolve().parents[3] / "shared" / "api" / "dxgl-public-api.md"


def _table_after(heading: str) -> list[list[str]]:
    """The rows (cells without backticks) of the first Markdown table after ``heading``."""
    lines = DOCUMENT.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header row


def test_every_documented_error_code_has_its_documented_status() -> None:
    rows = _table_after("## Errors")
    assert len(rows) >= 20
    for code, status, _ in rows:
        assert ErrorCode.of(code).status == int(status), code
        assert DxglError(code).status == int(status)


def test_unknown_error_codes_are_refused() -> None:
    with pytest.raises(ValueError):
        ErrorCode.of("no_such_code")
    with pytest.raises(ValueError):
        DxglError("no_such_code")


def test_quality_tiers_match_the_document() -> None:
    rows = _table_after("### Quality Tiers")
    assert {row[0] for row in rows} == {q.value for q in Quality}
    for tier, resolution, codec, alpha, credits, extension in rows:
        width, height = (int(n) for n in resolution.split("×"))
        assert output_size(tier, "16:9") == (width, height)
        assert output_size(tier, "9:16") == (height, width)  # the short side is kept
        assert output_size(tier, "1:1") == (height, height)
        info = QUALITY_TIERS[Quality(tier)]
        assert info.credits == int(credits)
        assert main_video_file(tier).endswith(extension)
        assert (info.codec is Codec.PRORES_4444) == (alpha == "Yes") == ("ProRes" in codec)


def test_dataset_tiers_match_the_document() -> None:
    rows = _table_after("### Dataset Export (Vision Training)")
    assert {row[0] for row in rows} == {q.value for q in DatasetQuality}
    for tier, views, resolution, credits in rows:
        info = DATASET_TIERS[DatasetQuality(tier)]
        assert (info.views, info.credits) == (int(views), int(credits))
        assert resolution == f"{info.size}×{info.size}"


def test_render_settings_defaults_and_ranges_match_the_document() -> None:
    rows = {row[0]: row for row in _table_after("## Render Settings")}
    assert set(rows) <= set(SETTING_FIELDS)
    ranged = set()
    for name, (_, kind, default, description) in rows.items():
        if default != "—":
            assert BASE_DEFAULTS[name] == (default.strip('"') if kind == "string" else eval(default.title())), name
        found = re.search(r"Range: (-?[\d.]+)–(-?[\d.]+)|\((-?\d+) to (-?\d+)\)|`(\d+)` – `(\d+)`", description)
        if found:
            low, high = (float(v) for v in found.groups() if v is not None)
            field = SETTING_FIELDS[name]
            assert isinstance(field, (IntRange, NumberRange)), name
            assert (field.low, field.high) == (low, high), name
            ranged.add(name)
    assert ranged == {"sweepAngle", "easeOutRatio", "amplitude", "zoomStart", "zoomEnd", "scaleFrom", "length"} | {
        "rotateY",
        "tiltX",
    }


def test_effect_defaults_match_the_document() -> None:
    assert effect_defaults("hero-spin") == {"sweepAngle": 540, "easeOutRatio": 0.6}
    assert effect_defaults("reveal") == {"sweepAngle": 180, "scaleFrom": 0}
    assert effect_defaults("showcase") == {"amplitude": 60}
    assert effect_defaults("zoom-orbit") == {"zoomStart": 1.0, "zoomEnd": 0.7}
    assert effect_defaults("turntable") == {}


def test_statuses_and_transitions() -> None:
    text = DOCUMENT.read_text()
    flow = next(line for line in text[text.index("## Render Status") :].splitlines() if "→" in line)
    documented = [s.strip() for s in flow.split("→")]
    assert {row[0] for row in _table_after("## Render Status")} <= {s.value for s in RenderStatus}
    assert [s.value for s in RenderStatus][: len(documented)] == documented
    for earlier, later in zip(documented, documented[1:]):
        assert RenderStatus(later) in TRANSITIONS[RenderStatus(earlier)], (earlier, later)
    # Any unfinished status can fail; finished ones never move again, except error -> failed (dismiss).
    assert sources_of(RenderStatus.ERROR) == frozenset(RenderStatus) - FINISHED
    assert TRANSITIONS[RenderStatus.DONE] == TRANSITIONS[RenderStatus.FAILED] == frozenset()
    assert TRANSITIONS[RenderStatus.ERROR] == {RenderStatus.FAILED}
    # A worker may claim again a render whose previous worker's lease ran out.
    assert sources_of(RenderStatus.POSTER_PROCESSING) >= PROCESSING


def test_file_names_and_storage_keys() -> None:
    assert [str(m) for m in bundle_members("pro")] == ["video.mov", "web.mp4", "poster.png", "thumb.mp4"]
    assert [str(m) for m in bundle_members("4k")] == ["video.mp4", "web.mp4", "poster.png", "thumb.mp4"]
    assert render_key("Ab3kF9x2qL1m", "poster.png") == f"{render_prefix('Ab3kF9x2qL1m')}/poster.png"
