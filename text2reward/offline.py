"""The offline designer: evolves a task's parametrised reward family without any network.

For a curated task it renders programs from the task's family (weighted components with
tunable parameters). Round 0 samples around the family's defaults; later rounds start from
the best program's parameters, adjust them by the analyzer's findings (shrink a dominant
component, grow a negligible one, add a survival term when episodes end early under a
negative reward) and mutate the rest, as in reward-parameter evolution. It is not a language
model and never pretends to be one: free-form tasks get a clear error.
"""

from __future__ import annotations

import hashlib
import string
from typing import Any

import numpy as np

from text2reward.designer import Candidate, DesignContext, Exchange, Feedback
from text2reward.envs.spec import Family, Task
from text2reward.errors import UsageError

WEIGHT_PREFIX = "w_"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def render(family: Family, params: dict[str, float]) -> str:
    """Write the reward program of ``family`` for the given weights (``w_<name>``) and params."""
    values = {k: _fmt(v) for k, v in params.items() if not k.startswith(WEIGHT_PREFIX)}
    lines = ["import numpy as np", "", "", "def compute_reward(state, action, next_state):"]
    names = []
    for name, comp in family.components.items():
        weight = params[WEIGHT_PREFIX + name]
        if weight == 0:
            continue
        expr = string.Template(comp["expr"]).substitute(values)
        lines.append(f"    {name} = {_fmt(weight)} * ({expr})")
        names.append(name)
    if not names:
        raise ValueError("a family program needs at least one component with a non-zero weight")
    lines.append(f"    reward = {' + '.join(names)}")
    lines.append("    components = {" + ", ".join(f'"{n}": {n}' for n in names) + "}")
    lines.append("    return reward, components")
    return "\n".join(lines) + "\n"


def bounds(family: Family) -> dict[str, tuple[float, float, float]]:
    """(default, low, high) of every tunable value of the family."""
    out = {WEIGHT_PREFIX + n: tuple(c["weight"]) for n, c in family.components.items()}
    out.update({n: tuple(v) for n, v in family.params.items()})
    return out


def defaults(family: Family) -> dict[str, float]:
    return {k: float(v[0]) for k, v in bounds(family).items()}


def mutate(family: Family, params: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    """Perturb values log-normally; switch optional components (lower bound 0) on or off."""
    out = dict(params)
    for key, (_, low, high) in bounds(family).items():
        value = out[key]
        if key.startswith(WEIGHT_PREFIX) and low == 0.0:
            if value == 0.0 and rng.random() < 0.25:
                out[key] = float(rng.uniform(0.1 * high, 0.5 * high))
                continue
            if value != 0.0 and rng.random() < 0.1:
                out[key] = 0.0
                continue
        if value != 0.0 and rng.random() < 0.6:
            out[key] = float(np.clip(value * np.exp(rng.normal(0.0, 0.5)), max(low, 1e-6), high))
    if all(out[WEIGHT_PREFIX + n] == 0 for n in family.components):
        out = dict(params)
    return out


def adjust(family: Family, params: dict[str, float],
           findings: list[dict[str, Any]]) -> dict[str, float]:
    """Apply the analyzer's findings to the parameters (deterministic)."""
    out = dict(params)
    b = bounds(family)
    for f in findings:
        key = WEIGHT_PREFIX + str(f.get("component", ""))
        if key in out and out[key] != 0.0:
            low, high = b[key][1], b[key][2]
            if f["kind"] == "dominant":
                out[key] = max(out[key] * 0.5, max(low, 1e-3))
            elif f["kind"] in ("negligible", "constant"):
                out[key] = min(out[key] * 2.0, high)
        if f["kind"] == "early_termination":
            alive = WEIGHT_PREFIX + "alive"
            if alive in out:
                out[alive] = min(max(out[alive], 0.5) * 1.5, b[alive][2])
    return out


def did_you_mean(env_id: str, text: str) -> str:
    """"did you mean --task back_flip?" when ``text`` is close to a curated task, else ""."""
    from text2reward.envs.spec import load_spec

    close = load_spec(env_id).close_tasks(text)
    return f"did you mean --task {' or --task '.join(close[:2])}?" if close else ""


class OfflineDesigner:
    """Designer for curated tasks that evolves the task's reward family."""

    name = "offline"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self._proposed: set[tuple] = set()  # parameter sets already proposed in this run

    @staticmethod
    def family_for(task: Task | None, task_text: str, env_id: str) -> Family:
        if task is None or task.family is None:
            hint = did_you_mean(env_id, task_text)
            raise UsageError(
                f"the offline designer knows only the curated tasks of {env_id} "
                f"(`text2reward envs {env_id}`){f': {hint} For' if hint else '; for'} the task "
                f"{task_text!r}{' as written,' if hint else ''} pass --model with a litellm model "
                "(e.g. openai/gpt-4o-mini with OPENAI_API_KEY set, or --api-base URL)"
            )
        return task.family

    def propose(self, ctx: DesignContext, k: int) -> tuple[list[Candidate], list[Exchange]]:
        family = self.family_for(ctx.task, ctx.task_text, ctx.spec.env_id)
        rng = np.random.default_rng([self.seed, ctx.seed, ctx.round])
        parent, origin = self._parent(family, ctx.feedback)
        candidates = []
        for i in range(k):
            params, how = self._novel(family, parent, rng, first=i == 0)
            candidates.append(Candidate(render(family, params), params=params,
                                        origin=origin if how == "parent" else "offline:mutation"))
        return candidates, []

    def remember(self, candidate: Candidate) -> None:
        """Note a candidate proposed by an earlier process (resume), so it is not proposed again."""
        if candidate.params:
            self._proposed.add(tuple(sorted(candidate.params.items())))

    def _novel(self, family: Family, parent: dict[str, float], rng: np.random.Generator,
               first: bool) -> tuple[dict[str, float], str]:
        """The parent itself if new (first slot only), else a mutation not proposed before."""
        params, how = (parent, "parent") if first else (mutate(family, parent, rng), "mutation")
        for _ in range(50):
            params = {key: float(_fmt(v)) for key, v in params.items()}
            if tuple(sorted(params.items())) not in self._proposed:
                break
            params, how = mutate(family, parent, rng), "mutation"
        self._proposed.add(tuple(sorted(params.items())))
        return params, how

    def _parent(self, family: Family, feedback: Feedback | None) -> tuple[dict[str, float], str]:
        if feedback is None or feedback.params is None:
            return defaults(family), "offline:defaults"
        return adjust(family, feedback.params, feedback.findings), "offline:adjusted"

    def repair(self, ctx: DesignContext, candidate: Candidate,
               error: str) -> tuple[Candidate, list[Exchange]]:
        """Family programs are valid by construction, so a rejection comes from the pre-screen
        (its returns rank failed episodes above successful ones): draw another mutation of
        the round's parent, not proposed before, seeded by the rejected parameters."""
        family = self.family_for(ctx.task, ctx.task_text, ctx.spec.env_id)
        parent, _ = self._parent(family, ctx.feedback)
        rejected = sorted((candidate.params or {}).items())
        digest = hashlib.sha256(repr(rejected).encode()).digest()
        rng = np.random.default_rng([self.seed, ctx.seed, ctx.round, *digest[:8]])
        params, _ = self._novel(family, parent, rng, first=False)
        return Candidate(render(family, params), origin="offline:repair", params=params), []
