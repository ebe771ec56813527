"""Pure rendering library: scene loading, camera paths, GL renderer, compositing, encoding, datasets.

Importing this package never creates a GL context and never imports vispy: GL work runs in a
spawned child process (``dxgl.proc``). No HTTP, database or Redis here. Sizes, file names, effects,
tiers and every other value of the public contract come from ``dxgl.contract``.

Layout: ``spec`` (JobSpec), ``types`` (RenderError, RenderOutputs), ``video`` (render_job,
render_variants) and ``video_child`` (the video child process), ``child`` (running a render child,
errors for the user), ``scene``, ``camera``, ``gl_platform`` (EGL device enumeration, DXGL_GPU_INDEX,
the Mesa fall-back), ``probe`` (the worker's start-up probe: GL renderer, NVENC), ``renderer``,
``shaders``, ``shadow``, ``composite``, ``encode`` (libx264 or NVENC), and the ``dataset`` subpackage
(render_dataset).
"""

from dxgl.render.dataset import DatasetOutputs, DatasetSpec, render_dataset
from dxgl.render.scene import load_scene
from dxgl.render.spec import JobSpec
from dxgl.render.types import RenderError, RenderOutputs
from dxgl.render.video import render_job, render_variants

__all__ = [
    "DatasetOutputs",
    "DatasetSpec",
    "JobSpec",
    "RenderError",
    "RenderOutputs",
    "load_scene",
    "render_dataset",
    "render_job",
    "render_variants",
]
