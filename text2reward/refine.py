"""A person in the loop: between rounds they type feedback, prefer one of two rollouts, or accept.

The loop asks a *reviewer* (any callable ``Review -> Decision``) after each round it may ask
about; ``TerminalReviewer`` is the one behind ``text2reward refine`` and ``run --interactive``.
Every decision is journaled as ``{"event": "human", ...}`` and shapes the next round: typed
words go to the designer as ``Feedback.human``; a preferred rollout makes its candidate the
best (the parent of the next round, as in REvolve and ICPL) and adds a sentence saying so;
accept ends the search, keeping the best. Resume replays journaled decisions, never asks again.

Review sessions are journaled too (``review_session``: the first round a person reviews and
the rounds the run then has), so ``refine RUN_DIR`` continues an unfinished session or starts
a new one that extends ``rounds`` in config.json.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from text2reward.runfolder import candidate_path
from text2reward.search.records import CandidateRecord
from text2reward.search.resume import Restored

TOP = 3  # candidates shown side by side
ACTIONS = ("feedback", "choose", "accept")


@dataclass
class Shown:
    """One candidate as the person sees it."""

    round: int
    index: int
    score: float | None
    success: bool | None
    success_rate: float | None
    env_return: float | None
    components: dict[str, float]  # mean per-episode sum of each reward component, at evaluation
    source: str
    best: bool  # the run's best so far

    @property
    def at(self) -> list[int]:
        return [self.round, self.index]

    @property
    def label(self) -> str:
        return f"round {self.round} candidate {self.index}"


@dataclass
class Review:
    """What a reviewer is shown after a round: its top trained candidates, best first."""

    round: int
    rounds: int  # the rounds the run has (this session included)
    run_dir: Path
    top: list[Shown] = field(default_factory=list)

    @property
    def last(self) -> bool:
        return self.round + 1 >= self.rounds


@dataclass
class Decision:
    """A person's decision on a round (``action``: feedback, choose or accept)."""

    action: str
    text: str = ""  # the typed feedback, or the reason for a choice (may be empty)
    chosen: list[int] | None = None  # [round, index] of the preferred rollout
    other: list[int] | None = None  # [round, index] of the rollout it was preferred to

    def event(self, r: int) -> dict[str, Any]:
        """The journal event of this decision on round ``r``."""
        if self.action not in ACTIONS:
            raise ValueError(f"unknown decision {self.action!r}; one of {', '.join(ACTIONS)}")
        out: dict[str, Any] = {"event": "human", "round": r, "action": self.action}
        if self.text.strip():
            out["text"] = self.text.strip()
        if self.action == "choose":
            if not (self.chosen and self.other):
                raise ValueError("a choice names the preferred and the other [round, index]")
            out.update(chosen=list(self.chosen or []), other=list(self.other or []))
        return out


Reviewer = Callable[[Review], Decision]


class SessionLeft(Exception):
    """The person left a review (end of input or Ctrl-C at a prompt); ``refine`` continues it."""

    def __init__(self, round_index: int):
        super().__init__(f"left the review of round {round_index}")
        self.round = round_index


def review_of(r: int, rounds: int, run_dir: Path, records: list[CandidateRecord],
              best: CandidateRecord | None) -> Review:
    """Round ``r``'s top trained candidates (and the run's best, when from an earlier round)."""
    pool = [rec for rec in records if rec.ranked]
    if best is not None and all(c.at != best.at for c in pool):
        pool.append(best)
    pool.sort(key=lambda c: c.rank, reverse=True)
    top = []
    for c in pool[:TOP]:
        final = c.result.eval if c.result is not None else {}
        top.append(Shown(c.round, c.index, c.score, c.success, c.success_rate, c.env_return,
                         dict(final.get("components") or {}), c.source or "",
                         best is not None and c.at == best.at))
    return Review(r, rounds, Path(run_dir), top)


def human_words(decision: dict[str, Any] | None) -> str | None:
    """What the designer is told of a journaled decision (``Feedback.human``), or None."""
    if not decision:
        return None
    text = (decision.get("text") or "").strip()
    if decision.get("action") == "feedback":
        return text or None
    if decision.get("action") == "choose":
        (r, i), (r2, i2) = decision["chosen"], decision.get("other") or [None, None]
        other = f" to that of round {r2} candidate {i2}" if r2 is not None else ""
        words = (f"I watched rollouts of two trained policies and preferred the behaviour of the "
                 f"policy trained on this program (round {r} candidate {i}){other}.")
        return f"{words} Why: {text}" if text else words
    return None


# -- sessions -----------------------------------------------------------------------------------
def complete_rounds(restored: Restored) -> int:
    """How many rounds, from round 0 on, have every candidate finished."""
    n = 0
    proposals, records = restored.proposals, restored.records
    while n in proposals and len(records.get(n, {})) == len(proposals[n]):
        n += 1
    return n


def pending_session(restored: Restored, rounds: int) -> dict[str, Any] | None:
    """The last review session if it is unfinished (rounds left, or its last review undecided)."""
    if not restored.sessions:
        return None
    session = restored.sessions[-1]
    start = session.get("from_round", 0)
    if any(r >= start and d.get("action") == "accept" for r, d in restored.decisions.items()):
        return None  # the person accepted: that session is over
    done = complete_rounds(restored)
    if done < rounds or (done - 1 >= start and done - 1 not in restored.decisions):
        return session
    return None


def start_session(store, restored: Restored, config: dict[str, Any], more: int,
                  command: list[str]) -> dict[str, Any]:
    """Journal a new review session of ``more`` rounds after the finished ones; returns the
    updated config (``rounds`` extended, written to config.json and journaled)."""
    done = complete_rounds(restored)
    first = max(done - 1, 0)  # the last finished round is reviewed first
    decided = restored.decisions.get(first)
    if decided is not None and decided.get("action") == "accept":
        store.journal({"event": "human", "round": first, "action": "reopen",
                       "why": "a new refine session reviews this round again"})
    total = done + more
    if total != config.get("rounds"):
        store.journal({"event": "config", "key": "rounds", "from": config.get("rounds"),
                       "to": total, "by": "refine"})
        config = {**config, "rounds": total}
        store.write_json("config.json", config)
    store.journal({"event": "review_session", "from_round": first, "rounds": total,
                   "command": command})
    return config


# -- the terminal ---------------------------------------------------------------------------------
class TerminalReviewer:
    """Shows the top candidates and their rollouts, then asks: f(eedback), c(hoose) or a(ccept).

    Input comes from click prompts, so piped stdin works for scripts; end of input or Ctrl-C
    at a prompt raises SessionLeft.
    """

    def __init__(self, console, pause: Callable[[], AbstractContextManager] | None = None,
                 render: bool = True):
        self.console = console
        self.pause = pause or nullcontext
        self.render = render

    def __call__(self, review: Review) -> Decision:
        import click

        from text2reward.display import review_table

        with self.pause():
            self.console.rule(f"your review of round {review.round}")
            if not review.top:
                self.console.print("no candidate of this round was trained")
            else:
                self.console.print(review_table(review))
                self._rollouts(review)
            choices = ["f", "c", "a"] if len(review.top) >= 2 else ["f", "a"]
            menu = "f: type feedback" + (", c: choose between the top two rollouts"
                                         if "c" in choices else "") + ", a: accept and stop"
            if review.last:
                self.console.print("this is the session's last round: feedback is kept for the "
                                   "next `text2reward refine`")
            try:
                return self._ask(click, review, choices, menu)
            except click.exceptions.Abort:
                raise SessionLeft(review.round) from None

    def _ask(self, click, review: Review, choices: list[str], menu: str) -> Decision:
        self.console.print(menu)
        action = _prompt(click, "decision", type=click.Choice(choices))
        if action == "a":
            return Decision("accept")
        if action == "f":
            text = ""
            while not text.strip():
                text = _prompt(click, "feedback")
            return Decision("feedback", text)
        first, second = review.top[0], review.top[1]
        pick = _prompt(click, f"which behaviour is better: 1 ({first.label}) or 2 "
                              f"({second.label})", type=click.Choice(["1", "2"]))
        chosen, other = (first, second) if pick == "1" else (second, first)
        reason = _prompt(click, "why (optional)", default="", show_default=False)
        return Decision("choose", reason, chosen.at, other.at)

    def _rollouts(self, review: Review) -> None:
        """Render the top two policies offscreen to GIF and print where they are."""
        from text2reward.rollout import RenderUnavailable, render_rollout

        for k, shown in enumerate(review.top[:2], start=1):
            folder = candidate_path(review.run_dir, shown.round, shown.index)
            gif = folder / "rollout.gif"
            if self.render and not gif.is_file():
                try:
                    gif = render_rollout(review.run_dir, shown.round, shown.index)
                except RenderUnavailable as exc:
                    self.console.print(f"{k}: {shown.label}: no rollout ({exc}); "
                                       f"program: {folder / 'program.py'}", markup=False)
                    continue
            where = gif if gif.is_file() else "not rendered"
            self.console.print(f"{k}: {shown.label}: rollout {where}; program "
                               f"{folder / 'program.py'}", markup=False, highlight=False)


def _prompt(click, text: str, **options):
    """click.prompt on stderr; answers piped in (not typed) are echoed with their newline, so
    the transcript does not run into the next line."""
    import sys

    answer = click.prompt(text, err=True, **options)
    if not sys.stdin.isatty():
        click.echo(answer, err=True)
    return answer
