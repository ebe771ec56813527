"""Dataset export benchmark; prints one JSON object. Slow (minutes): run by hand, not in tests.

    .venv/bin/python bench/dataset.py [--tier 100x800] [--model Duck.glb] [--coverage hemisphere]

Wall time of one whole ``render_dataset`` (spawn, load, context, every view drawn, PNGs encoded, ZIP
streamed), the time to the poster event, the archive size and the machine's load while it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dxgl.render import DatasetSpec, render_dataset

MODELS_DIR = Path(__file__).resolve().parents[2] / "shared" / "assets" / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", default="100x800")
    parser.add_argument("--model", default="Duck.glb")
    parser.add_argument("--coverage", default="hemisphere")
    args = parser.parse_args()
    spec = DatasetSpec.from_settings({"datasetQuality": args.tier, "coverage": args.coverage})
    marks: dict[str, float] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()

        def on_event(name: str, payload: dict) -> None:
            marks.setdefault(name, time.monotonic() - start)

        out = render_dataset(MODELS_DIR / args.model, spec, Path(tmp), on_event=on_event, timeout_s=3600)
        wall = time.monotonic() - start
        with zipfile.ZipFile(out.archive) as archive:
            members = len(archive.namelist())
        size = out.archive.stat().st_size
    report = {
        "model": args.model,
        "tier": args.tier,
        "coverage": args.coverage,
        "views": spec.views,
        "size": spec.size,
        "wall_s": round(wall, 2),
        "s_per_view": round(wall / spec.views, 3),
        "started_s": round(marks.get("started", float("nan")), 2),
        "poster_s": round(marks.get("poster", float("nan")), 2),
        "encoding_s": round(marks.get("encoding", float("nan")), 2),
        "archive_mib": round(size / 2**20, 1),
        "archive_members": members,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
