"""Features read from the simulator rather than the observation.

A spec feature may name a *probe* instead of observation columns: ``"pos:torso"``,
``"qpos:rooty"``, ``"rpy:torso:pitch"``, ``"contact:foot"``, ``"attr:agent_pos"``. The
:class:`SimFeatures` wrapper runs inside the env process and, at every reset and step, copies
the raw simulator arrays those probes need (``qpos``, ``xquat``, ``cfrc_ext``, ...) into one
flat float64 vector in ``info["t2r_sim"]``; the policy still sees the env's own observation.
Probes turn batches of those vectors into features with vectorised numpy, only when a reward
program or a success function reads them.

Frames and signs (MuJoCo): the world frame is z up; gymnasium's locomotion robots face +x.
Body orientations are rotation matrices from the body frame to the world frame. Positions,
orientations and velocities of bodies come from MuJoCo's last forward pass of the step, as the
env itself reads them (at most one physics substep behind ``qpos``); joint values are current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import gymnasium as gym
import numpy as np

from text2reward.errors import UsageError

INFO_KEY = "t2r_sim"

# quantity -> what it reads, with frame and unit
QUANTITIES: dict[str, str] = {
    "qpos": "a joint's position coordinates (hinge: angle in rad, slide: m, free: x y z then "
            "quaternion qw qx qy qz)",
    "qvel": "a joint's velocity coordinates (hinge: rad/s, slide: m/s, free: world linear "
            "velocity then BODY-frame angular velocity)",
    "pos": "a body's origin in the world frame [m] (x, y, z)",
    "vel": "a body origin's linear velocity in the world frame [m/s] (vx, vy, vz)",
    "angvel": "a body's angular velocity in the world frame [rad/s] (wx, wy, wz)",
    "angvel_local": "a body's angular velocity in its own (body) frame [rad/s]",
    "rpy": "a body's roll, pitch, yaw [rad] (Z-Y-X Euler angles of its body-to-world rotation)",
    "point": "the world position of a point fixed in a body, point:BODY:x,y,z (body frame) [m]",
    "xaxis": "the world direction of a body's x axis (unit vector)",
    "yaxis": "the world direction of a body's y axis (unit vector)",
    "zaxis": "the world direction of a body's z axis (unit vector)",
    "contact": "magnitude of the external (contact) force on a body [N]",
    "site": "a site's position in the world frame [m]",
    "sensor": "a sensor's reading",
    "attr": "a numeric attribute of the unwrapped env",
}
COMPONENTS = {"x": 0, "y": 1, "z": 2, "roll": 0, "pitch": 1, "yaw": 2}
_MUJOCO_SOURCES = ("qpos", "qvel", "xpos", "xquat", "cvel", "subtree_com", "cfrc_ext",
                   "site_xpos", "sensordata")
_NEEDS = {"qpos": ("qpos",), "qvel": ("qvel",), "pos": ("xpos",),
          "vel": ("xpos", "cvel", "subtree_com"), "angvel": ("cvel",),
          "angvel_local": ("cvel", "xquat"), "rpy": ("xquat",), "xaxis": ("xquat",),
          "yaxis": ("xquat",), "zaxis": ("xquat",), "point": ("xpos", "xquat"),
          "contact": ("cfrc_ext",), "site": ("site_xpos",), "sensor": ("sensordata",)}
_SLICED = {"qpos": "qpos", "qvel": "qvel", "sensor": "sensordata"}  # probes that slice a source
# Sources with one row per body (or site): only the rows the probes read are gathered.
_PER_OBJECT = {"xpos": 3, "xquat": 4, "cvel": 6, "subtree_com": 3, "cfrc_ext": 6, "site_xpos": 3}


@dataclass(frozen=True)
class Probe:
    """A parsed probe string ``quantity:name[:component]``."""

    quantity: str
    name: str
    component: int | None = None
    point: tuple[float, float, float] | None = None  # body-frame point of a `point` probe

    @classmethod
    def parse(cls, text: str) -> Probe:
        parts = text.split(":")
        if len(parts) not in (2, 3) or parts[0] not in QUANTITIES:
            raise UsageError(f"bad simulator probe {text!r}: write quantity:name[:component] "
                             f"with a quantity among {', '.join(QUANTITIES)}")
        if parts[0] == "point":
            xyz = tuple(float(v) for v in parts[2].split(",")) if len(parts) == 3 else ()
            if len(xyz) != 3:
                raise UsageError(f"bad point probe {text!r}: write point:BODY:x,y,z")
            return cls("point", parts[1], None, xyz)
        component = None
        if len(parts) == 3:
            comp = parts[2]
            component = COMPONENTS[comp] if comp in COMPONENTS else int(comp)
        return cls(parts[0], parts[1], component)

    def sources(self) -> tuple[str, ...]:
        return (f"attr:{self.name}",) if self.quantity == "attr" else _NEEDS[self.quantity]


@cache
def parse_probe(text: str) -> Probe:
    """The probe a feature's ``sim`` text names (parsed once per text)."""
    return Probe.parse(text)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Body-to-world rotation matrices (..., 3, 3) of unit quaternions (..., 4) in w, x, y, z."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_rpy(r: np.ndarray) -> np.ndarray:
    """Z-Y-X Euler angles (roll, pitch, yaw) of rotation matrices (..., 3, 3).

    With z up and the body facing +x: roll > 0 when the body's left (+y) side rises, pitch > 0
    when its front (+x end) tips DOWN (right-hand rule about +y), yaw > 0 when it turns left.
    Pitch is in [-pi/2, pi/2]; roll and yaw in (-pi, pi].
    """
    pitch = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    roll = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    yaw = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.stack([roll, pitch, yaw], -1)


class Gatherer:
    """Which raw simulator arrays to copy each step, and where they sit in the flat vector.

    Built from the live env; ``sizes`` of ``attr:`` sources are known after the first read.
    """

    def __init__(self, env: gym.Env, probes: list[Probe]):
        self.env = env.unwrapped
        self.model = getattr(self.env, "model", None)
        needed = {s for p in probes for s in p.sources()}
        if any(not s.startswith("attr:") for s in needed) and not self._is_mujoco():
            raise UsageError(f"{self.env.spec.id if self.env.spec else self.env} is not a MuJoCo "
                             "env: only attr:NAME probes read its state")
        self.sources = [s for s in _MUJOCO_SOURCES if s in needed] + sorted(
            s for s in needed if s.startswith("attr:"))
        self.resolved = {p: self._resolve(p) for p in probes} if self._is_mujoco() else {}
        self._data_sources = [s for s in self.sources if not s.startswith("attr:")]
        # The rows of per-body (per-site) sources the probes read, in gathering order.
        self.rows: dict[str, list[int]] = {
            s: sorted({i for p, r in self.resolved.items() for i in _rows_read(p, r, s)})
            for s in self._data_sources if s in _PER_OBJECT}
        self._data: Any = None  # the MjData self._views look into
        self._views: list[np.ndarray] | None = None
        self._attrs = [s[5:] for s in self.sources if s.startswith("attr:")]

    def _is_mujoco(self) -> bool:
        return self.model is not None and hasattr(self.env, "data") and hasattr(self.model, "nq")

    def gather(self, out: np.ndarray | None = None) -> np.ndarray:
        """One flat float64 vector of every needed source: a copy, or written into ``out``.

        Runs every env step. MuJoCo's arrays live as long as the env's ``MjData``, so flat
        views of them are made once and concatenated in a single call."""
        if not self.sources:
            return np.zeros(0) if out is None else out
        views = self.views()
        if views is not None:
            return np.concatenate(views, out=out)
        data = getattr(self.env, "data", None)
        parts = [np.ravel(self._read(data, s)) for s in self._data_sources]
        parts += [np.asarray(getattr(self.env, a), dtype=np.float64).ravel() for a in self._attrs]
        vector = np.concatenate(parts).astype(np.float64, copy=False)
        if out is None:
            return vector
        out[:] = vector
        return out

    def views(self) -> list[np.ndarray] | None:
        """Flat float64 views of the MjData arrays ``gather`` reads, bound to the env's
        current MjData (concatenating them is a gather); None for ``attr:`` sources or arrays
        that cannot be viewed without a copy."""
        if self._attrs or not self.sources or not self._bound():
            return None
        return self._views

    def _bound(self) -> bool:
        """Flat views into the current MjData (rebuilt if the env made a new one); False when
        its arrays cannot be viewed as float64 without a copy."""
        data = self.env.data
        if data is not self._data:
            views, shared = [], True
            for s in self._data_sources:
                source = getattr(data, s)
                array = np.asarray(source, dtype=np.float64)
                rows = self.rows.get(s)
                parts = [part.reshape(-1)
                         for part in ([array] if rows is None else [array[i] for i in rows])]
                shared = shared and all(np.shares_memory(part, source) for part in parts)
                views += parts
            self._data, self._views = data, views if shared else None
        return self._views is not None

    def _read(self, data: Any, source: str) -> np.ndarray:
        """The part of MjData array ``source`` that is gathered: the probed rows of a
        per-body source, else all of it."""
        array = getattr(data, source)
        return array[self.rows[source]] if source in self.rows else array

    def layout(self) -> SimLayout:
        """Offsets of every source in the flat vector (call after a reset: attr sizes)."""
        sizes = {}
        data = getattr(self.env, "data", None)
        for s in self.sources:
            if s.startswith("attr:"):
                value = getattr(self.env, s[5:])
                sizes[s] = int(np.asarray(value, dtype=np.float64).size)
            else:
                sizes[s] = int(np.asarray(self._read(data, s)).size)
        offsets, at = {}, 0
        for s in self.sources:
            offsets[s] = (at, at + sizes[s])
            at += sizes[s]
        positions = {s: {i: k for k, i in enumerate(rows)} for s, rows in self.rows.items()}
        return SimLayout(offsets, at, self.resolved, positions)

    def _resolve(self, probe: Probe) -> dict[str, Any]:
        import mujoco

        kinds = {"qpos": mujoco.mjtObj.mjOBJ_JOINT, "qvel": mujoco.mjtObj.mjOBJ_JOINT,
                 "site": mujoco.mjtObj.mjOBJ_SITE, "sensor": mujoco.mjtObj.mjOBJ_SENSOR}
        kind = kinds.get(probe.quantity, mujoco.mjtObj.mjOBJ_BODY)
        index = _object_id(self.model, kind, probe.name)
        m = self.model
        if probe.quantity in ("qpos", "qvel"):
            widths = {0: (7, 6), 1: (4, 3), 2: (1, 1), 3: (1, 1)}[int(m.jnt_type[index])]
            if probe.quantity == "qpos":
                start, width = int(m.jnt_qposadr[index]), widths[0]
            else:
                start, width = int(m.jnt_dofadr[index]), widths[1]
            return {"start": start, "width": width}
        if probe.quantity == "sensor":
            return {"start": int(m.sensor_adr[index]), "width": int(m.sensor_dim[index])}
        if probe.quantity == "site":
            return {"index": index}
        return {"index": index, "root": int(m.body_rootid[index])}


def _rows_read(probe: Probe, resolved: dict[str, Any], source: str) -> tuple[int, ...]:
    """The rows of per-body (per-site) source ``source`` that ``probe`` reads."""
    if source not in _NEEDS.get(probe.quantity, ()):
        return ()
    if probe.quantity == "vel" and source == "subtree_com":
        return (resolved["root"],)
    return (resolved["index"],)


def _object_id(model: Any, kind: Any, name: str) -> int:
    """Index of a named MuJoCo object; ``body3`` style names reach unnamed bodies."""
    import mujoco

    index = mujoco.mj_name2id(model, kind, name)
    if index < 0 and kind == mujoco.mjtObj.mjOBJ_BODY and name.startswith("body") \
            and name[4:].isdigit() and int(name[4:]) < model.nbody:
        index = int(name[4:])
    if index < 0:
        what = str(kind).split("_")[-1].lower()
        raise UsageError(f"the model has no {what} named {name!r}; `text2reward envs ENV_ID` "
                         "lists its named bodies and joints")
    return index


@dataclass(frozen=True)
class SimLayout:
    """Where each raw source sits in a gathered vector, and how each probe reads them."""

    offsets: dict[str, tuple[int, int]]
    size: int
    resolved: dict[Probe, dict[str, Any]]
    positions: dict[str, dict[int, int]]  # per-body sources: body (site) index -> gathered row

    def source(self, raw: np.ndarray, name: str, width: int | None = None) -> np.ndarray:
        start, stop = self.offsets[name]
        block = raw[:, start:stop]
        return block if width is None else block.reshape(len(raw), -1, width)

    def row(self, raw: np.ndarray, name: str, index: int) -> np.ndarray:
        """Body (site) ``index``'s row of per-body source ``name``, for every vector."""
        return self.source(raw, name, _PER_OBJECT[name])[:, self.positions[name][index]]

    def column(self, probe: Probe, offset: int) -> int | slice | None:
        """The row column(s) that ``evaluate`` would return for ``probe`` when it is a plain
        slice of one source (qpos, qvel, sensor, attr), with the vector at ``offset`` in a
        row; None for computed quantities."""
        if probe.quantity == "attr":
            start, stop = self.offsets[f"attr:{probe.name}"]
        elif probe.quantity in _SLICED:
            r = self.resolved[probe]
            start = self.offsets[_SLICED[probe.quantity]][0] + r["start"]
            stop = start + r["width"]
        else:
            return None
        start, stop = start + offset, stop + offset
        if probe.component is not None:
            return start + probe.component if 0 <= probe.component < stop - start else None
        return start if stop - start == 1 else slice(start, stop)

    def evaluate(self, probe: Probe, raw: np.ndarray) -> np.ndarray:
        """The probe's value for a batch of gathered vectors ``raw`` (n, size)."""
        value = self._evaluate(probe, raw)
        if probe.component is not None:
            value = value[:, probe.component]
        elif value.ndim == 2 and value.shape[1] == 1:
            value = value[:, 0]
        return value

    def _evaluate(self, probe: Probe, raw: np.ndarray) -> np.ndarray:
        q = probe.quantity
        if q == "attr":
            return self.source(raw, f"attr:{probe.name}")
        r = self.resolved[probe]
        if q in _SLICED:
            return self.source(raw, _SLICED[q])[:, r["start"] : r["start"] + r["width"]]
        if q == "site":
            return self.row(raw, "site_xpos", r["index"])
        b = r["index"]
        if q == "point":
            offset = _rotation(self, raw, b) @ np.asarray(probe.point)
            return self.row(raw, "xpos", b) + offset
        return _BODY_QUANTITIES[q](self, raw, b, r["root"])


def _rotation(layout: SimLayout, raw: np.ndarray, b: int) -> np.ndarray:
    return quat_to_matrix(layout.row(raw, "xquat", b))


def _linear_velocity(layout: SimLayout, raw: np.ndarray, b: int, root: int) -> np.ndarray:
    """cvel is the spatial velocity at the subtree centre of mass of the body's tree root."""
    cvel = layout.row(raw, "cvel", b)
    offset = layout.row(raw, "xpos", b) - layout.row(raw, "subtree_com", root)
    return cvel[:, 3:] + np.cross(cvel[:, :3], offset)


def _local_angular_velocity(layout: SimLayout, raw: np.ndarray, b: int, root: int) -> np.ndarray:
    omega = layout.row(raw, "cvel", b)[:, :3]
    return np.einsum("nji,nj->ni", _rotation(layout, raw, b), omega)


_BODY_QUANTITIES: dict[str, Callable[[SimLayout, np.ndarray, int, int], np.ndarray]] = {
    "pos": lambda lay, raw, b, root: lay.row(raw, "xpos", b),
    "vel": _linear_velocity,
    "angvel": lambda lay, raw, b, root: lay.row(raw, "cvel", b)[:, :3],
    "angvel_local": _local_angular_velocity,
    "rpy": lambda lay, raw, b, root: matrix_to_rpy(_rotation(lay, raw, b)),
    "xaxis": lambda lay, raw, b, root: _rotation(lay, raw, b)[:, :, 0],
    "yaxis": lambda lay, raw, b, root: _rotation(lay, raw, b)[:, :, 1],
    "zaxis": lambda lay, raw, b, root: _rotation(lay, raw, b)[:, :, 2],
    "contact": lambda lay, raw, b, root: np.linalg.norm(
        lay.row(raw, "cfrc_ext", b)[:, 3:], axis=1),
}


class SimFeatures(gym.Wrapper):
    """Puts the raw simulator vector the spec's probes need into ``info["t2r_sim"]``.

    Reset infos carry the initial state; a terminal step's info carries the terminal state
    (as ``terminal_observation`` does for observations). Used where the reward wrapper cannot
    reach the env itself (SubprocVecEnv env processes, the runtime critic's envs).
    """

    def __init__(self, env: gym.Env, probes: list[Probe]):
        super().__init__(env)
        self.t2r_gatherer = Gatherer(env, probes)
        self.t2r_layout: SimLayout | None = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        info[INFO_KEY] = self.t2r_gatherer.gather()
        if self.t2r_layout is None:
            self.t2r_layout = self.t2r_gatherer.layout()
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info[INFO_KEY] = self.t2r_gatherer.gather()
        return obs, reward, terminated, truncated, info
