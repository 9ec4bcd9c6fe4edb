"""The static critic accepts valid programs and names line, construct and fix for the rest."""

import pytest

from text2reward.critic.static import check_source

GOOD = '''
import numpy as np
import math

SCALE = 2.0


def _upright(angle, temperature):
    return np.exp(-np.abs(angle) / temperature)


def compute_reward(state, action, next_state):
    upright = _upright(next_state.pole_angle, 0.1)
    centred = -SCALE * np.square(next_state.cart_position) * math.pi
    bonus = np.where(np.abs(next_state.pole_angle) < 0.05, 1.0, 0.0)
    total = upright + centred + bonus
    return total, {"upright": upright, "centred": centred, "bonus": bonus}
'''


def test_accepts_helpers_constants_and_numpy():
    assert check_source(GOOD) == []


@pytest.mark.parametrize(
    "source, construct",
    [
        ("import os\ndef compute_reward(s, a, n):\n    return 0, {}\n", "import os"),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    np.save('x', s.obs)\n"
         "    return 0, {}\n", ".save"),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    return np.ctypeslib, {}\n",
         ".ctypeslib"),
        ("def compute_reward(s, a, n):\n    return s.obs.tofile('x'), {}\n", ".tofile"),
        ("def compute_reward(s, a, n):\n    return s.__class__, {}\n", ".__class__"),
        ("def compute_reward(s, a, n):\n    return open('/etc/passwd').read(), {}\n", "open"),
        ("def compute_reward(s, a, n):\n    return eval('1'), {}\n", "eval"),
        ("def compute_reward(s, a, n):\n    return getattr(s, 'obs'), {}\n", "getattr"),
        ("X = []\ndef compute_reward(s, a, n):\n    return 0, {}\n", "Assign"),
        ("def compute_reward(s, a, n):\n    global X\n    return 0, {}\n", "Global"),
        ("class A: pass\ndef compute_reward(s, a, n):\n    return 0, {}\n", "ClassDef"),
        ("def compute_reward(s, a):\n    return 0, {}\n", "compute_reward signature"),
        ("def reward(s, a, n):\n    return 0, {}\n", "compute_reward"),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    return np.random.rand(3), {}\n",
         "np.random"),
        ("def compute_reward(s, a, n):\n    return '{0.__class__}'.format(s), {}\n", ".format"),
        ("def compute_reward(s, a, n)\n    return 0, {}\n", "syntax"),
    ],
)
def test_rejects_with_construct_named(source, construct):
    findings = check_source(source)
    assert findings, source
    assert any(f.construct == construct for f in findings), [str(f) for f in findings]


def test_findings_name_line_reason_and_fix():
    findings = check_source(
        "import numpy as np\n\ndef compute_reward(s, a, n):\n    return np.load('x'), {}\n")
    text = str(findings[0])
    assert text.startswith("line 4: np.load") or text.startswith("line 4: .load")
    assert "use" in text


@pytest.mark.parametrize(
    "source, construct",
    [
        ("import numpy as np\ndef compute_reward(s, a, n):\n    np.cos = np.sin\n"
         "    return 0, {}\n", ".cos = ..."),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    return np.ndarray((3,)), {}\n",
         "np.ndarray"),
        ("def compute_reward(s, a, n):\n    return (x for x in s).gi_code, {}\n", ".gi_code"),
        ("def compute_reward(s, a, n):\n    return 10 ** 10 ** 10, {}\n",
         "** with a huge exponent"),
        ("def compute_reward(s, a, n):\n    return pow(7, 10**9), {}\n",
         "pow with a huge exponent"),
        ("from math import pi as __builtins__\ndef compute_reward(s, a, n):\n    return 0, {}\n",
         "__builtins__"),
        ("W = {'a': 1.0}\ndef compute_reward(s, a, n):\n    W['a'] = 2.0\n    return 0, {}\n",
         "writing into W"),
        ("W = {'a': 1.0}\ndef compute_reward(s, a, n):\n    W.update(a=2.0)\n    return 0, {}\n",
         ".update() on W"),
        ("def compute_reward(s, a, n):\n    return " + "-" * 20000 + "1, {}\n", "nesting"),
    ],
)
def test_rejects_hardened_constructs(source, construct):
    findings = check_source(source)
    assert any(f.construct == construct for f in findings), [str(f) for f in findings]
    assert all(f.fix for f in findings)


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\ndef compute_reward(s, a, n):\n"
        "    return float(isinstance(s.obs, np.ndarray)), {}\n",
        "import math\nimport numpy as np\nHALF = math.pi / 2\nW = np.array([1.0, 2.0])\n"
        "G = {'a': 1.0}\ndef compute_reward(s, a, n):\n    w = dict(G)\n    w['a'] = 2.0\n"
        "    return W[0] * HALF * w['a'], {}\n",
        "def compute_reward(s, a, n):\n"
        "    return s.obs[:, 0] ** 2 + pow(s.obs[:, 1], 3) + 2 ** -3, {}\n",
    ],
)
def test_accepts_tricky_but_valid_programs(source):
    assert check_source(source) == [], [str(f) for f in check_source(source)]
