"""Job bodies shared by the arq worker (``worker.py``) and the embedded runner of ``dxgl serve``:

- ``render_job``: turn queued renders into assets;
- ``sweeper``: queue lost renders again and remove stale temporary files (one tick across all
  workers);
- ``embedded``: the in-process runner of the embedded default.
"""

from dxgl.jobs.render_job import run_renders
from dxgl.jobs.sweeper import sweep

__all__ = ["run_renders", "sweep"]
