"""Dataset export for NeRF / Gaussian splatting: the public entry point (docs/dataset.md).

``render_dataset`` runs the GL work in a spawned child (like ``render_job``): this package imports
no vispy and creates no context. The child (``dataset.child``) renders every view once, RGB plus a
geometry pass (depth, normals, mask), and streams the ZIP to disk as it goes (``dataset.archive``).

Modules: ``spec`` (DatasetSpec, DatasetOutputs), ``views`` (cameras), ``files`` (per-file
encodings), ``points`` (points3d.ply), ``archive`` (the streaming ZIP writer), ``child`` (the child
process body). None of them imports this ``__init__``.
"""

from __future__ import annotations

from pathlib import Path

from dxgl.render.child import EventCallback, run_render_child
from dxgl.render.dataset.spec import DatasetOutputs, DatasetSpec

__all__ = ["DatasetOutputs", "DatasetSpec", "render_dataset"]


def render_dataset(
    model_path: Path,
    spec: DatasetSpec,
    out_dir: Path,
    *,
    on_event: EventCallback | None = None,
    timeout_s: float | None = None,
    memory_limit_bytes: int | None = None,
) -> DatasetOutputs:
    """Render the dataset of ``model_path`` into ``out_dir`` (dataset.zip, poster.png, poster_small.png).

    Events to ``on_event`` on the caller's thread: ("started", {}), ("poster", {"path": ...}) once
    poster.png and poster_small.png exist (after the first view), ("frames", {"done": i, "total": n})
    now and then, ("encoding", {}) while the archive is finished. A wrong or unreadable model, a
    failure, running past ``timeout_s`` or using more resident memory than ``memory_limit_bytes``
    (None or 0: derived from the machine; the child is killed either way) raise RenderError."""
    from dxgl.render.dataset.child import dataset_child_main  # plain module: no vispy at import

    forward: EventCallback | None = None
    if on_event is not None:
        callback = on_event

        def forward(name: str, payload: dict[str, object]) -> None:
            callback(name, {k: v for k, v in payload.items() if k != "job"})

    return run_render_child(
        dataset_child_main,
        Path(model_path),
        (spec, str(out_dir)),
        on_event=forward,
        timeout_s=timeout_s,
        what="dataset render",
        smaller="a smaller dataset tier",
        memory_limit_bytes=memory_limit_bytes,
    )
