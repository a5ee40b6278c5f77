"""Pausing Python's cyclic garbage collector while a batch is rated.

Rating a batch creates hundreds of thousands of small, acyclic objects (lines, usage tuples)
that reference counting frees on its own; the cyclic collector would meanwhile rescan the large,
long-lived catalog again and again (measured: a quarter of the batch's time). Pausing it for
the batch is safe: garbage is still freed by reference counting, and collection resumes when
the last batch running in the process ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    global _active
    with _lock:
        if _active == 0 and gc.isenabled():
            gc.disable()
            _active = 1
        elif _active:
            _active += 1
    try:
        yield
    finally:
        with _lock:
            if _active:
                _active -= 1
                if _active == 0:
                    gc.enable()
