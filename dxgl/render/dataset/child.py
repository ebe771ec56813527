"""The dataset child process: load the model, place the cameras, draw every view once, stream the ZIP.

Runs only inside the process ``dataset.render_dataset`` spawns (through
``dxgl.render.child.run_render_child``). It sends ("started", {}), ("poster", {"path": ...}),
("frames", {...}) and ("encoding", {}) events as job 0 and returns the DatasetOutputs; a failure is
reported to the parent by ``dxgl.proc``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dxgl.contract import DatasetNormals
from dxgl.proc import Emit
from dxgl.render.child import job_events, start_child_logging
from dxgl.render.dataset.spec import DatasetOutputs, DatasetSpec

if TYPE_CHECKING:
    from dxgl.render.renderer import Renderer

log = logging.getLogger("dxgl.render")


def _render(model_path: Path, spec: DatasetSpec, out_dir: Path, emit: Emit) -> DatasetOutputs:
    # Imports here: the GL stack loads only in this process, after the platform is chosen.
    from dxgl.render.camera import FramePose
    from dxgl.render.dataset.archive import DatasetArchive
    from dxgl.render.dataset.points import sample_surface
    from dxgl.render.dataset.views import dataset_offset, make_cameras
    from dxgl.render.scene import load_scene

    send = job_events(emit)

    def event(name: str, payload: dict[str, Any]) -> None:
        send(0, name, payload)

    scene = load_scene(model_path)
    offset = dataset_offset(scene.bounds)
    cams = make_cameras(scene.frame_points.astype(np.float64) + offset, spec.views, spec.coverage, spec.size)
    points = sample_surface(scene, offset)
    model = np.eye(4, dtype=np.float32)
    model[:3, 3] = offset
    archive = DatasetArchive(out_dir, cams, event)  # its writer thread starts before the GL context: no fork follows
    renderer: Renderer | None = None
    try:
        from dxgl.render.renderer import Renderer

        renderer = Renderer(scene, spec.size, spec.size, look=spec.look)
        log.info(
            "rendering a dataset of %d views of %dx%d (%s) with %s",
            spec.views,
            spec.size,
            spec.size,
            spec.coverage,
            renderer.description,
        )
        event("started", {})
        proj = cams.proj.astype(np.float32)
        for i in range(spec.views):
            pose = FramePose(
                model=model,
                view=cams.view[i].astype(np.float32),
                proj=proj,
                eye=cams.eyes[i].astype(np.float32),
                spin_deg=0.0,
                scale=1.0,
            )
            # No ground shadow or reflection: only the model, lit the same way in every view.
            rgba = renderer.draw(pose, shadows=False, reflector=False).copy()
            geometry = renderer.draw_geometry(pose, shading_normals=spec.normals == DatasetNormals.SHADING).copy()
            archive.add_view(i, rgba, geometry)
        return archive.finish(points)  # sends ("encoding", {}) once every view is stored
    except BaseException:
        archive.abort()
        raise
    finally:
        if renderer is not None:
            renderer.close()


def dataset_child_main(model_path: str, work: tuple[DatasetSpec, str], emit: Emit) -> DatasetOutputs:
    """Entry point of the spawned process (``dxgl.proc`` target). ``work``: (DatasetSpec, out_dir)."""
    start_child_logging()
    spec, out_dir = work
    return _render(Path(model_path), spec, Path(out_dir), emit)
