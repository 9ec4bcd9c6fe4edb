"""The env return of a trained policy, measured as rl-zoo3's benchmark measures it.

    python scripts/evaluate_policy.py TRAINING_FOLDER [--steps 150000] [--seed 0]

TRAINING_FOLDER is a finished `text2reward train --out` folder (its policy.zip, preset.json
and job.json). The deterministic policy runs in the env, with the env's own reward and the
training's env settings, for --steps env steps (rl-zoo3's benchmark.md uses 150,000); the
mean and standard deviation of the env return over the episodes that finished are printed
as JSON. A training's own evaluation uses the preset's few episodes (4 on Ant), too few to
set beside rl-zoo3's figures on an env as uneven as Ant.

No reward program runs here: only the env's reward is summed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

NEEDED = ("job.json", "preset.json", "policy.zip")


def episode_returns(folder: Path, steps: int, seed: int) -> list[float]:
    import gymnasium as gym

    from text2reward.envs.spec import import_env_module
    from text2reward.training.backends import load_policy
    from text2reward.training.normalize import ObsStats, beside
    from text2reward.training.presets import trained_preset

    job = json.loads((folder / "job.json").read_text())
    preset = trained_preset(folder)
    if job.get("env_module"):
        if job.get("env_module_path"):
            sys.path.insert(0, job["env_module_path"])
        import_env_module(job["env_module"])
    env = gym.make(job["env_id"], **(preset.get("env_kwargs") or {}))
    policy = load_policy(folder / "policy.zip", preset, env)
    stats = ObsStats.load(beside(folder / "policy.zip"))
    returns, total = [], 0.0
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action, _ = policy.predict(obs if stats is None else stats.apply(obs), deterministic=True)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        if terminated or truncated:
            returns.append(total)
            total = 0.0
            obs, _ = env.reset()
    env.close()
    return returns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    missing = [name for name in NEEDED if not (args.folder / name).is_file()]
    if missing:
        print(f"error: {args.folder} holds no finished training (no {', '.join(missing)}): "
              "give the --out folder of a finished `text2reward train`", file=sys.stderr)
        return 2
    returns = episode_returns(args.folder, args.steps, args.seed)
    print(json.dumps({"folder": str(args.folder), "steps": args.steps, "seed": args.seed,
                      "episodes": len(returns),
                      "mean_return": float(np.mean(returns)) if returns else None,
                      "std_return": float(np.std(returns)) if returns else None,
                      "min_return": float(np.min(returns)) if returns else None,
                      "max_return": float(np.max(returns)) if returns else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
