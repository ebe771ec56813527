"""Child-process targets that run away on purpose, for the sandbox limit tests (module-level: spawn pickles them by name)."""

from __future__ import annotations

import time


def allocate_forever() -> None:
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


def spin_forever() -> None:
    while True:
        time.sleep(0) or sum(range(1000))


def die_hard() -> None:
    import os

    os._exit(3)


def answer(value: int) -> int:
    return value * 2
