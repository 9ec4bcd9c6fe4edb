"""When trainings stop before their budget, and when the search stops before its last round.

Successive halving cuts candidates behind their peers; with ``--stop-on-success`` a candidate
that succeeds in every evaluation episode ends the search, and the trainings of its round
still in flight stop. With local workers these decisions are taken at fixed fractions of each
training, in candidate order (``RungSchedule``), so a seed gives the same search whatever the
load or the number of workers; Ray's trainings are stopped asynchronously instead.

Every input the schedule is given (a candidate arriving at its training, a pause's score, a
candidate's end) is journaled as a "schedule" event, in the order the schedule took them. A
resumed run replays its round's events (those of its own allocation) through a fresh
schedule, which is then where the earlier process left it: the same candidate holds the
budget, the same ones wait at their pauses. Its trainings continue from their checkpoints
(training/checkpoint.py); one that passes a pause again is told the decision already taken
there, and one that waited at a pause waits there again for a decision not taken yet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from text2reward.runfolder import read_journal
from text2reward.sandbox import decision_path, request_stop
from text2reward.search.bandit import START, BudgetBandit
from text2reward.search.halving import RungSchedule, SuccessiveHalving
from text2reward.search.records import CandidateRecord, TrainingResult
from text2reward.store import RunStore


class Stopping:
    """The stop state of a search: halving, the schedule of decisions, the trainings in
    flight, the candidate that met the target, and the run's interruption."""

    def __init__(self, config, threshold: float | None, store: RunStore,
                 observe: Callable[[dict[str, Any]], None] = lambda e: None) -> None:
        self.config, self.store, self.threshold = config, store, threshold
        self.observe = observe  # the live view: which candidate waits for the budget
        self.stop_on_success = False
        self.halving = SuccessiveHalving(threshold=threshold) if config.early_stop else None
        self.schedule: RungSchedule | BudgetBandit | None = None
        self._gates: dict[tuple[int, int], tuple[threading.Event, list[str]]] = {}
        self.solved_by: tuple[int, int] | None = None  # the first candidate meeting the target
        self.running: dict[tuple[int, int], Path] = {}  # trainings in flight -> their folders
        # Set by the command line's Ctrl-C and SIGTERM handler, and checked where the run
        # waits: the KeyboardInterrupt the handler raises can be lost (Python drops exceptions
        # raised inside a destructor that happens to run when the signal arrives).
        self.interrupted = threading.Event()
        self.stopping = False  # set on interruption: unfinished candidates are not recorded
        self._lock = threading.Lock()
        self._journal_lock = threading.Lock()  # the schedule's inputs, journaled in its order
        self.decisions: dict[tuple[tuple[int, int], float], str] = {}  # (candidate, pause) ->
        self.replayed: set[tuple[tuple[int, int], float]] = set()  # reports an earlier process
        self.arrived: set[tuple[int, int]] = set()  # gave (pause START: arrivals)

    def plan(self, reviewed: bool) -> None:
        """Fix the rules once it is known whether a person reviews rounds (then the search
        never stops on success by itself)."""
        config = self.config
        self.stop_on_success = bool(config.stop_on_success and not reviewed
                                    and self.threshold is not None)
        local = getattr(config, "executor", "local") != "ray"
        # decisions at fixed steps, where trainings can pause for them (local workers)
        if local and self.stop_on_success and config.allocation == "bandit":
            self.schedule = BudgetBandit(threshold=self.threshold, halving=config.early_stop)
        elif local and (config.early_stop or self.stop_on_success):
            self.schedule = RungSchedule(threshold=self.threshold, halving=config.early_stop,
                                         stop_on_success=self.stop_on_success)
        else:
            self.schedule = None

    @property
    def bandit(self) -> bool:
        """One training at a time, the budget moved between the round's candidates."""
        return isinstance(self.schedule, BudgetBandit)

    @property
    def allocation(self) -> str:
        """How the round's trainings share the budget: "bandit" or "rungs" (side by side)."""
        return "bandit" if self.bandit else "rungs"

    @property
    def pauses(self) -> list[float]:
        return list(self.schedule.pauses) if self.schedule is not None else []

    def meets_target(self, record: CandidateRecord) -> bool:
        """An original trained candidate succeeding in every evaluation episode, in a search
        that stops there."""
        return (self.stop_on_success and record.success_rate == 1.0
                and record.status == "trained" and record.original)

    def adopt(self, record: CandidateRecord) -> None:
        """A candidate finished by an earlier process."""
        if self.solved_by is None and self.meets_target(record):
            self.solved_by = record.at

    def skip_reason(self) -> str | None:
        """Why a candidate not started yet is skipped: the target was met (asynchronous
        stops only; the schedule lets it start and stops it at its first pause)."""
        if self.solved_by is None or self.schedule is not None:
            return None
        return f"target met by r{self.solved_by[0]} c{self.solved_by[1]}"

    def starting(self, at: tuple[int, int], folder: Path) -> str | None:
        """A training begins: None, or why it is skipped instead. With the budget bandit it
        first waits for its turn."""
        if self.bandit:
            event = self._gate(at)[0]
            self.observe({"event": "status", "round": at[0], "index": at[1], "status": "queued"})
            if at not in self.arrived:  # else it arrived in an earlier process (replayed)
                self._apply("arrive", at)
            while not event.wait(0.2):
                if self.interrupted.is_set():
                    return "interrupted"
            if (decision := self._gate(at)[1][0]) != "go":
                return decision
        with self._lock:
            reason = "interrupted" if self.stopping else self.skip_reason()
            if reason is None:
                self.running[at] = folder
        return reason

    def _gate(self, at: tuple[int, int]) -> tuple[threading.Event, list[str]]:
        with self._lock:
            return self._gates.setdefault(at, (threading.Event(), []))

    def finished_training(self, at: tuple[int, int]) -> None:
        with self._lock:
            self.running.pop(at, None)

    def open_round(self, r: int, done: dict[int, CandidateRecord], size: int) -> None:
        """Tell the schedule a round of ``size`` candidates begins: the inputs an earlier
        process gave it are replayed, then the ends of the candidates it finished (``done``)
        that it had not yet told the schedule of."""
        if self.schedule is None:
            return
        self.schedule.open_round(r, size)
        told = self._replay(r)
        for record in done.values():
            if record.at not in told:
                self.ended(record)

    def ended(self, record: CandidateRecord) -> None:
        """A candidate is done (trained, or never trained): release the decisions waiting on
        it, and with --stop-on-success, cut its round if it met the target."""
        if self.schedule is not None:
            result = record.result or TrainingResult(status=record.status)
            self._apply("end", record.at, fraction=result.fraction,
                        met=self.meets_target(record),
                        scores=[[p["pause"], p["score"]] for p in result.pauses or ()])

    # -- the schedule's inputs, journaled and replayed -------------------------------------------
    def _apply(self, call: str, at: tuple[int, int], **args: Any) -> None:
        """Give the schedule one input, journal it, and carry out the decisions now ready."""
        with self._journal_lock:
            actions = self._call(call, at, args)
            self.store.journal({"event": "schedule", "allocation": self.allocation,
                                "call": call, "round": at[0], "index": at[1], **args})
        self.decide(actions)

    def _call(self, call: str, at: tuple[int, int], args: dict[str, Any]) -> list:
        if call == "arrive":
            self.arrived.add(at)
            return self.schedule.arrive(at)
        if call == "report":
            return self.schedule.report(at, args["pause"], args["score"])
        return self.schedule.end(at, args["fraction"], args["met"],
                                 {p: score for p, score in args["scores"]})

    def _replay(self, r: int) -> set[tuple[int, int]]:
        """Give the schedule round ``r``'s journaled inputs again, in their order, remembering
        the decisions (their files were written then; a training that asks again is told);
        the candidates whose end it was given. Inputs journaled under another allocation
        (a run continued by `refine`, where a person reviews rounds) are not replayed."""
        told = set()
        for event in read_journal(self.store.root):
            if event.get("event") != "schedule" or event.get("round") != r \
                    or event.get("allocation") != self.allocation:
                continue
            at = (r, int(event["index"]))
            if event["call"] == "report":
                self.replayed.add((at, event["pause"]))
            elif event["call"] == "end":
                told.add(at)
            for key, pause, decision in self._call(event["call"], at, event):
                self.decisions[(key, pause)] = decision
                if pause == START and self.bandit:
                    self._release(key, decision)
        if self.bandit:
            self.schedule.take_moves()  # journaled then
        return told

    def cut_round(self, record: CandidateRecord) -> None:
        """A candidate met the target in every evaluation episode: the search is over, so the
        round's trainings in flight stop now (each is still evaluated and recorded) and its
        candidates not started yet are skipped."""
        if not self.meets_target(record):
            return
        with self._lock:
            if self.solved_by is not None:
                return
            self.solved_by = record.at
            running = list(self.running.values())
        self.store.journal({"event": "target_met", "round": record.round, "index": record.index})
        if self.schedule is not None:
            return  # the others stop at their next pause
        for folder in running:
            request_stop(folder, f"another candidate solved the task (r{record.round} "
                                 f"c{record.index})")

    def progress(self, at: tuple[int, int], folder: Path, event: dict[str, Any]) -> None:
        """A training's event: a pause waits for its decision; progress feeds asynchronous
        halving."""
        if event.get("event") == "pause" and self.schedule is not None:
            pause = event["pause"]
            if (at, pause) not in self.replayed:
                self._apply("report", at, pause=pause, score=event.get("score"))
            elif (decision := self.decisions.get((at, pause))) is not None:
                self._write_decision(at, pause, decision)  # asked again: a resumed training
        elif event.get("event") == "progress" and self.halving is not None \
                and self.schedule is None:
            if self.halving.report(at, event["step"], event["total"], event.get("score")):
                request_stop(folder, "behind its peers (successive halving)")

    def decide(self, decisions: list[tuple[tuple[int, int], float, str]]) -> None:
        """Write each ready decision where its paused training waits for it (a candidate
        waiting to start is released in this process)."""
        for (r, index), pause, decision in decisions:
            self.decisions[((r, index), pause)] = decision
            if pause == START and self.bandit:
                self._release((r, index), decision)
            else:
                self._write_decision((r, index), pause, decision)
            if decision != "go":
                self.store.journal({"event": "stop_decision", "round": r, "index": index,
                                    "pause": pause, "reason": decision})
        if self.bandit:
            for move in self.schedule.take_moves():
                self.store.journal({"event": "budget_moved", **move})
                self.observe({"event": "status", "round": move["round"],
                              "index": move["from"], "status": "waiting"})
                self.observe({"event": "status", "round": move["round"],
                              "index": move["to"], "status": "training"})

    def _release(self, at: tuple[int, int], decision: str) -> None:
        """Let the candidate waiting to start (``starting``) through, with ``decision``."""
        event, box = self._gate(at)
        box.append(decision)
        event.set()

    def _write_decision(self, at: tuple[int, int], pause: float, decision: str) -> None:
        path = decision_path(self.store.candidate_dir(*at), pause)
        self.store.write_text(path.relative_to(self.store.root), decision)

    @property
    def patience_factor(self) -> int:
        """How many trainings' time a training may spend alive: with the budget bandit, a
        paused one sleeps while the others of its round train."""
        return max(1, self.schedule.size) if self.bandit else 1
