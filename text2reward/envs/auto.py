"""Automatic abstraction of any Gymnasium env that has no curated spec.

From the observation and action spaces it names every observation entry (or dict key); for a
MuJoCo env it also reads the model: named bodies (world position and linear velocity, contact
force), joints (position and velocity with type, axis and units), actuators (in the order of
``action``) and each root body's orientation and angular velocity, with frames and signs. The
direction each hinge turns is measured on the simulator (perturb ``qpos``, read the motion),
not guessed from the XML.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import gymnasium as gym
import numpy as np

from text2reward.envs.model import EnvSpec, Feature
from text2reward.envs.sim import matrix_to_rpy

MAX_LISTED_OBS = 32  # flat observations up to this size get one feature per entry
MAX_DOC_CHARS = 2000  # of a user env's docstring shown to the designer
DEFAULT_TRAINING = {
    "algo": "PPO", "timesteps": 100_000, "n_envs": 8, "eval_episodes": 8,
    "hyperparams": {"n_steps": 256, "batch_size": 512, "n_epochs": 4, "learning_rate": 3e-4,
                    "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.0},
}
JOINT_TYPES = {0: "free", 1: "ball", 2: "slide", 3: "hinge"}
FRAMES = [
    "World frame: z points up; gymnasium's robots face +x at reset (forward is +x).",
    "<body>_roll/_pitch/_yaw are Z-Y-X Euler angles of the body-to-world rotation [rad]: "
    "roll > 0 when the body's left (+y) side rises; pitch > 0 when its front (+x end) tips "
    "DOWN, i.e. its top leans toward +x; yaw > 0 when it turns left (counter-clockwise seen "
    "from above). pitch is limited to [-pi/2, pi/2]: to count full rotations, accumulate the "
    "angular velocity or use a planar robot's root hinge angle (which is not wrapped).",
    "<body>_angvel_world is the angular velocity in the WORLD frame; <body>_angvel_body the same "
    "vector in the BODY's own frame (what a free joint's qvel[3:6] and an IMU report).",
    "<body>_vel is the world-frame linear velocity of the body's origin; <body>_pos its world "
    "position. Body values come from the simulator's last forward pass of the step (at most one "
    "physics substep behind the joint values).",
    "<body>_contact_force is the magnitude of the external (contact) force on the body [N]; "
    "0 when it touches nothing.",
]


def identifier(name: str) -> str:
    """A Python identifier from a model or key name."""
    out = re.sub(r"\W", "_", name).strip("_") or "x"
    return f"_{out}" if out[0].isdigit() else out


@cache
def auto_spec(env_id: str) -> EnvSpec:
    """The automatic spec of ``env_id`` (made once, with default arguments)."""
    env = gym.make(env_id)
    try:
        env.reset(seed=0)
        features, conventions = _space_features(env.observation_space)
        action = describe_space(env.action_space, "action")
        summary = (f"{env_id}: an automatic abstraction (no curated spec). Observation: "
                   f"{_space_text(env.observation_space)}.")
        model = getattr(env.unwrapped, "model", None)
        if model is not None and hasattr(model, "nbody"):
            sim_features, sim_conventions = mujoco_features(env.unwrapped)
            features += sim_features
            conventions += FRAMES + sim_conventions
            action = mujoco_action(env.unwrapped, env.action_space)
            summary += f" A MuJoCo model with {model.nbody - 1} bodies, {model.njnt} joints and " \
                       f"{model.nu} actuators; one env step is {env.unwrapped.dt:g} s."
        limit = env.spec.max_episode_steps if env.spec else None
        if limit:
            summary += f" Episodes are at most {limit} steps."
        doc = env_docstring(env.unwrapped)
        if doc:
            summary += f"\n\nThe env's own documentation (its class docstring):\n{doc}"
    finally:
        env.close()
    training = {**DEFAULT_TRAINING, "hyperparams": dict(DEFAULT_TRAINING["hyperparams"])}
    if isinstance(env.observation_space, gym.spaces.Dict):
        training["policy"] = "MultiInputPolicy"
    return EnvSpec(
        env_id=env_id, summary=summary, action=action, features=tuple(_unique(features)),
        conventions=tuple(conventions),
        termination=f"the env's own termination rules apply (not documented here)"
                    f"{f'; episodes are truncated after {limit} steps' if limit else ''}.",
        training=training, make_kwargs={}, tasks={}, curated=False)


def env_docstring(env: Any, limit: int = MAX_DOC_CHARS) -> str:
    """A user env's class docstring (it often names each entry and its unit), cleaned; empty
    for Gymnasium's own envs (their long docstrings repeat what the spaces and model tell)
    and for classes that only inherit one."""
    import inspect

    cls = type(env)
    doc = cls.__dict__.get("__doc__")
    if not doc or cls.__module__.split(".")[0] in ("gymnasium", "gym"):
        return ""
    text = inspect.cleandoc(doc)
    return text if len(text) <= limit else text[:limit].rstrip() + " [...]"


def _unique(features: list[Feature]) -> list[Feature]:
    seen: dict[str, int] = {}
    out = []
    for f in features:
        n = seen.get(f.name, 0)
        seen[f.name] = n + 1
        out.append(f if n == 0 else Feature(f"{f.name}_{n + 1}", f.description, f.unit, f.index,
                                             f.expr, f.key, f.sim))
    return out


# -- spaces -------------------------------------------------------------------------------------
def _space_text(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Dict):
        return "a dict of " + ", ".join(f"{k}: {_space_text(s)}" for k, s in space.spaces.items())
    if isinstance(space, gym.spaces.Box):
        return f"Box of shape {space.shape} ({space.dtype})"
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    return type(space).__name__


def _bounds(low: float, high: float) -> str:
    fmt = lambda v: "-inf" if v == -np.inf else "inf" if v == np.inf else f"{v:g}"  # noqa: E731
    return f"[{fmt(low)}, {fmt(high)}]"


def describe_space(space: gym.Space, what: str) -> str:
    """Plain words for an action or observation space."""
    if isinstance(space, gym.spaces.Discrete):
        return (f"Discrete: an int in [{space.start}, {space.start + space.n - 1}]; `{what}` is an "
                "int array of shape (n_envs,).")
    if isinstance(space, gym.spaces.Box):
        lo, hi = np.min(space.low), np.max(space.high)
        return (f"Box of shape {space.shape}, bounds {_bounds(lo, hi)}; `{what}` is an array of "
                f"shape (n_envs, {', '.join(map(str, space.shape))}).")
    return f"{_space_text(space)}."


def _space_features(space: gym.Space) -> tuple[list[Feature], list[str]]:
    if isinstance(space, gym.spaces.Dict):
        feats = []
        for key, sub in space.spaces.items():
            if isinstance(sub, (gym.spaces.Box, gym.spaces.Discrete)):
                size = int(np.prod(sub.shape)) if sub.shape else 1
                bounds = (f", bounds {_bounds(np.min(sub.low), np.max(sub.high))}"
                          if isinstance(sub, gym.spaces.Box) else "")
                feats.append(Feature(identifier(key), f"observation entry {key!r}: "
                                     f"{_space_text(sub)}{bounds}, as (n_envs, {size})", "",
                                     (0, size), key=key))
        return feats, [f"state.obs is a dict observation: state.obs[{next(iter(space.spaces))!r}] "
                       "and every other key is an array (n_envs, ...)."]
    flat_box = isinstance(space, gym.spaces.Box) and len(space.shape) == 1
    if flat_box and space.shape[0] <= MAX_LISTED_OBS:
        return [Feature(f"obs_{i}", f"observation entry {i}, bounds "
                        f"{_bounds(space.low[i], space.high[i])}", "", i)
                for i in range(space.shape[0])], []
    if isinstance(space, gym.spaces.Discrete):
        return [Feature("obs_value", f"the observation, an int in [{space.start}, "
                        f"{space.start + space.n - 1}]", "", 0)], []
    return [], [f"state.obs has shape (n_envs, {', '.join(map(str, space.shape or ()))})."]


# -- MuJoCo -------------------------------------------------------------------------------------
def _name(model: Any, kind: Any, i: int, fallback: str) -> str:
    import mujoco

    return mujoco.mj_id2name(model, kind, i) or fallback


def mujoco_action(env: Any, space: gym.Space) -> str:
    """Which joint each action entry drives, in the order of ``action``."""
    import mujoco

    m = env.model
    lines = [describe_space(space, "action"), "Entries in order (action[:, i]):"]
    for i in range(m.nu):
        name = _name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, i, f"actuator {i}")
        target, sign = "", ""
        if m.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_JOINT:
            j = m.actuator_trnid[i, 0]
            owner = _name(m, mujoco.mjtObj.mjOBJ_BODY, m.jnt_bodyid[j], f"body{m.jnt_bodyid[j]}")
            target = f" drives joint {_name(m, mujoco.mjtObj.mjOBJ_JOINT, j, '?')} (body {owner})"
            sign = "; positive pushes the joint toward larger angles" if m.actuator_gear[i, 0] > 0 \
                else "; positive pushes the joint toward smaller angles"
        lo, hi = m.actuator_ctrlrange[i]
        lines.append(f"  {i}: {name}{target}, gear {m.actuator_gear[i, 0]:g}, range "
                     f"[{lo:g}, {hi:g}]{sign}")
    return "\n".join(lines)


def mujoco_features(env: Any) -> tuple[list[Feature], list[str]]:
    """Body, root-orientation and joint features of a MuJoCo env, and measured conventions."""
    import mujoco

    m, d = env.model, env.data
    mujoco.mj_forward(m, d)
    feats: list[Feature] = []
    body = lambda i: identifier(_name(m, mujoco.mjtObj.mjOBJ_BODY, i, f"body{i}"))  # noqa: E731
    for b in range(1, m.nbody):
        name = body(b)
        parent = "the world" if m.body_parentid[b] == 0 else body(m.body_parentid[b])
        feats += [
            Feature(f"{name}_pos", f"world position of body {name} (child of {parent}); "
                    "(n_envs, 3): x, y, z", "m", sim=f"pos:{name}"),
            Feature(f"{name}_vel", f"world-frame linear velocity of body {name}; (n_envs, 3)",
                    "m/s", sim=f"vel:{name}"),
            Feature(f"{name}_contact_force", f"magnitude of the contact force on {name}",
                    "N", sim=f"contact:{name}"),
        ]
    for b in range(1, m.nbody):
        if m.body_parentid[b] == 0 and m.body_dofnum[b] > 0:  # a moving root body
            feats += _root_features(body(b))
    conventions = []
    for j in range(m.njnt):
        jf, note = _joint_features(env, j)
        feats += jf
        if note:
            conventions.append(note)
    for s in range(m.nsite):
        name = identifier(_name(m, mujoco.mjtObj.mjOBJ_SITE, s, f"site{s}"))
        feats.append(Feature(f"{name}_site_pos", f"world position of site {name}; (n_envs, 3)",
                             "m", sim=f"site:{name}"))
    return feats, conventions


def _root_features(name: str) -> list[Feature]:
    return [
        Feature(f"{name}_roll", f"roll of {name} (see conventions)", "rad", sim=f"rpy:{name}:roll"),
        Feature(f"{name}_pitch", f"pitch of {name}: > 0 when its front (+x end) tips down, "
                "its top toward +x", "rad", sim=f"rpy:{name}:pitch"),
        Feature(f"{name}_yaw", f"yaw (heading) of {name}: > 0 turned left of +x", "rad",
                sim=f"rpy:{name}:yaw"),
        Feature(f"{name}_up", f"world direction of {name}'s z axis; (n_envs, 3); [:, 2] is 1 "
                "upright, 0 on its side, -1 upside down", "", sim=f"zaxis:{name}"),
        Feature(f"{name}_angvel_world", f"angular velocity of {name} in the WORLD frame; "
                "(n_envs, 3)", "rad/s", sim=f"angvel:{name}"),
        Feature(f"{name}_angvel_body", f"angular velocity of {name} in its own BODY frame; "
                "(n_envs, 3)", "rad/s", sim=f"angvel_local:{name}"),
    ]


def _joint_features(env: Any, j: int) -> tuple[list[Feature], str | None]:
    import mujoco

    m = env.model
    raw = _name(m, mujoco.mjtObj.mjOBJ_JOINT, j, f"joint{j}")
    name, kind = identifier(raw), JOINT_TYPES[int(m.jnt_type[j])]
    b = m.jnt_bodyid[j]
    owner = identifier(_name(m, mujoco.mjtObj.mjOBJ_BODY, b, f"body{b}"))
    if kind == "free":
        return [
            Feature(f"{name}_qpos", f"free joint of {owner}: x, y, z [m] then orientation "
                    "quaternion qw, qx, qy, qz; (n_envs, 7)", "", sim=f"qpos:{raw}"),
            Feature(f"{name}_qvel", f"free joint of {owner}: WORLD-frame linear velocity "
                    "[m/s] (3), then BODY-frame angular velocity [rad/s] (3); (n_envs, 6)", "",
                    sim=f"qvel:{raw}"),
        ], None
    if kind == "ball":
        return [Feature(f"{name}_qpos", f"ball joint of {owner}: quaternion; (n_envs, 4)", "",
                        sim=f"qpos:{raw}")], None
    unit, vunit = ("rad", "rad/s") if kind == "hinge" else ("m", "m/s")
    limit = ""
    if m.jnt_limited[j]:
        lo, hi = m.jnt_range[j]
        limit = f", limited to [{lo:g}, {hi:g}]"
    effect = _measured_effect(env, j)
    desc = f"{kind} joint of {owner}{limit}; {effect}"
    return [
        Feature(f"{name}_qpos", f"{'angle' if kind == 'hinge' else 'position'} of {desc}",
                unit, sim=f"qpos:{raw}"),
        Feature(f"{name}_qvel", f"rate of change of {name}_qpos", vunit, sim=f"qvel:{raw}"),
    ], None


def _measured_effect(env: Any, j: int) -> str:
    """What increasing a hinge or slide joint does, measured on the simulator at the reset pose."""
    import mujoco

    m, d = env.model, env.data
    b = int(m.jnt_bodyid[j])
    before_q = d.qpos.copy()
    mujoco.mj_kinematics(m, d)
    axis = d.xaxis[j].copy()
    before_rot = d.xmat[b].reshape(3, 3).copy()
    before_pos = d.xpos[b].copy()
    d.qpos[m.jnt_qposadr[j]] += 0.1
    mujoco.mj_kinematics(m, d)
    moved_rot = d.xmat[b].reshape(3, 3).copy()
    moved_pos = d.xpos[b].copy()
    d.qpos[:] = before_q
    mujoco.mj_forward(m, d)
    words = "(" + ", ".join(f"{v:g}" for v in np.round(axis, 2) + 0.0) + ")"
    if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_SLIDE:
        delta = moved_pos - before_pos
        return f"increasing it moves the body along world {_direction(delta)}"
    turn = matrix_to_rpy(moved_rot) - matrix_to_rpy(before_rot)
    what = ["roll", "pitch", "yaw"][int(np.argmax(np.abs(turn)))]
    sign = "raises" if turn[int(np.argmax(np.abs(turn)))] > 0 else "lowers"
    return (f"increasing it turns {identifier(_name(m, mujoco.mjtObj.mjOBJ_BODY, b, 'body'))} "
            f"about world axis {words} (right-hand rule) at the reset pose, which {sign} its "
            f"{what}")


def _direction(v: np.ndarray) -> str:
    i = int(np.argmax(np.abs(v)))
    return f"{'+' if v[i] > 0 else '-'}{'xyz'[i]}"
