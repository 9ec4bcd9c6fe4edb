"""A run through the real litellm client: a reply without code is answered with why (not the
same prompt again), an identical refused program is not checked again, and critic.json says
which block of a reply was trained and why."""

import json

from fake_openai import Say
from test_cli import TASK, t2r

ESCAPE = ("```python\nimport os\n\n\ndef compute_reward(state, action, next_state):\n"
          "    return os.getpid(), {}\n```\n")
DENSE = ("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
         "    upright = np.cos(next_state.pole_angle)\n"
         '    return upright, {"upright": upright}\n')
SPARSE = DENSE.replace("np.cos(next_state.pole_angle)", "np.ones_like(next_state.pole_angle)")
ALTERNATIVE = (f"I recommend this reward:\n```python\n{DENSE}```\n"
               f"Alternatively, only as a sparse baseline:\n```python\n{SPARSE}```\n")


def llm_run(fake_openai, out, *args):
    """A CartPole run whose model is the fake server (through the real litellm client)."""
    return t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model",
               "--api-base", fake_openai.api_base, *args, "--out", str(out),
               env={"OPENAI_API_KEY": None})


def test_no_code_and_repeated_replies_in_a_run(tmp_path, fake_openai):
    fake_openai.queue(Say(["I need to know the features first.", ALTERNATIVE]),
                      Say(ESCAPE), Say(ESCAPE))
    out = tmp_path / "run"
    proc = llm_run(fake_openai, out, "--samples", "2", "--rounds", "1", "--repairs", "2",
                   "--timesteps", "1000")
    assert proc.returncode in (0, 1), proc.stderr
    bodies = [r.body for r in fake_openai.completions]
    assert len(bodies) == 3  # the proposal, then two repairs of candidate 0: no re-proposal
    retry = bodies[1]["messages"]
    assert retry[-2]["content"] == "I need to know the features first."
    assert "could not be used" in retry[-1]["content"]

    attempts = json.loads((out / "rounds" / "r00" / "c00" / "critic.json").read_text())
    assert [a["stage"] for a in attempts] == ["extract", "static", "repeat"]
    assert "same program as attempt 1" in attempts[2]["error"]

    taken = json.loads((out / "rounds" / "r00" / "c01" / "critic.json").read_text())
    assert taken[0]["accepted"] and taken[0]["extraction"]["taken"] == 1
    assert "baseline" in taken[0]["extraction"]["note"]
    assert "np.cos" in (out / "rounds" / "r00" / "c01" / "program.py").read_text()
    if proc.returncode == 0:  # the report says which block was trained and why
        assert "baseline" in (out / "report.html").read_text()


BAND = ("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
        "    x = np.abs(next_state.cart_position)\n"
        "    drift = np.sqrt((x - 0.8) * (x - 1.2))\n"
        '    return drift, {"drift": drift}\n')  # NaN only for 0.8 < |x| < 1.2: the critics'
# states never get there, training does
GUARDED = BAND.replace("(x - 0.8) * (x - 1.2)", "np.clip((x - 0.8) * (x - 1.2), 0.0, None)")


def test_a_reward_that_fails_in_training_is_repaired_in_the_next_round(tmp_path, fake_openai):
    fake_openai.queue(Say([f"```python\n{BAND}```", f"```python\n{DENSE}```"]),
                      Say(f"Guarded:\n```python\n{GUARDED}```"), Say(f"```python\n{DENSE}```"))
    out = tmp_path / "run"
    proc = llm_run(fake_openai, out, "--samples", "2", "--rounds", "2", "--keep-going",
                   "--timesteps", "3000")
    assert proc.returncode == 0, proc.stderr
    bodies = [r.body for r in fake_openai.completions]
    assert len(bodies) == 3 and bodies[2].get("n", 1) == 1  # round 1: the repair, 1 proposal
    repair = bodies[1]["messages"][-1]["content"]
    assert "component 'drift' is NaN or inf after about" in repair
    assert "next_state: cart_position=" in repair and "np.sqrt" in repair

    summary = json.loads((out / "summary.json").read_text())
    failed = summary["rounds"][0]["candidates"][0]
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("reward failed during training: component 'drift'")
    repaired = summary["rounds"][1]["candidates"][0]
    assert repaired["origin"] == "llm-repair of r0 c0 (its reward failed in training)"
    assert repaired["status"] == "trained"
    assert "np.clip" in (out / "rounds" / "r01" / "c00" / "program.py").read_text()
    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert [e["of"] for e in journal if e["event"] == "training_repair"] == [[0, 0]]


def test_replies_cut_off_at_max_tokens_are_shown_while_the_run_goes(tmp_path, fake_openai):
    cut = "Here is the reward.\n```python\nimport numpy as np\n\n\ndef compute_reward(state,"
    fake_openai.queue(Say(cut, finish_reason="length"), Say(f"```python\n{DENSE}```"))
    out = tmp_path / "run"
    proc = llm_run(fake_openai, out, "--samples", "1", "--rounds", "1", "--timesteps", "1000",
                   "--max-tokens", "300")
    assert proc.returncode in (0, 1), proc.stderr
    said = " ".join(proc.stderr.split())  # the live view, as the terminal shows it
    assert ("round 0: 1 of 1 propose replies hit max_tokens and were cut off (--max-tokens "
            "raises the limit); the model is asked again for a shorter one") in said
    summary = json.loads((out / "summary.json").read_text())
    assert summary["usage"]["cut_off_replies"] == 1
