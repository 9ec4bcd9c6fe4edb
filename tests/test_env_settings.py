"""--env-kwargs: parsed as rl-zoo3 does, checked before any folder exists, used by every stage
and shown to the designer with a termination text true for the settings in force."""

import json

import pytest
from fake_openai import Say
from test_cli import t2r

from text2reward.envs.abstraction import describe
from text2reward.envs.settings import check_env_kwargs, parse_env_kwargs
from text2reward.envs.spec import load_spec
from text2reward.errors import UsageError

NO_TERMINATION = "terminate_when_unhealthy:False"
SPIN = ("Spin backward.\n```python\nimport numpy as np\n\n\n"
        "def compute_reward(state, action, next_state):\n"
        "    spin = -np.clip(next_state.pitch_rate, -8.0, 8.0)\n"
        "    return spin, {'spin': spin}\n```\n")
TURNS = ('"""Largest backward rotation of the torso from the start, in turns."""\n'
         "import numpy as np\n\nTHRESHOLD = 1.0\n\n\ndef score(episode):\n"
         "    pitch = np.asarray(episode.features['torso_pitch'])\n"
         "    return float(np.max(pitch[0] - pitch)) / (2 * np.pi)\n")


def test_values_are_python_literals_as_in_rl_zoo3():
    parsed = parse_env_kwargs(["terminate_when_unhealthy:False", "healthy_z_range:(0.5, 2)",
                               "xml_file:'a:b.xml'", "frame_skip: 5"])
    assert parsed == {"terminate_when_unhealthy": False, "healthy_z_range": (0.5, 2),
                      "xml_file": "a:b.xml", "frame_skip": 5}
    with pytest.raises(UsageError, match="not a Python literal.*quote a string"):
        parse_env_kwargs(["terminate_when_unhealthy:Flase"])
    with pytest.raises(UsageError, match="write KEY:VALUE"):
        parse_env_kwargs(["terminate_when_unhealthy"])


def test_an_unknown_setting_is_named_with_what_the_env_accepts():
    with pytest.raises(UsageError) as info:
        check_env_kwargs("Hopper-v5", {}, {"terminate_when_unhealty": False})
    message = str(info.value)
    assert "no setting 'terminate_when_unhealty'" in message
    assert "accepts: " in message and "terminate_when_unhealthy" in message
    with pytest.raises(UsageError, match="observation space"):  # features index the default obs
        check_env_kwargs("Hopper-v5", {}, {"exclude_current_positions_from_observation": False})
    with pytest.raises(UsageError, match="healthy_z_range"):  # a bad value fails at reset/step
        check_env_kwargs("Hopper-v5", {}, {"healthy_z_range": 5})
    check_env_kwargs("Hopper-v5", {}, {"terminate_when_unhealthy": False})


def test_the_termination_text_is_the_one_for_the_settings_in_force():
    spec = load_spec("Hopper-v5")
    default = describe(spec.under(spec.env_kwargs(None)))
    assert "|torso_pitch| > 0.2 rad" in default and "Env settings" not in default
    assert "switch this termination off" not in default  # the designer cannot switch it
    off = describe(spec.under(spec.env_kwargs(None, {"terminate_when_unhealthy": False})))
    assert "0.2 rad" not in off and "never ends early" in off
    assert "Env settings for this run (keyword arguments of gym.make): " \
           "terminate_when_unhealthy=False" in off
    flip = spec.tasks["back_flip"]  # a curated task's own settings count as well
    assert "never ends early" in describe(spec.under(spec.env_kwargs(flip)))
    other = describe(spec.under(spec.env_kwargs(None, {"reset_noise_scale": 0.1})))
    assert "0.2 rad" in other and "reset_noise_scale=0.1 may change what ends an episode" in other


def test_bad_settings_are_one_line_and_exit_2_before_any_folder(tmp_path):
    for args in (["run", "--env", "Hopper-v5", "--task", "hop", "--env-kwargs", "foo:1"],
                 ["train", "--env", "Hopper-v5", "--reward", "r.py", "--env-kwargs", "foo:1"],
                 ["check", "--env", "Hopper-v5", "r.py", "--env-kwargs", "foo:1"]):
        (tmp_path / "r.py").write_text("def compute_reward(s, a, n):\n    return 0, {}\n")
        proc = t2r(*args, *(["--out", str(tmp_path / "out")] if args[0] != "check" else []),
                   cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Hopper-v5 has no setting 'foo'" in lines[0], proc.stderr
        assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()
    assert "--env-kwargs KEY:VALUE" in t2r("run", "--help").stdout


def _free_form_back_flip(tmp_path, fake_openai, *settings):
    """A free-form back flip through the LLM path with the user's success file (turns)."""
    fake_openai.queue(Say(SPIN))
    (tmp_path / "turns.py").write_text(TURNS)
    out = tmp_path / "run"
    proc = t2r("run", "--env", "Hopper-v5", "--task", "make the hopper do a back flip",
               "--model", "openai/fake-model", "--api-base", fake_openai.api_base,
               "--samples", "1", "--rounds", "1", "--timesteps", "8192",
               "--success", str(tmp_path / "turns.py"), *settings, "--out", str(out),
               env={"OPENAI_API_KEY": None})
    assert proc.returncode in (0, 1), proc.stderr  # 1: below the threshold of 1 turn
    prompt = json.dumps(fake_openai.completions[0].body["messages"])
    best = json.loads((out / "summary.json").read_text())["best"]
    return out, proc, prompt, best


def test_a_free_form_back_flip_with_termination_off(tmp_path, fake_openai):
    """The issue's case. With termination off the policy turns past 0.2 rad (0.03 turns)
    within 8192 steps."""
    out, proc, prompt, best = _free_form_back_flip(
        tmp_path, fake_openai, "--env-kwargs", NO_TERMINATION,
        "--env-kwargs", "max_episode_steps:200")
    assert "did you mean --task back_flip?" in proc.stderr  # its own success is not used
    config = json.loads((out / "config.json").read_text())
    assert config["env_kwargs"] == {"terminate_when_unhealthy": False, "max_episode_steps": 200}
    assert "terminate_when_unhealthy=False" in prompt and "0.2 rad" not in prompt
    assert best["score"] > 0.2, best  # turns; the pitch termination would stop it at 0.033
    result = json.loads((out / "rounds" / "r00" / "c00" / "result.json").read_text())
    assert result["eval"]["length"] == 200  # max_episode_steps:200, and nothing ends it sooner


def test_the_same_back_flip_without_the_setting_is_capped_by_the_pitch_termination(
        tmp_path, fake_openai):
    """Without --env-kwargs the episode ends once |torso_pitch| > 0.2 rad, so no reward can
    turn the hopper further, and the designer is told so."""
    _, _, prompt, best = _free_form_back_flip(tmp_path, fake_openai)
    assert "|torso_pitch| > 0.2 rad" in prompt
    assert best["score"] < 0.06, best  # 0.2 rad is 0.032 turns, plus the last step's turn


def test_a_free_form_task_without_success_file_says_it_ranks_by_env_return(tmp_path,
                                                                          fake_openai):
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", "make the cart dance",
               "--model", "openai/fake-model", "--api-base", fake_openai.api_base,
               "--samples", "1", "--rounds", "2", "--timesteps", "1024", "--out", str(out),
               env={"OPENAI_API_KEY": None})
    assert proc.returncode == 0, proc.stderr
    assert "no success criterion" in proc.stderr and "success criterion:" not in proc.stderr
    assert "does not meet" not in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success"]["kind"] == "env-return"
    assert summary["success"]["threshold"] is None
    assert "no success criterion" in summary["success"]["metric"]
    feedback = json.dumps(fake_openai.completions[1].body["messages"])
    assert "task_score" not in feedback and "task score" not in feedback
    assert "env_return: [" in feedback and "No success criterion is measured" in feedback
    report = (out / "report.html").read_text()
    assert "does not meet" not in report and "this run has no success criterion" in report
    assert "the env&#x27;s own return; no success criterion" in report
