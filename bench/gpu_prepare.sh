#!/usr/bin/env bash
# Prepares what bench/gpu.sh needs on a bare GPU machine (Python 3.12, no registry, no Mesa, no
# glvnd loaders): run here once; it fills build/gpubench (ignored by git, under 40 MB):
#   whl/     the render library's wheels the machine lacks (vispy, trimesh, freetype-py, hsluv), for
#            CPython 3.12 x86-64, pinned to this venv's versions;
#   site/    imageio-ffmpeg's Python code, and ffmpeg.xz its ffmpeg (the wheel is 68 MB, over what one
#            call may carry; xz makes the binary 50 MB; gpu.sh unpacks it and sets IMAGEIO_FFMPEG_EXE);
#   gl/      glvnd's EGL/GL loaders as Debian packages (the driver's own libraries are mounted there);
#   models/  the three bench models.
# Then, with the device tool:  run(command="bench/gpu.sh", carry=["build/gpubench"], timeout_s=300)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/gpubench
MODELS=${DXGL_ASSETS:-../shared/assets/models}
mkdir -p "$OUT/whl" "$OUT/gl" "$OUT/models"
version() { .venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))"; }
pins=()
for pkg in vispy trimesh freetype-py hsluv; do pins+=("$pkg==$(version "$pkg")"); done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$OUT/whl" "${pins[@]}"
iff="imageio-ffmpeg==$(version imageio-ffmpeg)"
if [ ! -f "$OUT/ffmpeg.xz" ] || [ "$(cat "$OUT/ffmpeg.version" 2>/dev/null)" != "$iff" ]; then
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d "$tmp" "$iff"
  (cd "$tmp" && unzip -q ./*.whl)
  rm -rf "$OUT/site" && mkdir -p "$OUT/site/imageio_ffmpeg"
  cp "$tmp"/imageio_ffmpeg/*.py "$OUT/site/imageio_ffmpeg/"
  xz -T2 -6 -c "$tmp"/imageio_ffmpeg/binaries/ffmpeg-* > "$OUT/ffmpeg.xz"
  echo "$iff" > "$OUT/ffmpeg.version"
  rm -rf "$tmp"
fi
lists=/tmp/dxgl-apt-amd64
mkdir -p "$lists/partial"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
apt-get "${apt_opts[@]}" update -qq
(cd "$OUT/gl" && apt-get "${apt_opts[@]}" download -qq libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
cp "$MODELS/Duck.glb" "$MODELS/CesiumMilkTruck.glb" "$OUT/models/"
mkdir -p "$OUT/models/DamagedHelmet-gltf"
cp "$MODELS"/DamagedHelmet-gltf/* "$OUT/models/DamagedHelmet-gltf/"
du -sh "$OUT"
