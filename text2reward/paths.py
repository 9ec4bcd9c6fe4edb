"""Where the shipped data (env specs, prompt templates) lives, from a checkout or a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory of shipped data ``name`` ("envs" or "prompts").

    A wheel carries it inside the package (``text2reward/_data/NAME``); a checkout or an
    editable install keeps it at the repository root.
    """
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"text2reward data directory {name!r} is missing from the install")
