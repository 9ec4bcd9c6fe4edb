"""MuJoCo rollouts render with no display: an offscreen GL backend is chosen before MuJoCo loads."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from text2reward import gl

NO_DISPLAY = ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL", "PYOPENGL_PLATFORM")

# A run folder with one untrained InvertedPendulum policy, rendered through render_rollout in a
# fresh process whose first import is text2reward.rollout, as the CLI's report and refine do.
SCRIPT = textwrap.dedent(
    """
    import io, json, os, sys, zipfile
    from pathlib import Path

    from text2reward.rollout import render_rollout  # first: it chooses the GL backend

    import gymnasium as gym
    import torch
    from PIL import Image, ImageStat
    from stable_baselines3 import PPO

    root = Path(sys.argv[1])
    folder = root / "rounds" / "r00" / "c00"
    folder.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"seed": 0}))
    best = {"round": 0, "index": 0}
    (root / "summary.json").write_text(
        json.dumps({"env": "InvertedPendulum-v5", "task_key": None, "best": best})
    )
    env = gym.make("InvertedPendulum-v5")
    policy = PPO.policy_aliases["MlpPolicy"](env.observation_space, env.action_space, lambda _: 0)
    weights = io.BytesIO()
    torch.save(policy.state_dict(), weights)
    with zipfile.ZipFile(folder / "policy.zip", "w") as archive:  # as SB3 saves it, in part
        archive.writestr("policy.pth", weights.getvalue())

    gif = Image.open(render_rollout(root, frames=4))
    spreads = []
    for k in range(gif.n_frames):
        gif.seek(k)
        spreads.append(max(ImageStat.Stat(gif.convert("L")).stddev))
    print(json.dumps({"backend": os.environ.get("MUJOCO_GL"), "frames": gif.n_frames,
                      "spreads": spreads}))
    """
)


def test_mujoco_rollout_renders_with_no_display(tmp_path):
    if not (gl._egl_works() or gl._osmesa_works()):
        pytest.skip(f"no offscreen OpenGL here: {gl.INSTALL_HINT}")
    env = {k: v for k, v in os.environ.items() if k not in NO_DISPLAY}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "run")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["backend"] in gl.BACKENDS
    assert result["frames"] >= 2
    assert all(spread > 5 for spread in result["spreads"])  # a scene, not a blank image
    assert "GLFW" not in proc.stderr and "DISPLAY" not in proc.stderr, proc.stderr


def test_a_users_own_backend_and_a_display_are_respected(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    assert gl._decide() == "osmesa"
    assert os.environ["PYOPENGL_PLATFORM"] == "osmesa"  # PyOpenGL must agree with MuJoCo

    monkeypatch.delenv("MUJOCO_GL")
    monkeypatch.delenv("PYOPENGL_PLATFORM")
    monkeypatch.setenv("DISPLAY", ":0")
    assert gl._decide() is None
    assert "MUJOCO_GL" not in os.environ


def test_no_offscreen_library_keeps_the_default_without_raising(monkeypatch):
    for name in NO_DISPLAY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(gl, "_load", lambda *names: None)
    monkeypatch.setitem(sys.modules, "OpenGL", None)
    assert gl._decide() is None  # PyOpenGL already loaded: too late to choose
    monkeypatch.delitem(sys.modules, "OpenGL")
    assert gl._decide() is None
    assert "MUJOCO_GL" not in os.environ
