"""End-to-end `run` against a scripted OpenAI-compatible server through the real litellm client."""

import json

from fake_openai import Say, cartpole_reply
from test_cli import TASK, t2r

ESCAPE = ("Sure.\n```python\nimport os\n\n\ndef compute_reward(state, action, next_state):\n"
          "    return os.getpid(), {}\n```\n")


def test_run_with_a_local_openai_compatible_server(tmp_path, fake_openai):
    fake_openai.queue(Say([ESCAPE, cartpole_reply(1)]))  # round 0: one bad sample of two
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model",
               "--api-base", fake_openai.api_base, "--samples", "2", "--rounds", "2",
               "--keep-going", "--timesteps", "2000", "--out", str(out),
               env={"OPENAI_API_KEY": None})
    assert proc.returncode == 0, proc.stderr

    bodies = [r.body for r in fake_openai.completions]
    assert len(bodies) == 3  # round 0 (n=2), one repair, round 1 (n=2)
    assert bodies[0]["n"] == 2 and bodies[0]["model"] == "fake-model"
    repair_prompt = bodies[1]["messages"][-1]["content"]
    assert "import os" in repair_prompt and "only numpy and math" in repair_prompt
    feedback_prompt = json.dumps(bodies[2]["messages"])
    assert "task_score" in feedback_prompt and "compute_reward" in feedback_prompt

    summary = json.loads((out / "summary.json").read_text())
    first = summary["rounds"][0]["candidates"]
    assert first[0]["attempts"][0]["stage"] == "static" and not first[0]["attempts"][0]["accepted"]
    assert first[0]["attempts"][1]["accepted"] and first[0]["status"] == "trained"
    assert summary["usage"]["requests"] == 3 and summary["usage"]["prompt_tokens"] > 0
    assert summary["best"] is not None
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    llm = [e for e in journal if e["event"] == "llm"]
    assert len(llm) == 3 and llm[0]["replies"][0].startswith("Sure.")
    assert (out / "rounds" / "r00" / "c00" / "reply.md").exists()
