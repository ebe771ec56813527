"""Decode time of each compressed catalogue model (shared/assets/models/compressed/), as JSON.

    .venv/bin/python bench/decode.py [--runs 5]

normalise_glb in this process (no sandbox child, which adds its start-up, ~0.2 s, to every upload):
the best and the median of ``--runs`` runs per file, in seconds, and what each file needed decoding.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.ingest.normalise import normalise_glb
from tests.assets import MODELS_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as work:
        for path in sorted((MODELS_DIR / "compressed").glob("*.glb")):
            times, decoded = [], []
            for run in range(args.runs):
                out = Path(work) / f"{path.stem}-{run}.glb"
                started = time.perf_counter()
                result = normalise_glb(path, out, DEFAULT_LIMITS, label=path.name)
                times.append(time.perf_counter() - started)
                decoded = result.decoded
            report[path.name] = {
                "bytes": path.stat().st_size,
                "best_s": round(min(times), 4),
                "median_s": round(statistics.median(times), 4),
                "decoded": decoded,
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
