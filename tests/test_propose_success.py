"""run --propose-success: the model's success criterion, checked, stored and used (or refused)."""

import json

from fake_openai import Say
from test_cli import t2r

from text2reward.critic.success import random_episodes, score_episodes
from text2reward.envs.spec import load_spec
from text2reward.llm.success import extract_success
from text2reward.training.scoring import PROPOSED_MARK, load_user_scorer

TASK = "keep the pole balanced for as long as possible"
SURVIVAL = ("The success criterion counts the steps survived.\n\n```python\nimport numpy as np\n"
            "\nTHRESHOLD = 100\n\n\ndef score(episode):\n    \"\"\"steps survived\"\"\"\n"
            "    return float(episode.length)\n```\n")
HOSTILE = ("```python\nimport os\n\nTHRESHOLD = 1\n\n\ndef score(episode):\n"
           "    return float(os.getpid())\n```\n")


def _run(fake, out, *extra):
    return t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model",
               "--api-base", fake.api_base, "--samples", "1", "--rounds", "1",
               "--timesteps", "1000", "--reeval-seeds", "1", "--propose-success",
               "--out", str(out), *extra, env={"OPENAI_API_KEY": None})


def test_an_accepted_proposal_is_stored_shown_and_used(tmp_path, fake_openai):
    fake_openai.queue(Say(SURVIVAL))
    out = tmp_path / "run"
    proc = _run(fake_openai, out)
    assert proc.returncode == 0, proc.stderr
    assert "proposed success criterion: steps survived (threshold 100)" in proc.stderr
    assert "pass --success FILE to use your own" in proc.stderr
    first = fake_openai.completions[0].body["messages"][-1]["content"]
    assert "score(episode)" in first and "THRESHOLD" in first and TASK in first
    stored = (out / "proposed_success.py").read_text()
    assert stored.startswith(PROPOSED_MARK) and "episode.length" in stored
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success"]["kind"] == "proposed"
    assert summary["success"]["threshold"] == 100
    assert summary["success"]["metric"] == "steps survived"
    config = json.loads((out / "config.json").read_text())
    assert config["success"] == str(out / "proposed_success.py") and config["propose_success"]
    assert "proposed" in (out / "report.html").read_text()
    trained = [json.loads(p.read_text()) for p in out.rglob("result.json")]
    assert any(r.get("score_kind") == "proposed" for r in trained)  # the workers used it


def test_a_hostile_proposal_is_refused_and_the_run_ranks_by_env_return(tmp_path, fake_openai):
    fake_openai.queue(Say(HOSTILE), Say(HOSTILE))
    out = tmp_path / "run"
    proc = _run(fake_openai, out)
    assert proc.returncode == 0, proc.stderr
    repair = fake_openai.completions[1].body["messages"][-1]["content"]
    assert "import os" in repair and "only numpy and math" in repair
    assert "refused after one repair" in proc.stderr and "env's own return" in proc.stderr
    assert not (out / "proposed_success.py").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success"]["kind"] == "env-return"


def test_offline_designer_cannot_propose(tmp_path):
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "offline",
               "--propose-success", "--out", str(out))
    assert proc.returncode == 2
    assert "--propose-success needs an LLM designer" in proc.stderr
    assert not out.exists()


def test_the_runtime_check_finds_a_score_that_is_not_a_finite_float():
    spec = load_spec("CartPole-v1")
    episodes = random_episodes(spec, {}, n=2)
    assert all(e.length >= 1 for e in episodes)
    code, _ = extract_success(SURVIVAL)
    scores, findings = score_episodes(code, episodes)
    assert not findings and scores == [float(e.length) for e in episodes]
    nan = code.replace("float(episode.length)", "float('nan')")
    assert "must be finite" in score_episodes(nan, episodes)[1][0]
    crash = code.replace("float(episode.length)", "episode.features['nope']")
    assert "KeyError" in score_episodes(crash, episodes)[1][0]


def test_a_proposal_is_loaded_lazily_with_its_literal_threshold(tmp_path):
    code, _ = extract_success(SURVIVAL)
    path = tmp_path / "proposed_success.py"
    path.write_text(f"{PROPOSED_MARK}\n{code}")
    scorer = load_user_scorer(path)
    assert (scorer.kind, scorer.threshold, scorer.metric) == ("proposed", 100.0, "steps survived")
    episodes = random_episodes(load_spec("CartPole-v1"), {}, n=1)
    assert scorer.fn(episodes[0]) == float(episodes[0].length)
