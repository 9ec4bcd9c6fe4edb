"""extract_program: pulling a reward program out of realistic model replies."""

from __future__ import annotations

import ast

import pytest

from text2reward.llm.extract import extract_program

PROGRAM = """import numpy as np


def compute_reward(state, action, next_state):
    upright = np.cos(next_state.pole_angle)
    centred = -0.1 * np.square(next_state.cart_position)
    return upright + centred, {"upright": upright, "centred": centred}
"""

HELPER = """def smooth(x, temperature=0.5):
    return np.exp(-np.abs(x) / temperature)
"""

USES_HELPER = """def compute_reward(state, action, next_state):
    upright = smooth(next_state.pole_angle)
    return upright, {"upright": upright}
"""


def ok(reply: str) -> str:
    code, error = extract_program(reply)
    assert error is None, error
    assert code is not None
    ast.parse(code)
    return code


@pytest.mark.parametrize("tag", ["python", "py", "Python", "", "python3"])
def test_fence_tags(tag: str) -> None:
    code = ok(f"Here is my reward.\n\n```{tag}\n{PROGRAM}```\n\nIt rewards uprightness.")
    assert code.strip() == PROGRAM.strip()


def test_tilde_fence() -> None:
    assert ok(f"Reward:\n~~~python\n{PROGRAM}~~~\nDone.").strip() == PROGRAM.strip()


def test_prose_around_code_is_dropped() -> None:
    code = ok(f"Sure! Let me think.\n\n```python\n{PROGRAM}```\n\n**Why**: it keeps the pole up.")
    assert "Sure" not in code and "Why" not in code


def test_helpers_in_same_block_are_kept() -> None:
    block = "import numpy as np\n\n\n" + HELPER + "\n\n" + USES_HELPER
    code = ok(f"```python\n{block}```")
    assert "def smooth" in code and code.index("def smooth") < code.index("def compute_reward")
    assert "import numpy as np" in code


def test_earlier_helper_and_import_blocks_are_joined_in_order() -> None:
    reply = (
        "First the imports:\n```python\nimport numpy as np\n```\n"
        f"A helper:\n```python\n{HELPER}```\n"
        "An example call (not part of the program):\n"
        "```python\nr, c = compute_reward(s, a, s2)\n```\n"
        f"And the reward:\n```python\n{USES_HELPER}```\n"
    )
    code = ok(reply)
    assert code.index("import numpy") < code.index("def smooth") < code.index("def compute_reward")
    assert "r, c = compute_reward(s, a, s2)" not in code


def test_unrelated_earlier_block_is_not_included() -> None:
    reply = ("```bash\npip install numpy\n```\n```python\ndef other(x):\n    return x\n```\n"
             f"```python\n{PROGRAM}```")
    code = ok(reply)
    assert "pip install" not in code and "def other" not in code


def test_last_block_defining_compute_reward_wins() -> None:
    draft = PROGRAM.replace("-0.1", "-0.5")
    code = ok(f"Draft:\n```python\n{draft}```\nBetter:\n```python\n{PROGRAM}```")
    assert "-0.1" in code and "-0.5" not in code


def test_bare_code_without_fences() -> None:
    assert ok(PROGRAM).strip() == PROGRAM.strip()


def test_bare_code_with_prose_around_keeps_imports_and_helpers() -> None:
    reply = ("Here is the reward function:\n\nimport numpy as np\n\nWith a helper:\n\n" + HELPER
             + "\nand the entry point:\n\n" + USES_HELPER + "\nThis keeps the pole balanced.")
    code = ok(reply)
    assert "import numpy as np" in code and "def smooth" in code and "def compute_reward" in code
    assert "balanced" not in code and "Here is" not in code


def test_think_tags_are_ignored() -> None:
    draft = "```python\ndef compute_reward(a, b, c):\n    return 0\n```"
    reply = f"<think>maybe {draft}</think>\n```python\n{PROGRAM}```"
    assert ok(reply).strip() == PROGRAM.strip()


def test_indented_fence_in_a_list() -> None:
    indented = "\n".join("   " + line for line in PROGRAM.splitlines())
    code = ok(f"1. The reward:\n   ```python\n{indented}\n   ```\n")
    assert code.strip() == PROGRAM.strip()


def test_no_code_at_all() -> None:
    code, error = extract_program("I would reward the agent for keeping the pole upright and "
                                  "the cart near the centre, using compute_reward.")
    assert code is None
    assert error == "the reply contains no code block defining compute_reward"


def test_empty_reply() -> None:
    assert extract_program("")[0] is None


def test_code_without_compute_reward() -> None:
    code, error = extract_program("```python\ndef reward(obs):\n    return 1.0\n```")
    assert code is None and "does not define compute_reward" in error


def test_prose_is_never_code() -> None:
    code, error = extract_program("def compute_reward is what I would write, taking the state.")
    assert code is None and error


def test_syntax_error_is_returned_for_the_critic() -> None:
    broken = PROGRAM.replace("return upright", "return (upright")
    code, error = extract_program(f"```python\n{broken}```")
    assert error is None and code is not None and "def compute_reward" in code


def test_truncated_reply_with_unclosed_fence() -> None:
    code, error = extract_program(f"```python\n{PROGRAM[:-40]}")
    assert code is None and "max_tokens" in error


def test_unclosed_fence_that_parses_is_accepted() -> None:
    assert ok(f"Here:\n```python\n{PROGRAM}").strip() == PROGRAM.strip()


def test_longer_fence_wraps_inner_backticks() -> None:
    inner = PROGRAM.replace("import numpy as np", 'import numpy as np\nNOTE = "```"')
    code = ok(f"````python\n{inner}````")
    assert 'NOTE = "```"' in code
