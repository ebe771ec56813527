#!/usr/bin/env bash
# The GPU bench in one command; prints one JSON object (bench/gpu_bench.py says what is in it):
# the platform probe (EGL device, GL renderer string, NVENC yes/no), ms per 1080p frame for the
# three bench models, a standard job and a 4K pro job: render and encode only, no server or database.
#
#   bench/gpu_prepare.sh          # once, here: wheels, GL loaders and models into build/gpubench
#   bench/gpu.sh                  # on the GPU machine (device tool: carry ["build/gpubench"]), or
#   bench/gpu.sh --tiny           # anywhere: the same steps at tiny sizes (the CPU fall-back test)
#
# On a bare NVIDIA machine it unpacks glvnd's loaders (the driver's libraries are mounted), installs
# the carried wheels into /tmp/dxgl-site, and points the bench at the carried models. Under 4 minutes:
# the bench skips what would not fit (BUDGET_S) and the whole run is cut at 230 s.
set -euo pipefail
cd "$(dirname "$0")/.."
PAYLOAD=build/gpubench
PY=""
if [ -e /dev/nvidia0 ] && [ -d "$PAYLOAD/gl" ]; then
  for f in "$PAYLOAD"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -d "$PAYLOAD/whl" ] && [ ! -x .venv/bin/python ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/dxgl-site "$PAYLOAD"/whl/*.whl
  export PYTHONPATH="/tmp/dxgl-site:$PWD/$PAYLOAD/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  PY=python3
fi
if [ -f "$PAYLOAD/ffmpeg.xz" ] && [ ! -x .venv/bin/python ]; then
  python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
    "$PAYLOAD/ffmpeg.xz" /tmp/dxgl-ffmpeg
  chmod +x /tmp/dxgl-ffmpeg
  export IMAGEIO_FFMPEG_EXE=/tmp/dxgl-ffmpeg
fi
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if [ -d "$PAYLOAD/models" ] && [ -z "${DXGL_BENCH_MODELS:-}" ]; then
  export DXGL_BENCH_MODELS="$PWD/$PAYLOAD/models"
fi
export PYTHONUNBUFFERED=1
exec timeout 230 "$PY" bench/gpu_bench.py "$@"
