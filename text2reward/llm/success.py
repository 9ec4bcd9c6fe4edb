"""The request for a proposed success file (``--propose-success``) and its extraction."""

from __future__ import annotations

import ast
import re

from text2reward.critic.surface import LINALG_FUNCTIONS, NUMPY_CONSTANTS, NUMPY_FUNCTIONS
from text2reward.envs.abstraction import describe
from text2reward.envs.spec import EnvSpec
from text2reward.llm.fences import dedent, split_blocks, strip_reasoning
from text2reward.llm.prompts import Messages, numbered, render

NO_SCORE = ("the reply contains no code block defining score(episode); answer with one "
            "```python block that defines score(episode) and THRESHOLD")
SYSTEM = ("You are a reinforcement-learning engineer. You write precise, programmatic success "
          "criteria for tasks described in words, as short Python files.")
_DEF_SCORE = re.compile(r"^\s*def\s+score\s*\(", re.MULTILINE)


def success_messages(spec: EnvSpec, task: str) -> Messages:
    """System + the env abstraction and the task, asking for score(episode) and THRESHOLD."""
    content = render("success", env_abstraction=describe(spec), task=task.strip(),
                     numpy_functions=", ".join(sorted(NUMPY_FUNCTIONS)),
                     numpy_constants=", ".join(sorted(NUMPY_CONSTANTS)),
                     linalg_functions=", ".join(sorted(LINALG_FUNCTIONS)))
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": content}]


def success_repair_messages(spec: EnvSpec, task: str, code: str | None,
                            error: str) -> Messages:
    """The first request + the refused file, its lines numbered, and every finding."""
    content = render("success_repair", code=numbered(code or ""), error=error.strip())
    return success_messages(spec, task) + [{"role": "user", "content": content}]


def extract_success(reply: str) -> tuple[str | None, str | None]:
    """``(code, None)`` for the success file in ``reply`` (the last block defining score), or
    ``(None, why)``."""
    text = strip_reasoning(reply or "").text
    if not text:
        return None, "the reply is empty"
    blocks, _ = split_blocks(text)
    codes = [dedent(b.code) for b in blocks if _DEF_SCORE.search(b.code)]
    if codes:
        return codes[-1].strip() + "\n", None
    try:
        tree = ast.parse(dedent(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, NO_SCORE
    if any(isinstance(s, ast.FunctionDef) and s.name == "score" for s in tree.body):
        return dedent(text).strip() + "\n", None
    return None, NO_SCORE
