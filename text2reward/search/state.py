"""What the steps around the rounds read of a search: the summary and the review between
rounds take a ``SearchState`` (``Loop`` is one), not the loop itself."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from text2reward.designer import Designer
from text2reward.search.candidate import Collaborators, Setup
from text2reward.search.records import CandidateRecord
from text2reward.search.usage import Usage
from text2reward.store import RunStore


class SearchState(Protocol):
    """A search's state, as the summary and the review read it."""

    config: Any  # RunConfig
    setup: Setup
    designer: Designer
    store: RunStore
    usage: Usage
    parts: Collaborators
    rounds: list[dict[str, Any]]  # finished rounds: {"round", "candidates"}
    best: CandidateRecord | None
    partial: dict[str, Any] | None  # the round in progress: {"round", "candidates"}
    stopped: str | None
    failure: dict[str, Any] | None
    reevaluation: dict[str, Any] | None
    stop: Any  # Stopping: the stop state, and how the trainings share the budget
    started: float
    summary_lock: threading.Lock

    def set_best(self, record: CandidateRecord, **shown: Any) -> None: ...
