"""Ingest benchmark: seconds to reject each hostile case and to convert the shared test models.

Run: .venv/bin/python bench/ingest.py  -> prints one JSON object. Figures only; nothing is asserted
(the issue's "reject within 2 seconds" is reported as `hostile.over_2s`).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dxgl.errors import DxglError
from dxgl.ingest import prepare_model
from tests.ingest.hostile_cases import HOSTILE_CASES

MODELS = Path(__file__).resolve().parents[2] / "shared" / "assets" / "models"


def time_prepare(upload: Path, work: Path) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        outcome = prepare_model(upload, work).source_kind
    except DxglError as exc:
        outcome = exc.code
    return time.perf_counter() - start, outcome


def main() -> None:
    report: dict = {"hostile": {"cases": {}}, "convert": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for i, (name, build, code) in enumerate(HOSTILE_CASES):
            case_dir = tmp / f"case{i}"
            case_dir.mkdir()
            seconds, outcome = time_prepare(build(case_dir), case_dir / "work")
            report["hostile"]["cases"][name] = {"seconds": round(seconds, 3), "code": outcome, "expected": code}
        times = [c["seconds"] for c in report["hostile"]["cases"].values()]
        report["hostile"].update(
            count=len(times),
            median_s=round(statistics.median(times), 3),
            max_s=round(max(times), 3),
            over_2s=[n for n, c in report["hostile"]["cases"].items() if c["seconds"] > 2.0],
            wrong_code=[n for n, c in report["hostile"]["cases"].items() if c["code"] != c["expected"]],
        )
        helmet_zip = tmp / "helmet.zip"
        with zipfile.ZipFile(helmet_zip, "w") as zf:
            for file in (MODELS / "DamagedHelmet-gltf").iterdir():
                zf.write(file, file.name)
        for label, upload in (
            ("fuze.zip", MODELS / "fuze.zip"),
            ("DamagedHelmet.zip", helmet_zip),
            ("CesiumMilkTruck.glb", MODELS / "CesiumMilkTruck.glb"),
        ):
            runs = [time_prepare(upload, tmp / f"{label}-{r}")[0] for r in range(3)]
            report["convert"][label] = {
                "median_s": round(statistics.median(runs), 3),
                "runs_s": [round(r, 3) for r in runs],
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
