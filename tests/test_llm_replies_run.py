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


def test_no_code_and_repeated_replies_in_a_run(tmp_path, fake_openai):
    fake_openai.queue(Say(["I need to know the features first.", ALTERNATIVE]),
                      Say(ESCAPE), Say(ESCAPE))
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model",
               "--api-base", fake_openai.api_base, "--samples", "2", "--rounds", "1",
               "--repairs", "2", "--timesteps", "1000", "--out", str(out),
               env={"OPENAI_API_KEY": None})
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
