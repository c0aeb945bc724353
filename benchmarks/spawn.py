"""Running one function of a benchmark script in a freshly spawned process.

Each phase of a benchmark gets a process of its own (its own Django setup, memory and
database connections); the scripts call ``call(__name__, "phase", *args)``, and the
function's return value (or its traceback) comes back through a queue.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import traceback
from typing import Any

CTX = mp.get_context("spawn")


def _call_main(module: str, fn_name: str, args: tuple, results) -> None:
    # In the child, the script run as __main__ is importable under that name again.
    try:
        results.put(getattr(importlib.import_module(module), fn_name)(*args))
    except BaseException:
        results.put({"error": traceback.format_exc()})


def call(module: str, fn_name: str, *args: Any) -> Any:
    """``module.fn_name(*args)`` in a new process; raise with the child's traceback."""
    results = CTX.Queue()
    proc = CTX.Process(target=_call_main, args=(module, fn_name, args, results))
    proc.start()
    out = results.get()
    proc.join()
    if isinstance(out, dict) and "error" in out:
        raise RuntimeError(f"{fn_name} failed:\n{out['error']}")
    return out
