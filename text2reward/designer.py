"""Designers turn a task and feedback into candidate reward programs.

Two kinds share this contract: the LLM designer (text2reward.llm) and the offline designer
(text2reward.offline), which evolves a parametrised family of programs without a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from text2reward.envs.spec import EnvSpec, Task


@dataclass
class Exchange:
    """One request to a model and what came back, for the journal."""

    kind: str  # "propose", "repair", ...
    messages: list[dict[str, str]]
    replies: list[str]
    usage: dict[str, Any] = field(default_factory=dict)  # prompt/completion tokens, cost


@dataclass
class Candidate:
    """One proposed program.

    ``source`` is None when no code could be extracted (``error`` says why).
    """

    source: str | None
    reply: str | None = None
    error: str | None = None
    origin: str = ""
    params: dict[str, float] | None = None  # the offline family's parameters, if any
    # how the program was found in the reply and adapted: {"kind", "blocks", "taken",
    # "joined", "note", "adapted": [one line per change]} (LLM candidates only)
    extraction: dict[str, Any] | None = None


@dataclass
class Feedback:
    """What the next round learns from: the best program so far and why it did what it did."""

    source: str
    reflection: str
    human: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)  # the analyzer's, structured
    params: dict[str, float] | None = None  # the best program's family parameters, if any


@dataclass
class DesignContext:
    """Everything a designer may see. Success functions and expert rewards are not in it."""

    spec: EnvSpec
    task_text: str
    task: Task | None  # the curated task this text names, if any (offline designer needs it)
    round: int
    feedback: Feedback | None = None
    seed: int = 0
    history: list[Feedback] = field(default_factory=list)  # earlier rounds' bests, oldest first


class Designer(Protocol):
    """Proposes K candidates per round and repairs rejected ones."""

    name: str

    def propose(self, ctx: DesignContext, k: int) -> tuple[list[Candidate], list[Exchange]]:
        """Return ``k`` candidates (failed samples included, with their error)."""
        ...

    def repair(
        self, ctx: DesignContext, candidate: Candidate, error: str
    ) -> tuple[Candidate, list[Exchange]]:
        """Return a repaired version of ``candidate`` given the exact error it met."""
        ...
