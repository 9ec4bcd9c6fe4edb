"""LLM usage of a run (tokens, cost, requests; per round and in all) and its budget."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from text2reward.designer import Exchange
from text2reward.store import RunStore


def zero_usage() -> dict[str, Any]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "requests": 0,
            "unpriced_requests": 0, "cached_requests": 0, "replayed_requests": 0,
            "cut_off_replies": 0}


def add_usage(total: dict[str, Any], usage: dict[str, Any]) -> None:
    """Add one exchange: served (cached/replayed) ones cost nothing; unpriced ones count 0."""
    total["requests"] += 1
    for key in ("prompt_tokens", "completion_tokens", "cost_usd"):
        total[key] += usage.get(key) or 0
    total["cut_off_replies"] += cut_off(usage)
    if usage.get("replayed"):
        total["replayed_requests"] += 1
    elif usage.get("cached"):
        total["cached_requests"] += 1
    elif usage.get("priced") is False:
        total["unpriced_requests"] += 1


def cut_off(usage: dict[str, Any]) -> int:
    """How many of an exchange's replies were cut off at max_tokens."""
    return sum(1 for reason in usage.get("finish_reasons") or () if reason == "length")


class Usage:
    """The run's LLM usage, journaled per exchange and counted per round and in all, and the
    limits it must stay within (``--budget-usd``, ``--max-total-tokens``)."""

    def __init__(self, store: RunStore, observe: Callable[[dict[str, Any]], None],
                 budget_usd: float | None = None, max_total_tokens: int | None = None):
        self.store, self.observe = store, observe
        self.budget_usd, self.max_total_tokens = budget_usd, max_total_tokens
        self.total = zero_usage()
        self.rounds: dict[int, dict[str, Any]] = {}  # per round
        self.reached: str | None = None  # why the budget is spent, once it is
        self._lock = threading.Lock()

    def record(self, r: int, exchanges: list[Exchange], index: int | None = None) -> None:
        """Journal a designer's exchanges with the model, and count their usage."""
        for ex in exchanges:
            self.count(r, ex.usage)
            self.store.journal({"event": "llm", "round": r, "index": index, **asdict(ex)})
            if cut := cut_off(ex.usage):  # the person should know: raise --max-tokens
                self.observe({"event": "cut_off", "round": r, "index": index, "kind": ex.kind,
                              "cut": cut, "replies": len(ex.replies)})

    def count(self, r: int | None, usage: dict[str, Any]) -> None:
        """Add one exchange's usage to the run's and its round's totals."""
        with self._lock:
            totals = [self.total]
            if r is not None:
                totals.append(self.rounds.setdefault(r, zero_usage()))
            for total in totals:
                add_usage(total, usage)

    def recount(self, events: list[dict[str, Any]]) -> None:
        """Count again from the journal of an earlier process (per round, as they were)."""
        self.total, self.rounds = zero_usage(), {}
        for event in events:
            if event.get("event") == "llm":
                self.count(event.get("round"), event.get("usage") or {})

    def of_round(self, r: int) -> dict[str, Any]:
        return dict(self.rounds.get(r) or zero_usage())

    def budget_reached(self) -> bool:
        """True once --budget-usd or --max-total-tokens is reached (checked before each new
        LLM request and each new round; work in flight finishes). Journaled once."""
        with self._lock:
            if self.reached is not None:
                return True
            u, tokens = self.total, self.total["prompt_tokens"] + self.total["completion_tokens"]
            if self.budget_usd is not None and u["cost_usd"] >= self.budget_usd:
                self.reached = f"budget_usd reached ({u['cost_usd']:.4g} of {self.budget_usd:g})"
            elif self.max_total_tokens is not None and tokens >= self.max_total_tokens:
                self.reached = (f"max_total_tokens reached ({tokens} of "
                                f"{self.max_total_tokens})")
            else:
                return False
        self.store.journal({"event": "stopped", "reason": self.reached})
        self.observe({"event": "stopped", "reason": self.reached})
        return True
