"""The scripts in ``benchmarks/``, loaded as modules so the tests run their code paths.

They import their siblings by name (``import dataset``), so ``benchmarks/`` is on
``sys.path`` while one loads, and taken off afterwards: its ``render.py`` would otherwise
shadow the tests' ``render`` package. Each is registered in ``sys.modules`` under its own
name (dataclasses need that), and loaded once per process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module."""
    path = BENCHMARKS / f"{name}.py"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "")) == path:
        return loaded
    saved = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module
