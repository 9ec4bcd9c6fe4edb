"""Message lists sent to the model, built from the templates in ``prompts/``.

Templates use ``string.Template`` (``$var``), which leaves the ``{}`` of code alone. Feedback
rounds follow Eureka: the conversation is system + task + the best program so far (as the
assistant's turn) + what training showed. With a history length H > 1 (``ctx.history``), the
best programs of earlier rounds come first, oldest first, each as an assistant turn followed
by its reflection; older history is dropped.
"""

from __future__ import annotations

from functools import cache
from string import Template

from text2reward.critic.surface import LINALG_FUNCTIONS, NUMPY_CONSTANTS, NUMPY_FUNCTIONS
from text2reward.designer import DesignContext
from text2reward.envs.abstraction import describe
from text2reward.errors import UsageError
from text2reward.paths import data_dir

Messages = list[dict[str, str]]
TEMPLATES = ("system", "task", "feedback", "repair", "retry", "human", "history", "critique",
             "analysis")
ECHOED_REPLY_CHARS = 4000  # a reply without code is shown back to the model up to this length


@cache
def template(name: str) -> Template:
    """Load ``prompts/<name>.txt``."""
    path = data_dir("prompts") / f"{name}.txt"
    try:
        return Template(path.read_text())
    except OSError as exc:
        raise UsageError(f"prompt template {path} cannot be read: {exc}") from None


def render(name: str, **values: str) -> str:
    """Fill template ``name``; a placeholder without a value is a usage error naming it."""
    try:
        return template(name).substitute(values).strip()
    except KeyError as exc:
        raise UsageError(
            f"prompt template {name}.txt uses ${exc.args[0]}, which it is not given"
        ) from None
    except ValueError as exc:
        raise UsageError(f"prompt template {name}.txt is malformed: {exc}") from None


def system_prompt() -> str:
    """The role, the fixed reward contract and the vetted numpy surface."""
    return render(
        "system",
        numpy_functions=", ".join(sorted(NUMPY_FUNCTIONS)),
        numpy_constants=", ".join(sorted(NUMPY_CONSTANTS)),
        linalg_functions=", ".join(sorted(LINALG_FUNCTIONS)),
    )


def task_prompt(ctx: DesignContext) -> str:
    """The env abstraction and the task in words (never the success function)."""
    return render("task", env_abstraction=describe(ctx.spec), task=ctx.task_text.strip())


def first_messages(ctx: DesignContext) -> Messages:
    """Round 0: system + task."""
    return [
        {"role": "system", "content": system_prompt()},
        {"role": "user", "content": task_prompt(ctx)},
    ]


def feedback_messages(ctx: DesignContext) -> Messages:
    """Later rounds: system + task + [earlier rounds' best programs and reflections, oldest
    first] + best program (assistant) + reflection and human words."""
    feedback = ctx.feedback
    if feedback is None:
        return first_messages(ctx)
    earlier: Messages = []
    for old in ctx.history:
        reflection = old.reflection.strip() or "(no statistics were recorded)"
        earlier += [
            {"role": "assistant", "content": fenced(old.source)},
            {"role": "user", "content": render("history", reflection=reflection)},
        ]
    code = feedback.source.strip()
    parts = []
    if feedback.reflection.strip():
        parts.append(render("feedback", code=code, reflection=feedback.reflection.strip()))
    if feedback.human and feedback.human.strip():
        parts.append(render("human", code=code, feedback=feedback.human.strip()))
    if not parts:
        parts.append(render("feedback", code=code, reflection="(no statistics were recorded)"))
    return first_messages(ctx) + earlier + [
        {"role": "assistant", "content": fenced(code)},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def repair_messages(ctx: DesignContext, code: str | None, error: str) -> Messages:
    """System + task + the refused program, its lines numbered as the findings cite them,
    and every finding of the critics."""
    content = render("repair", code=numbered(code or ""), error=error.strip())
    return first_messages(ctx) + [{"role": "user", "content": content}]


def retry_messages(ctx: DesignContext, reply: str | None, error: str,
                   echo: bool = True) -> Messages:
    """System + task + the model's own unusable reply (``echo``; not for replies cut off
    inside their reasoning) + why it could not be used."""
    earlier: Messages = []
    text = (reply or "").strip()
    if echo and text:
        if len(text) > ECHOED_REPLY_CHARS:
            text = text[:ECHOED_REPLY_CHARS] + "\n[... cut here ...]"
        earlier = [{"role": "assistant", "content": text}]
    content = render("retry", error=error.strip())
    return first_messages(ctx) + earlier + [{"role": "user", "content": content}]


def numbered(code: str) -> str:
    """``code`` with right-aligned line numbers, as static and runtime findings cite them."""
    lines = code.strip("\n").splitlines()
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}".rstrip() for i, line in enumerate(lines, 1))


def critique_messages(ctx: DesignContext, code: str) -> Messages:
    """System + task + a program the critics accepted, asking whether it fits the task."""
    return first_messages(ctx) + [
        {"role": "user", "content": render("critique", code=code.strip())}]


def analysis_messages(ctx: DesignContext, feedback) -> Messages:
    """System + task + the best program and its training statistics, asking for an analysis
    in words (no code)."""
    content = render("analysis", code=feedback.source.strip(),
                     reflection=feedback.reflection.strip() or "(no statistics were recorded)")
    return first_messages(ctx) + [{"role": "user", "content": content}]


def fenced(code: str) -> str:
    """``code`` in a ```python fence, as the model is asked to answer."""
    return f"```python\n{code.strip()}\n```"
