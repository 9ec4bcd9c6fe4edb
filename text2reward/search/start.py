"""Starting and continuing a search: the one way ``run``, ``resume``, ``refine``, ``batch`` and
``bench`` set one up.

``prepare`` checks everything before a run folder exists (env, task, success, designer and its
key): bad input fails there with one clear line, so no half-written run folder is left behind.
``search`` runs the rounds over a run folder, new or restored (``restore``); ``open_run``
gives a folder's store, continuing what an earlier process left there.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from text2reward.config import RunConfig
from text2reward.designer import Designer
from text2reward.envs.settings import check_env_kwargs
from text2reward.envs.spec import check_env_id, load_spec
from text2reward.errors import UsageError
from text2reward.offline import OfflineDesigner
from text2reward.search.candidate import Setup
from text2reward.search.resume import Restored, restore
from text2reward.store import RunStore
from text2reward.training.scoring import load_scorer

if TYPE_CHECKING:
    from text2reward.refine import Reviewer
    from text2reward.search.candidate import Observer


__all__ = ["make_designer", "open_run", "prepare", "restore", "search"]

def make_designer(config: RunConfig) -> Designer:
    """The designer named by ``config.model``; remote models must have their key (except
    with ``--replay``, which answers every request from a recorded run)."""
    if config.model == "offline":
        return OfflineDesigner(seed=config.seed)
    from text2reward.llm.designer import LLMDesigner

    designer = LLMDesigner(config.model, api_base=config.api_base, temperature=config.temperature,
                           max_tokens=config.max_tokens, timeout_s=config.llm_timeout_s,
                           replay=config.replay, cache=config.cache, cache_dir=config.cache_dir)
    designer.check_credentials()
    return designer


def prepare(config: RunConfig) -> tuple[Setup, Designer]:
    """Validate the run and resolve its env, task, ground-truth score and designer."""
    config.validate()
    check_env_id(config.env)
    spec = load_spec(config.env)
    task = spec.task(config.task)
    if config.model == "offline":
        OfflineDesigner.family_for(task, config.task, spec.env_id)
    scorer = load_scorer(spec, task.name if task else None, config.success)
    if config.env_kwargs:
        spec.prepare()
        check_env_kwargs(spec.env_id, spec.env_kwargs(task), config.env_kwargs)
    designer = make_designer(config)
    if config.timesteps is None and not spec.training_preset(task).get("timesteps"):
        raise UsageError(f"{spec.env_id} has no training preset; pass --timesteps")
    seen = spec.under(spec.env_kwargs(task, config.env_kwargs))  # what the designer is told
    return Setup(seen, task, scorer.kind, scorer.metric, scorer.threshold), designer


def open_run(folder: Path, config: RunConfig) -> tuple[RunStore, Restored | None]:
    """The store of the run folder ``folder``: a new one for ``config``, or the one an earlier
    process left there (no new config is written) with its work restored."""
    if (folder / "config.json").is_file():
        return RunStore.open(folder), restore(folder)
    return RunStore.create(folder, config.to_dict()), None


def search(config: RunConfig, setup: Setup, designer: Designer, store: RunStore,
           restored: Restored | None = None, *, observe: Observer | None = None,
           reviewer: Reviewer | None = None,
           interrupted: threading.Event | None = None) -> dict[str, Any]:
    """Run the search's rounds over ``store`` (continuing ``restored`` work when given); its
    summary. ``interrupted`` is the flag a signal handler sets (see ``Stopping``)."""
    from text2reward.search.loop import Loop

    if restored is not None:
        forget_unfinished_experience(store.root, restored)
    loop = Loop(config, setup, designer, store, observe or (lambda e: None), reviewer)
    if interrupted is not None:
        loop.interrupted = interrupted
    return loop.run(restored)


def forget_unfinished_experience(root: Path, restored: Restored) -> None:
    """Remove the shared-experience files (training/experience.py) of trainings an earlier
    process left unfinished with no checkpoint to continue from: they are redone from the
    start, and a candidate that starts before one of them is redone must not be given what it
    had collected. A training with a checkpoint keeps its file, cut back to the checkpoint
    when it resumes."""
    from text2reward.runfolder import candidate_files
    from text2reward.training.experience import FILE

    for (r, index), path in candidate_files(root, FILE):
        if index not in restored.records.get(r, {}) and (r, index) not in restored.checkpointed:
            path.unlink(missing_ok=True)
