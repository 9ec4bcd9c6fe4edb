"""Train a policy with the exported reward, then report the env's own return.

    python train_sb3.py [TIMESTEPS]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gymnasium as gym  # noqa: E402
import stable_baselines3  # noqa: E402
import torch  # noqa: E402
from exported_reward import ENV_ID, ENV_KWARGS, TRAINING, make_vec_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize  # noqa: E402

torch.set_num_threads(1)  # small policies: more threads only slow training down (as text2reward)

venv = make_vec_env(n_envs=TRAINING.get("n_envs", 8), seed=0)  # the envs, reward replaced
normalize = TRAINING.get("normalize")  # VecNormalize, as text2reward trained (rl-zoo3's habit)
if normalize:
    options = {"gamma": TRAINING.get("hyperparams", {}).get("gamma", 0.99),
               **(normalize if isinstance(normalize, dict) else {})}
    venv = VecNormalize(venv, **options)
algo = getattr(stable_baselines3, TRAINING.get("algo", "PPO"))
hyperparams = dict(TRAINING.get("hyperparams", {}))
if "policy_kwargs" in hyperparams:  # torch classes are written by name ("torch.nn.ReLU")
    hyperparams["policy_kwargs"] = {
        k: getattr(torch.nn, v.rsplit(".", 1)[1])
        if isinstance(v, str) and v.startswith("torch.nn.") else v
        for k, v in hyperparams["policy_kwargs"].items()}
model = algo(TRAINING.get("policy", "MlpPolicy"), venv, seed=0, **hyperparams)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else TRAINING.get("timesteps", 50_000)
model.learn(total_timesteps=steps)
evaluation = DummyVecEnv([lambda: gym.make(ENV_ID, **ENV_KWARGS)])  # the env's own reward
if normalize:  # the policy sees observations as it did in training
    evaluation = VecNormalize(evaluation, training=False, norm_reward=False)
    evaluation.obs_rms = venv.obs_rms
mean, std = evaluate_policy(model, evaluation, n_eval_episodes=10)
print(f"mean env return {mean:.1f} +- {std:.1f}")
