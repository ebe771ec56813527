"""Pure rendering library: scene loading, camera paths, GL renderer, compositing, encoding.

Importing this package never creates a GL context and never imports vispy: GL work runs in a
spawned child process. No HTTP, database or Redis here.
"""

from dxgl.render.dataset import DATASET_TIERS, DatasetOutputs, DatasetSpec, render_dataset
from dxgl.render.engine import render_job, render_variants
from dxgl.render.scene import load_scene
from dxgl.render.spec import OUTPUT_SIZES, JobSpec
from dxgl.render.types import RenderError, RenderOutputs

__all__ = [
    "DATASET_TIERS",
    "DatasetOutputs",
    "DatasetSpec",
    "JobSpec",
    "OUTPUT_SIZES",
    "RenderError",
    "RenderOutputs",
    "load_scene",
    "render_dataset",
    "render_job",
    "render_variants",
]
