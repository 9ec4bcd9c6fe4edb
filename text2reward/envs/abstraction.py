"""The compact, named description of an env that the designer (LLM) sees.

It never includes a task's success function or expert reward.
"""

from __future__ import annotations

from text2reward.envs.spec import EnvSpec


def describe(spec: EnvSpec) -> str:
    """Render the env abstraction as plain text for prompts and `text2reward envs ID`."""
    lines = [f"Environment: {spec.env_id}", spec.summary, "", f"Action: {spec.action}", ""]
    lines.append("State features (attributes of `state` and `next_state`, each an array whose "
                 "first axis is the batch of envs):")
    for f in spec.features:
        unit = f" [{f.unit}]" if f.unit else ""
        lines.append(f"- {f.name}{unit}: {' '.join(f.description.split())}")  # YAML's folds
    lines.append("- obs: the raw observation batch")
    if spec.conventions:
        lines += ["", "Conventions:"] + [f"- {c}" for c in spec.conventions]
    if spec.settings:
        shown = ", ".join(f"{k}={v!r}" for k, v in spec.settings.items())
        lines += ["", f"Env settings for this run (keyword arguments of gym.make): {shown}"]
    if spec.termination:
        lines += ["", f"Episode end: {spec.termination}"]
    return "\n".join(lines)
