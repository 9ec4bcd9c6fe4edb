"""--budget-usd and --max-total-tokens stop a run cleanly with the best so far."""

from __future__ import annotations

import json

from fake_openai import Say
from test_cli import TASK, t2r

ARGS = ["run", "--env", "CartPole-v1", "--task", TASK, "--samples", "2", "--rounds", "3",
        "--timesteps", "2000", "--keep-going"]


def run(tmp_path, fake, *extra):
    out = tmp_path / "run"
    proc = t2r(*ARGS, "--api-base", fake.api_base, "--out", str(out), *extra,
               env={"OPENAI_API_KEY": None, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    path = out / "summary.json"
    summary = json.loads(path.read_text()) if path.exists() else None
    return proc, summary


def test_budget_usd_stops_after_the_round_that_reached_it(tmp_path, fake_openai):
    proc, summary = run(tmp_path, fake_openai, "--model", "openai/gpt-4o-mini",
                        "--budget-usd", "0.00001")
    assert proc.returncode == 0, proc.stderr
    assert len(fake_openai.completions) == 1
    assert len(summary["rounds"]) == 1 and summary["best"] is not None
    assert summary["status"] == "finished"
    cost = summary["usage"]["cost_usd"]
    assert summary["stopped"] == f"budget_usd reached ({cost:.4g} of 1e-05)"
    assert summary["rounds"][0]["usage"]["cost_usd"] == cost > 0.00001
    journal = (tmp_path / "run" / "journal.jsonl").read_text()
    events = [json.loads(line) for line in journal.splitlines()]
    assert [e["reason"] for e in events if e["event"] == "stopped"] == [summary["stopped"]]


def test_max_total_tokens_counts_unpriced_models_as_zero_cost(tmp_path, fake_openai):
    proc, summary = run(tmp_path, fake_openai, "--model", "openai/fake-model",
                        "--max-total-tokens", "10")
    assert proc.returncode == 0, proc.stderr
    usage = summary["usage"]
    tokens = usage["prompt_tokens"] + usage["completion_tokens"]
    assert summary["stopped"] == f"max_total_tokens reached ({tokens} of 10)"
    assert len(summary["rounds"]) == 1 and len(fake_openai.completions) == 1
    assert usage["cost_usd"] == 0 and usage["unpriced_requests"] == usage["requests"] == 1


def test_a_budget_reached_before_anything_trained_exits_1(tmp_path, fake_openai):
    fake_openai.queue(Say("I cannot write code today."))
    proc, summary = run(tmp_path, fake_openai, "--model", "openai/fake-model",
                        "--max-total-tokens", "10")
    assert proc.returncode == 1
    assert len(fake_openai.completions) == 1  # the failed round is not retried past the budget
    assert summary["status"] == "failed" and summary["best"] is None
    assert summary["stopped"].startswith("max_total_tokens reached")
    last = proc.stderr.strip().splitlines()[-1]
    assert "no candidate could be trained: 2 rejected at the extract stage; the last reason: " \
        "the reply contains no code block" in last, last


def test_a_budget_must_be_positive(tmp_path, fake_openai):
    proc, _ = run(tmp_path, fake_openai, "--model", "openai/fake-model", "--budget-usd", "0")
    assert proc.returncode == 2 and "--budget-usd must be positive" in proc.stderr
    assert not (tmp_path / "run").exists()
