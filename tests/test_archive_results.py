"""scripts/archive_results.py: what an archive of a batch or bench folder keeps and drops.
(tests/test_batch.py restores one and checks that the batch continues from it.)"""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "archive_results.py"
spec = importlib.util.spec_from_file_location("archive_results", SCRIPT)
archive = importlib.util.module_from_spec(spec)
spec.loader.exec_module(archive)


def write(root: Path, relative: str, size: int = 10) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_journals_and_results_are_kept_episodes_logs_and_checkpoints_are_not(tmp_path):
    source, target = tmp_path / "batch", tmp_path / "archive"
    kept = ["results.jsonl", "T/search/journal.jsonl", "T/search/rounds/r00/c00/program.py",
            "T/search/rounds/r00/c00/result.json", "T/search/rounds/r00/c00/policy.zip",
            "T/search/rounds/r00/c00/obs_norm.npz", "T/expert-s0/result.json"]
    dropped = ["T/expert-s0/episodes.npz", "T/expert-s0/policy.zip", "T/expert-s0/worker.log",
               "T/expert-s0/tb/events", "T/search/rounds/r00/c01/tmp/x/program.py",
               "T/search/rounds/r00/c01/job.json",
               "T/search/rounds/r00/c01/checkpoint/state.json",
               "T/search/rounds/r00/c01/policy.zip",  # not the search's best
               "full/rounds/r00/c00/policy.zip"]  # a bench search's: no report to show it
    for f in kept + dropped:
        write(source, f)
    summary = source / "T/search/summary.json"  # its report renders the best candidate
    summary.write_text(json.dumps({"status": "running", "best": {"round": 0, "index": 0}}))
    assert archive.copy(source, target, select=True) == len(kept) + 1
    assert files(target) == {*kept, "T/search/summary.json"}
    assert archive.copy(source, target, select=True) == 0  # nothing changed, nothing copied

    write(source, "T/search/rounds/r01/c01/policy.zip")  # a better candidate: the old best's go
    summary.write_text(json.dumps({"status": "finished", "best": {"round": 1, "index": 1}}))
    archive.copy(source, target, select=True)
    assert {f for f in files(target) if "policy" in f or "obs_norm" in f} == {
        "T/search/rounds/r01/c01/policy.zip"}


def test_checkpoints_are_kept_on_request_under_a_size_cap_and_go_once_finished(tmp_path, capsys):
    source, target = tmp_path / "batch", tmp_path / "archive"
    write(source, "T/sparse-s0/job.json")
    write(source, "T/sparse-s0/checkpoint/state.json")
    write(source, "T/sparse-s0/checkpoint/networks.pt", 1000)
    write(source, "T/expert-s0/job.json")
    write(source, "T/expert-s0/checkpoint.old/state.json")
    write(source, "T/expert-s0/checkpoint.old/raw.npz", 3_000_000)  # a replay buffer
    archive.copy(source, target, select=True, checkpoints=True, max_checkpoint_mb=1)
    assert files(target) == {"T/sparse-s0/job.json", "T/sparse-s0/checkpoint/state.json",
                             "T/sparse-s0/checkpoint/networks.pt", "T/expert-s0/job.json"}
    assert "left out" in capsys.readouterr().out
    # the training finished: its checkpoint is gone from the batch, and from the next archive
    for f in (source / "T/sparse-s0/checkpoint").iterdir():
        f.unlink()
    write(source, "T/sparse-s0/result.json")
    archive.copy(source, target, select=True)
    assert "T/sparse-s0/checkpoint/state.json" not in files(target)
    assert "T/sparse-s0/result.json" in files(target)

    restored = tmp_path / "restored"  # restoring copies everything back
    assert archive.copy(target, restored, select=False) == len(files(target))
