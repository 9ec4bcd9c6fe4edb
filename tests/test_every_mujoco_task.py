"""test_every_task.py's search, for the MuJoCo tasks (simulator features), in a file of its
own: `make test`'s two test processes take a file each at a time."""

from __future__ import annotations

import pytest
from test_every_task import MUJOCO, check_task


@pytest.mark.parametrize("key", MUJOCO)
def test_every_mujoco_task_completes_a_two_round_search_with_the_prescreen(
        key, tmp_path, monkeypatch):
    check_task(key, tmp_path, monkeypatch)
