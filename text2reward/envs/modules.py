"""A user's package that registers env ids (``--env-module PKG``): found, imported, and the folder
it came from remembered, so every later command on a run (and every worker) imports it too.

The package is looked up as Python looks up any import (installed, or on ``PYTHONPATH``), then
in the folder a run recorded, then in the current folder.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from text2reward.envs.spec import import_env_module
from text2reward.errors import UsageError


def load_env_module(module: str, recorded: str | None = None) -> str | None:
    """Import ``module``; the folder its top-level package was imported from (None when that
    cannot be told, e.g. a namespace package spread over folders)."""
    try:
        import_env_module(module)
        return package_root(module)
    except UsageError:
        pass
    tried = []
    for folder in dict.fromkeys(f for f in (recorded, os.getcwd()) if f):
        if not Path(folder).is_dir() or folder in sys.path:
            continue
        tried.append(folder)
        sys.path.insert(0, folder)
        try:
            import_env_module(module)
            return package_root(module)
        except UsageError:
            sys.path.remove(folder)
    where = f" nor in {' or '.join(tried)}" if tried else ""
    raise UsageError(f"the env module {module!r} is not installed{where}: install it "
                     "(pip install -e DIR), add the folder that holds it to PYTHONPATH, or run "
                     "from that folder")


def package_root(module: str) -> str | None:
    """The ``sys.path`` folder that ``module``'s top-level package was imported from."""
    top = importlib.import_module(module.split(".")[0])
    file = getattr(top, "__file__", None)
    if file:
        path = Path(file).resolve()
        return str(path.parent.parent if path.name == "__init__.py" else path.parent)
    paths = list(getattr(top, "__path__", []))
    return str(Path(paths[0]).resolve().parent) if len(paths) == 1 else None
