"""Keep what a long batch or bench folder has measured, in a folder small enough to commit.

    python scripts/archive_results.py BATCH_OR_BENCH_FOLDER ARCHIVE_FOLDER
    python scripts/archive_results.py --restore ARCHIVE_FOLDER BATCH_OR_BENCH_FOLDER

A batch's or bench's folder holds its journals (results.jsonl, each search's journal.jsonl)
beside episodes, checkpoints, logs and tensorboard files of hundreds of MB. The archive keeps
the journals, configs, programs, results and summaries, and the policy of each batch search's
best candidate (its report's rollout): the evidence behind the tables in docs/results, a few
hundred KB.

Copied back into a folder (``--restore``), the same batch or bench command continues from it
on another machine: finished trainings and candidates are read back and not run again. An
unfinished training starts over, unless ``--checkpoints`` kept its last checkpoint (a few MB
for PPO; an off-policy training's replay buffer can be hundreds of MB).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from text2reward.runfolder import candidate_path
from text2reward.store import atomic_copy

KEPT = {"results.jsonl", "batch.json", "journal.jsonl", "config.json", "command.txt",
        "summary.json", "best_reward.py", "program.py", "result.json", "critic.json",
        "preset.json", "bench.json"}
POLICY = {"policy.zip", "obs_norm.npz"}  # a batch search's best: its report's rollout
SKIPPED_FOLDERS = {"tmp", "tb", "checkpoint.new"}  # a checkpoint being written
CHECKPOINT_FOLDERS = {"checkpoint", "checkpoint.old"}  # training/checkpoint.py


def kept(relative: Path, checkpoints: bool = False, best: frozenset[Path] = frozenset()) -> bool:
    folders = set(relative.parts[:-1])
    if SKIPPED_FOLDERS & folders:
        return False
    if CHECKPOINT_FOLDERS & folders or relative.name == "job.json":
        return checkpoints  # where an unfinished training continues
    if relative.name in KEPT:
        return True
    return relative.name in POLICY and relative.parent in best


def best_candidates(source: Path) -> frozenset[Path]:
    """The folders (relative to ``source``) of each batch search's best candidate so far."""
    found = set()
    for summary in source.glob("*/search/summary.json"):
        try:
            best = json.loads(summary.read_text()).get("best") or {}
            found.add(candidate_path(summary.parent, best["round"], best["index"]))
        except (ValueError, KeyError, TypeError):
            continue  # no candidate trained yet, or a summary being written
    return frozenset(p.relative_to(source) for p in found)


def copy(source: Path, target: Path, select: bool, checkpoints: bool = False,
         max_checkpoint_mb: float = 50.0) -> int:
    """Copy the kept files of ``source`` (all of them when not ``select``) that differ.

    Archiving, a checkpoint the archive holds for a training that has since finished (or moved
    on) goes, and a checkpoint over ``max_checkpoint_mb`` is left out with a line that says so.
    """
    copied, best = 0, best_candidates(source)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or (select and not kept(relative, checkpoints, best)):
            continue
        if select and checkpoints and CHECKPOINT_FOLDERS & set(relative.parts[:-1]):
            size = sum(f.stat().st_size for f in path.parent.iterdir() if f.is_file()) / 1e6
            if size > max_checkpoint_mb:
                if path.name == "state.json":  # one line per checkpoint
                    print(f"left out {path.parent} ({size:.0f} MB, over "
                          f"{max_checkpoint_mb:g} MB): that training would start over")
                continue
        out = target / relative
        if out.is_file() and out.read_bytes() == path.read_bytes():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_copy(path, out)
        copied += 1
    if select and target.is_dir():  # what the archive holds that is no longer so
        for stale in sorted(target.rglob("*")):
            relative = stale.relative_to(target)
            if not stale.is_file():
                continue
            if kept(relative, checkpoints=True) and not kept(relative):  # a checkpoint's file
                if not (source / relative).is_file():
                    stale.unlink()  # its training has finished since
            elif relative.name in POLICY and relative.parent not in best:
                stale.unlink()  # a candidate that is no longer its search's best
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--restore", action="store_true",
                        help="copy an archive back into a batch or bench folder")
    parser.add_argument("--checkpoints", action="store_true",
                        help="keep the last checkpoint of each unfinished training")
    parser.add_argument("--max-checkpoint-mb", type=float, default=50.0,
                        help="leave out a checkpoint larger than this (a replay buffer)")
    args = parser.parse_args()
    if not args.source.is_dir():
        parser.error(f"{args.source} is not a folder")
    copied = copy(args.source, args.target, not args.restore, args.checkpoints,
                  args.max_checkpoint_mb)
    print(f"{copied} files copied from {args.source} to {args.target}")


if __name__ == "__main__":
    main()
