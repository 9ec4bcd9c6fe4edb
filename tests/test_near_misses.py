"""A task name or text close to a curated task gets "did you mean --task NAME?"."""

import pytest
from test_cli import t2r

from text2reward.envs.spec import load_spec


@pytest.mark.parametrize("text", ["backflip", "make the hopper do a back flip", "do a Backflip",
                                  "back-flip"])
def test_back_flip_is_suggested_for_its_near_misses(text):
    assert load_spec("Hopper-v5").close_tasks(text)[0] == "back_flip"


def test_unrelated_text_and_words_inside_other_words_suggest_nothing():
    hopper = load_spec("Hopper-v5")
    assert hopper.close_tasks("juggle three balls") == []
    assert "hop" not in hopper.close_tasks("make the hopper do a back flip")  # hop in hopper
    assert load_spec("CartPole-v1").close_tasks("make the cart dance") == []


@pytest.mark.parametrize("args, line", [
    (["run", "--env", "Hopper-v5", "--task", "make the hopper do a back flip"],
     "error: the offline designer knows only the curated tasks of Hopper-v5 (`text2reward envs "
     "Hopper-v5`): did you mean --task back_flip? For the task 'make the hopper do a back flip' "
     "as written, pass --model"),
    (["run", "--env", "Hopper-v5", "--task", "backflip"], "did you mean --task back_flip?"),
    (["check", "--env", "Hopper-v5", "--task", "backflip", "r.py"],
     "error: Hopper-v5 has no task 'backflip': did you mean --task back_flip? "
     "(tasks: hop, back_flip)"),
    (["train", "--env", "Hopper-v5", "--task", "backflip", "--reward", "r.py"],
     "did you mean --task back_flip?"),
])
def test_the_suggestion_is_in_the_one_line_error(tmp_path, args, line):
    (tmp_path / "r.py").write_text("def compute_reward(s, a, n):\n    return 0, {}\n")
    proc = t2r(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and line in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()
