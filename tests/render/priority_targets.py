"""Child targets for test_priority.py (module level: a spawned child imports them by name)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any


def priorities(emit: Any) -> tuple[int, int]:
    """In the child: (its own nice value, the nice value of a process it starts)."""
    grandchild = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return os.getpriority(os.PRIO_PROCESS, 0), int(grandchild.stdout)
