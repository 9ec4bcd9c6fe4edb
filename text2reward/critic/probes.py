"""Probe states where NaN and inf hide: at and just beyond the env's termination limits and
at the observation bounds.

Random rollouts rarely reach them, yet training does: the terminal step's next state lies just
beyond a limit (CartPole's cart at 2.41 m, Hopper's torso below 0.7 m), so
``np.log(1 - np.abs(x) / 2.4)`` or ``np.sqrt(torso_height - 0.7)`` return NaN there and the
training fails. Limits are read from the spec's termination text (``|pole_angle| > 0.2095``,
``torso_height < 0.7``, ``torso_height leaves [0.2, 1.0]``); bounds from the observation space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from text2reward.envs.layout import StateLayout
from text2reward.envs.spec import EnvSpec

_NUMBER = r"-?\d+(?:\.\d+)?"
_LIMIT = (r"(?P<abs>\|)?(?<![\w.]){name}(?![\w.])\|?\s*(?:<=|>=|<|>|==|leaves|outside|"
          r"exceeds|beyond|below|above)\s*(?P<value>\[[^\]]*\]|" + _NUMBER + ")")
MAX_BOUND = 1e6  # observation bounds larger than this are "unbounded"


@dataclass
class Probe:
    """One feature set to several values (one row each), and why each value was chosen."""

    feature: str
    column: int
    values: list[float]
    why: list[str]


def termination_limits(spec: EnvSpec) -> dict[str, tuple[list[float], bool]]:
    """Feature name -> (the numbers its termination compares it with, whether as |x|)."""
    text = spec.termination or ""
    limits: dict[str, tuple[list[float], bool]] = {}
    for name in spec.feature_names:
        for match in re.finditer(_LIMIT.format(name=re.escape(name)), text):
            values = [float(v) for v in re.findall(_NUMBER, match.group("value"))]
            old, was_abs = limits.get(name, ([], False))
            limits[name] = (old + values, was_abs or bool(match.group("abs")))
    return limits


def probes(spec: EnvSpec, layout: StateLayout, low: np.ndarray | None,
           high: np.ndarray | None) -> list[Probe]:
    """A probe per scalar feature that has termination limits or finite observation bounds."""
    limits = termination_limits(spec)
    found = []
    for feature in spec.features:
        column = layout.column(feature)
        if not isinstance(column, int):
            continue
        values: dict[float, str] = {}
        numbers, absolute = limits.get(feature.name, ([], False))
        for limit in numbers:
            step = 0.01 * max(abs(limit), 0.1)
            for sign in ((1, -1) if absolute else (1,)):
                values.setdefault(sign * limit, f"the termination limit {sign * limit:g}")
                for beyond in (sign * limit + step, sign * limit - step):
                    values.setdefault(round(beyond, 6), f"next to the termination limit "
                                      f"{sign * limit:g}, where a terminal step's next state "
                                      "lies")
        in_obs = feature.sim is None and low is not None and high is not None \
            and column < len(low)
        if in_obs:
            for bound in (low[column], high[column]):
                if np.isfinite(bound) and abs(bound) <= MAX_BOUND:
                    values.setdefault(float(bound), f"the observation bound {bound:g}")
        if values:
            found.append(Probe(feature.name, column, list(values), list(values.values())))
    return found


def probe_rows(probe: Probe, rows: np.ndarray) -> np.ndarray:
    """Copies of the first row, one per probe value, with the feature set to it."""
    out = np.repeat(rows[:1], len(probe.values), axis=0).astype(np.float64)
    out[:, probe.column] = probe.values
    return out
