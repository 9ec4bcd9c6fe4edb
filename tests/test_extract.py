"""extract_program: pulling a reward program out of realistic model replies."""

from __future__ import annotations

import ast

import pytest

from text2reward.llm.extract import extract, extract_program

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
    assert code is None and "not compute_reward" in error and "reward(obs)" in error


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


# -- choosing among blocks by the reply's own words ------------------------------------------

SPARSE = """import numpy as np


def compute_reward(state, action, next_state):
    alive = (np.abs(next_state.pole_angle) < 0.2).astype(np.float64)
    return alive, {"alive": alive}
"""


def test_alternative_baseline_after_the_program_is_not_taken() -> None:
    reply = ("I recommend the following dense reward.\n\n"
             f"```python\n{PROGRAM}```\n\n"
             "Alternatively, only as a baseline for comparison, a sparse version:\n\n"
             f"```python\n{SPARSE}```\n\nThe dense reward should learn faster.")
    found = extract(reply, "stop")
    assert found.code.strip() == PROGRAM.strip()
    assert found.taken == 1 and found.blocks == 2
    assert "block 2 set aside" in found.note and "baseline" in found.note.lower()


def test_block_commented_as_alternative_is_not_taken() -> None:
    alt = "# Alternative (sparse) version, for reference only\n" + SPARSE
    found = extract(f"```python\n{PROGRAM}```\n\n```python\n{alt}```", "stop")
    assert found.code.strip() == PROGRAM.strip() and found.taken == 1


def test_optional_stricter_constants_do_not_override_the_program() -> None:
    program = PROGRAM.replace("-0.1 *", "-CENTRE_WEIGHT *").replace(
        "import numpy as np\n", "import numpy as np\n\nCENTRE_WEIGHT = 0.1\n")
    reply = (f"Here is the reward:\n```python\n{program}```\n\n"
             "Optionally, if you want stricter centring, you could use these constants:\n"
             "```python\nCENTRE_WEIGHT = 1.0\n```\n")
    found = extract(reply, "stop")
    assert "CENTRE_WEIGHT = 1.0" not in found.code and "CENTRE_WEIGHT = 0.1" in found.code


def test_constants_block_overrides_only_when_the_reply_says_so() -> None:
    program = PROGRAM.replace("-0.1 *", "-CENTRE_WEIGHT *").replace(
        "import numpy as np\n", "import numpy as np\n\nCENTRE_WEIGHT = 0.1\n")
    reply = (f"```python\n{program}```\n\nAfter testing, replace the constants with these:\n"
             "```python\nCENTRE_WEIGHT = 0.5\n```\n")
    found = extract(reply, "stop")
    namespace: dict = {}
    exec(found.code, namespace)
    assert namespace["CENTRE_WEIGHT"] == 0.5
    assert "replaces names" in found.note


def test_draft_then_final_takes_the_final() -> None:
    draft = PROGRAM.replace("-0.1", "-0.5")
    reply = (f"My first attempt:\n```python\n{draft}```\nThat over-weights centring. "
             f"Final version:\n```python\n{PROGRAM}```")
    found = extract(reply, "stop")
    assert "-0.1" in found.code and found.taken == 2 and "final" in found.note.lower()


def test_helper_block_after_the_program_is_joined_before_it() -> None:
    reply = (f"```python\nimport numpy as np\n\n{USES_HELPER}```\nwith the helper:\n"
             f"```python\n{HELPER}```")
    found = extract(reply, "stop")
    assert found.code.index("def smooth") < found.code.index("def compute_reward")
    assert found.joined == [2]


# -- fences as real replies write them -------------------------------------------------------

def test_markdown_wrapper_with_four_backticks_opens_its_inner_block() -> None:
    reply = ("````markdown\n## Reward design\n\nThe pole should stay upright.\n\n"
             f"```python\n{PROGRAM}```\n\nThe cosine peaks when upright.\n````\n")
    found = extract(reply, "stop")
    assert found.code.strip() == PROGRAM.strip()
    assert "Reward design" not in found.code


def test_markdown_wrapper_with_three_backticks() -> None:
    reply = f"```markdown\n# Plan\nKeep it up.\n```python\n{PROGRAM}```\nDone.\n```\n"
    assert extract(reply, "stop").code.strip() == PROGRAM.strip()


def test_closing_fence_glued_to_the_last_line_is_complete() -> None:
    reply = f"Here:\n```python\n{PROGRAM.rstrip()}```\nThat is all."
    found = extract(reply, "stop")
    assert found.error is None and found.code.strip() == PROGRAM.strip()
    assert extract(f"```python\n{PROGRAM.rstrip()}```").error is None  # finish unknown


def test_fence_opened_at_the_end_of_a_prose_line() -> None:
    assert extract(f"Here is the code:```python\n{PROGRAM}```", "stop").code.strip() == \
        PROGRAM.strip()


def test_crlf_and_tab_indentation() -> None:
    tabbed = PROGRAM.replace("    ", "\t")
    found = extract(f"```python\r\n{tabbed}```\r\n".replace("\n", "\r\n"), "stop")
    assert found.error is None and "\r" not in found.code
    ast.parse(found.code)


def test_mixed_tabs_and_spaces_are_expanded() -> None:
    mixed = PROGRAM.replace("    centred", "\tcentred")
    found = extract(f"```python\n{mixed}```", "stop")
    assert found.error is None and "tabs expanded" in found.note
    ast.parse(found.code)


def test_line_numbers_copied_from_a_numbered_listing_are_removed() -> None:
    numbered = "\n".join(f"{i + 1:>3} | {line}" for i, line in enumerate(PROGRAM.splitlines()))
    found = extract(f"```python\n{numbered}\n```", "stop")
    assert found.code.strip() == PROGRAM.strip() and "line numbers removed" in found.note


# -- reasoning and truncation ----------------------------------------------------------------

def test_unclosed_think_tag_that_was_not_cut_off_still_gives_the_program() -> None:
    found = extract(f"<think>\nThe pole must stay up.\n\n```python\n{PROGRAM}```", "stop")
    assert found.code.strip() == PROGRAM.strip() and "never closed" in found.note


def test_reply_cut_off_inside_think_is_not_sent_back_as_a_program() -> None:
    draft = "```python\ndef compute_reward(state, action, next_state):\n    x = np.cos("
    found = extract(f"<think>\nLet me reason. Maybe {draft}", "length")
    assert found.code is None and found.kind == "truncated_reasoning"
    assert "while still reasoning" in found.error
    assert extract("<think>\nOkay, so the pole", "length").kind == "truncated_reasoning"


def test_orphan_closing_think_tag_drops_the_reasoning_before_it() -> None:
    reply = f"So I should use a cosine. def compute_reward(a):\n</think>\n```python\n{PROGRAM}```"
    assert extract(reply, "stop").code.strip() == PROGRAM.strip()


def test_cut_off_program_that_still_parses_is_truncated_not_a_contract_error() -> None:
    partial = PROGRAM.split("    return")[0]
    found = extract(f"```python\n{partial}", "length")
    assert found.code is None and found.kind == "truncated"
    assert "cut off at max_tokens" in found.error


def test_cut_off_after_the_program_closed_is_fine() -> None:
    found = extract(f"```python\n{PROGRAM}```\n\nThe cosine term rewards", "length")
    assert found.code.strip() == PROGRAM.strip()


def test_unclosed_fence_that_does_not_parse_when_not_cut_off_goes_to_the_critic() -> None:
    found = extract(f"```python\n{PROGRAM[:-40]}", "stop")
    assert found.code is not None and found.error is None
