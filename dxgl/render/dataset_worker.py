"""The body of the dataset render child: load, place the cameras, draw every view once, stream the ZIP.

Runs only inside the process ``dataset.render_dataset`` spawns. Messages to the parent follow
``engine.run_in_child``: ("event", 0, name, payload), then ("done", DatasetOutputs) or ("error", message).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dxgl.render.worker import report_child_outcome

log = logging.getLogger("dxgl.render")


def _render(model_path: Path, spec, out_dir: Path, send) -> object:
    # Imports here: the GL stack loads only in this process, after the platform is chosen.
    from dxgl.render.camera import FramePose
    from dxgl.render.dataset_archive import DatasetArchive
    from dxgl.render.dataset_points import sample_surface
    from dxgl.render.dataset_views import dataset_offset, make_cameras
    from dxgl.render.scene import load_scene

    def event(name: str, payload: dict) -> None:
        send(("event", 0, name, payload))

    scene = load_scene(model_path)
    offset = dataset_offset(scene.bounds)
    cams = make_cameras(scene.frame_points.astype(np.float64) + offset, spec.views, spec.coverage, spec.size)
    points = sample_surface(scene, offset)
    model = np.eye(4, dtype=np.float32)
    model[:3, 3] = offset
    archive = DatasetArchive(out_dir, cams, event)  # its writer thread starts before the GL context: no fork follows
    renderer = None
    try:
        from dxgl.render.renderer import Renderer

        renderer = Renderer(scene, spec.size, spec.size)
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
            geometry = renderer.draw_geometry(pose).copy()
            archive.add_view(i, rgba, geometry)
        return archive.finish(points)  # sends ("encoding", {}) once every view is stored
    except BaseException:
        archive.abort()
        raise
    finally:
        if renderer is not None:
            renderer.close()


def dataset_child_main(model_path: str, work: tuple, messages) -> None:
    """Entry point of the spawned process. ``work``: (DatasetSpec, out_dir); ``messages``: a
    multiprocessing queue to the parent."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dxgl.render[%(process)d] %(message)s")
    spec, out_dir = work
    send = messages.put
    report_child_outcome(
        send, lambda: _render(Path(model_path), spec, Path(out_dir), send), "dataset render", "a smaller dataset tier"
    )
