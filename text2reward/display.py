"""The live terminal view of a run: one progress row per candidate of the current round."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


def _fmt(value: Any, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


class LiveView:
    """Observer of loop events that renders round, candidate, status, score and steps/s."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[status]:<10}"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            TextColumn("score {task.fields[score]:>7}"),
            TextColumn("{task.fields[sps]:>6} steps/s"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.rows: dict[tuple[int, int], Any] = {}
        self.totals: dict[Any, int] = {}  # progress row -> training steps planned

    def __enter__(self) -> LiveView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the live rows while a person reviews a round (rows shown so far stay printed)."""
        self.progress.stop()
        for row in self.rows.values():
            self.progress.update(row, visible=False)  # printed already; not drawn again
        try:
            yield
        finally:
            self.progress.start()

    def _row(self, r: int, i: int):
        key = (r, i)
        if key not in self.rows:
            self.rows[key] = self.progress.add_task(f"round {r} cand {i}", total=None,
                                                    status="designed", score="-", sps="-")
        return self.rows[key]

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "round":
            self.console.rule(f"round {event['round']} (rounds 0-{event['rounds'] - 1})")
        elif kind == "status":
            row = self._row(event["round"], event["index"])
            fields = {"status": event["status"]}
            if event["status"] == "trained" and row in self.totals:  # where training ended
                fields["completed"] = event.get("steps") or self.totals[row]
            if event.get("stopped"):
                fields["status"] = f"stopped: {event['stopped']}"
            if event.get("score") is not None:
                fields["score"] = _fmt(event["score"])
            self.progress.update(row, **fields)
        elif kind == "progress":
            row = self._row(event["round"], event["index"])
            self.totals[row] = event["total"]
            self.progress.update(row, completed=event["step"], total=event["total"],
                                 sps=f"{event['sps']:.0f}", score=_fmt(event.get("score")))
        elif kind == "solved":
            self.console.print(f"solved in round {event['round']}: the search stops here "
                               "(--keep-going runs every round)")
        elif kind == "best":
            by = ", your choice" if event.get("by") == "person" else ""
            self.console.print(f"new best: round {event['round']} candidate {event['index']} "
                               f"(score {_fmt(event['score'])}{by})")
        elif kind == "cut_off":
            which = "" if event.get("index") is None else f" for candidate {event['index']}"
            again = ("; the model is asked again for a shorter one"
                     if event["kind"] in ("propose", "repair") else "")
            self.console.print(
                f"round {event['round']}: {event['cut']} of {event['replies']} {event['kind']} "
                f"replies{which} hit max_tokens and were cut off (--max-tokens raises the "
                f"limit){again}")
        elif kind == "accepted":
            self.console.print(f"accepted after round {event['round']}: the search stops here")


def summary_table(summary: dict[str, Any]) -> Table:
    """Per-round, per-candidate results of a finished run."""
    table = Table(title=f"{summary['env']}: {summary['task']}")
    for name in ("round", "cand", "status", "score", "success", "env return", "steps", "wall s"):
        table.add_column(name, justify="right" if name not in ("status",) else "left")
    for rnd in summary["rounds"]:
        for c in rnd["candidates"]:
            status = c["status"] if not c.get("duplicate_of") else "duplicate"
            table.add_row(str(rnd["round"]), str(c["index"]), status, _fmt(c.get("score")),
                          "-" if c.get("success") is None else ("yes" if c["success"] else "no"),
                          _fmt(c.get("env_return")), _fmt(c.get("steps"), "d"),
                          _fmt(c.get("wall_time_s"), ".1f"))
    return table


def review_table(review) -> Table:
    """The top candidates of a round side by side (a refine.Review): ground-truth score,
    success (rate), env return and the mean of each reward component at evaluation."""
    names = sorted({n for shown in review.top for n in shown.components})
    table = Table(title=f"round {review.round}: top candidates, best first",
                  caption="* the run's best so far; components: mean sum per evaluation episode")
    for name in ("#", "candidate", "score", "success", "env return", *names):
        table.add_column(name, justify="left" if name == "candidate" else "right")
    for k, shown in enumerate(review.top, start=1):
        success = "-" if shown.success is None else ("yes" if shown.success else "no")
        if shown.success_rate is not None:
            success += f" ({shown.success_rate:.0%})"
        table.add_row(f"{k}{'*' if shown.best else ''}", f"r{shown.round} c{shown.index}",
                      _fmt(shown.score), success, _fmt(shown.env_return),
                      *(_fmt(shown.components.get(n)) for n in names))
    return table
