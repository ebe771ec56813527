"""Pure rendering library: scene loading, camera paths, GL renderer, compositing, encoding.

Importing this package never creates a GL context and never imports vispy: GL work runs in a
spawned child process. No HTTP, database or Redis here.
"""

from dxgl.render.types import RenderError, RenderOutputs

__all__ = ["RenderError", "RenderOutputs"]
