"""Offscreen rollouts of a trained candidate's policy, written as an animated GIF.

Used by the report (the best policy's rollout) and by ``refine`` (the top candidates side by
side). No display is needed: envs render to RGB arrays and SDL is told to use dummy drivers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from text2reward.gl import INSTALL_HINT, use_offscreen_gl

use_offscreen_gl()  # before anything below imports MuJoCo

from text2reward.envs.spec import load_spec  # noqa: E402
from text2reward.errors import Text2RewardError, WorkFailed  # noqa: E402
from text2reward.runfolder import Run, at_of  # noqa: E402
from text2reward.training.normalize import ObsStats, beside  # noqa: E402
from text2reward.training.presets import build_preset, trained_preset  # noqa: E402

ROLLOUT_FRAMES = 100
ROLLOUT_WIDTH = 360


class RenderUnavailable(WorkFailed):
    """A rollout could not be rendered here (no policy, no renderer, no Pillow)."""


def render_rollout(
    run_dir: Path,
    round_index: int | None = None,
    index: int | None = None,
    frames: int = ROLLOUT_FRAMES,
    renderer: Callable[..., tuple[list[Any], float]] | None = None,
) -> Path:
    """Render a candidate's policy (default: the best) offscreen to ``rollout.gif`` in its folder.

    The policy's weights are read with ``torch.load(weights_only=True)`` into a policy built
    from the preset it was trained with (``preset.json``; the env's preset for older runs), so
    nothing from the run folder is unpickled.
    Raises RenderUnavailable when the env, Pillow or the policy cannot render here.
    ``renderer`` replaces the frame source (``rollout_frames``), for callers that supply their own.
    """
    run = Run(Path(run_dir))
    if round_index is None or index is None:
        if run.best is None:
            raise RenderUnavailable("the run has no trained candidate to render")
        round_index, index = at_of(run.best)
    folder = run.folder(round_index, index)
    if not (folder / "policy.zip").is_file():
        raise RenderUnavailable(f"{folder} has no policy.zip to render")
    try:
        from PIL import Image
    except ImportError:
        raise RenderUnavailable("rendering a rollout needs Pillow: pip install pillow") from None
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    backend = use_offscreen_gl()
    try:
        images, fps = (renderer or rollout_frames)(run, folder / "policy.zip", frames)
    except Text2RewardError:
        raise
    except Exception as exc:  # renderers fail in many ways (no display, no GL, missing extras)
        hint = ""
        if backend is None and "OpenGL" in f"{type(exc).__name__}: {exc}":
            hint = f" ({INSTALL_HINT})"
        raise RenderUnavailable(
            f"rendering {run.summary['env']} failed here: {type(exc).__name__}: {exc}{hint}"
        ) from None
    pictures = [_shrink(Image.fromarray(image)) for image in images]
    out = folder / "rollout.gif"
    pictures[0].save(
        out,
        save_all=True,
        append_images=pictures[1:],
        loop=0,
        duration=max(20, int(1000 / fps)),
        optimize=True,
    )
    return out


def _shrink(image):
    height = round(image.height * ROLLOUT_WIDTH / image.width)
    return image.resize((ROLLOUT_WIDTH, height)).convert("P", palette=1, colors=64)


def _render_env(env_id: str, settings: dict[str, Any]):
    """The env rendering to arrays, at the GIF's own size where the env takes one (MuJoCo's
    width/height: software rendering costs in proportion to the pixels)."""
    import gymnasium as gym

    size = {"width": ROLLOUT_WIDTH, "height": ROLLOUT_WIDTH}
    if "width" not in settings and _takes(env_id, "width"):
        return gym.make(env_id, render_mode="rgb_array", **size, **settings)
    return gym.make(env_id, render_mode="rgb_array", **settings)


def _takes(env_id: str, name: str) -> bool:
    """Whether the env's constructor has a keyword ``name``."""
    import inspect

    import gymnasium as gym

    try:
        entry = gym.spec(env_id).entry_point
        creator = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) \
            else entry
        return name in inspect.signature(creator).parameters
    except Exception:  # an entry point that cannot be inspected renders at its own size
        return False


def rollout_frames(run: Run, policy_path: Path, frames: int):

    spec = load_spec(run.summary["env"])
    key = run.summary.get("task_key")
    task = spec.tasks.get(key.split(":", 1)[1]) if key else None
    settings = spec.env_kwargs(task, run.config.get("env_kwargs"))  # the run's, as trained
    env = _render_env(spec.env_id, settings)
    try:
        preset = trained_preset(policy_path.parent) or build_preset(spec, task)
        policy = _load_policy(policy_path, preset, env)
        stats = ObsStats.load(beside(policy_path))  # the policy's observation normalisation
        obs, _ = env.reset(seed=int(run.config.get("seed") or 0))
        images = [env.render()]
        for _ in range(frames - 1):
            action, _ = policy.predict(obs if stats is None else stats.apply(obs),
                                       deterministic=True)
            obs, _, terminated, truncated, _ = env.step(action)
            images.append(env.render())
            if terminated or truncated:
                break
        return images, env.metadata.get("render_fps") or 30
    finally:
        env.close()


def _load_policy(path: Path, preset: dict[str, Any], env):
    from text2reward.training.backends import load_policy

    return load_policy(path, preset, env)

