"""The winner is named after the top candidates are trained with further seeds (the search's
own training counting as one), as Eureka retrains its final reward over seeds."""

import json

from test_cli import t2r


def test_the_top_candidates_are_retrained_over_seeds_and_the_winner_named_on_the_mean(tmp_path):
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", "balance", "--model", "offline",
               "--samples", "3", "--rounds", "1", "--keep-going", "--timesteps", "3000",
               "--reeval-seeds", "3", "--reeval-top", "2", "--out", str(out),
               env={"TEXT2REWARD_REEVAL_SEEDS": None})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    reeval = summary["reevaluation"]
    assert reeval["seeds"] == 3 and len(reeval["candidates"]) == 2
    for row in reeval["candidates"]:
        assert [run["seed"] for run in row["runs"]] == [0, 1, 2]
        scores = [run["score"] for run in row["runs"]]
        assert abs(row["mean"] - sum(scores) / 3) < 1e-9 and row["std"] >= 0
        assert (out / "rounds" / "r00" / f"c{row['index']:02d}" / "seed2" / "policy.zip").exists()
    winner = max(reeval["candidates"], key=lambda c: (c["success_rate"], c["mean"]))
    assert reeval["winner"] == [winner["round"], winner["index"]]
    assert [summary["best"]["round"], summary["best"]["index"]] == reeval["winner"]
    assert reeval["env_steps"] >= 4 * 3000  # reported apart from the search's own env steps
    assert summary["env_steps"] <= 3 * 3100
    assert "over 3 seeds: mean score" in proc.stderr + proc.stdout
    assert "Re-evaluation over seeds" in (out / "report.html").read_text()
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "reeval" for e in events) == 4
    resumed = t2r("resume", str(out), env={"TEXT2REWARD_REEVAL_SEEDS": None})
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "reeval" for e in events) == 4  # nothing trained twice


def test_reeval_seeds_1_names_the_winner_from_the_search_alone(tmp_path):
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", "balance", "--model", "offline",
               "--samples", "2", "--rounds", "1", "--timesteps", "2000", "--reeval-seeds", "1",
               "--out", str(out), env={"TEXT2REWARD_REEVAL_SEEDS": None})
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["reevaluation"] is None
