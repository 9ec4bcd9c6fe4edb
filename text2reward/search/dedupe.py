"""Duplicate candidates are not trained again: the same program (by code hash), or a reward
that is a positive multiple of a trained one on the critic's shared transitions (by reward
signature: the same optimal policies). The duplicate reuses the original's result."""

from __future__ import annotations

import threading

from text2reward.search.records import CandidateRecord, TrainingResult


class Seen:
    """The results of original candidates, by code hash and by reward signature."""

    def __init__(self) -> None:
        self.by_code: dict[str, TrainingResult] = {}
        self.by_signature: dict[str, TrainingResult] = {}
        self._lock = threading.Lock()

    def remember(self, record: CandidateRecord, result: TrainingResult) -> None:
        """Note an original candidate's result, for later duplicates to reuse: by code, and
        (trained ones) by reward signature."""
        with self._lock:
            if record.code_hash:
                self.by_code.setdefault(record.code_hash, result)
            if record.signature and result.trained:
                self.by_signature.setdefault(record.signature, result)

    def reuse(self, record: CandidateRecord) -> TrainingResult | None:
        """The result ``record`` reuses as a duplicate of an earlier candidate, or None."""
        with self._lock:
            same = self.by_code.get(record.code_hash or "")
            multiple = self.by_signature.get(record.signature or "")
        if same is not None:
            return same.reused_as(same.at or [], None)
        if multiple is not None:
            r0, i0 = multiple.at or [None, None]
            return multiple.reused_as(multiple.at or [], (
                f"a positive multiple of r{r0} c{i0} on the critic's shared transitions (same "
                "optimal policies); its result is reused"))
        return None
