"""Pull a reward program out of a language model's reply.

Replies mix prose and code: several fenced blocks, helpers in their own block, ``~~~`` fences,
an unclosed fence when the reply hit ``max_tokens``, reasoning in ``<think>`` tags, or bare code
with no fence at all. The extractor keeps the last block that defines ``compute_reward`` plus
the other blocks that define names it uses, and never mistakes prose for code.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

ENTRY = "compute_reward"
NO_CODE = f"the reply contains no code block defining {ENTRY}"
NO_ENTRY = (f"the code in the reply does not define {ENTRY}(state, action, next_state); "
            f"answer with one ```python block that defines it")
PYTHON_TAGS = {"", "python", "py", "python3", "py3"}

_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\s`]*)[^`]*$")
_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL | re.IGNORECASE)
_DEF_ENTRY = re.compile(rf"^def\s+{ENTRY}\s*\(", re.MULTILINE)
_CODE_START = re.compile(
    r"^(import\s+\w|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|[A-Z_][A-Z0-9_]*\s*=)"
)


@dataclass
class _Block:
    code: str
    tag: str
    closed: bool

    @property
    def is_python(self) -> bool:
        return self.tag.lower() in PYTHON_TAGS

    def tree(self) -> ast.Module | None:
        try:
            return ast.parse(self.code)
        except SyntaxError:
            return None

    def defines_entry(self) -> bool:
        tree = self.tree()
        if tree is None:
            return bool(_DEF_ENTRY.search(self.code))
        return any(isinstance(s, ast.FunctionDef) and s.name == ENTRY for s in tree.body)


def extract_program(reply: str) -> tuple[str | None, str | None]:
    """Return ``(code, None)`` for the program in ``reply``, or ``(None, error)`` saying why not.

    Code that defines ``compute_reward`` but does not parse is still returned: the critic's
    syntax message is what a repair request needs.
    """
    text = _THINK.sub("", reply or "").strip()
    if not text:
        return None, "the reply is empty"
    blocks = fenced_blocks(text)
    if blocks:
        return _from_blocks(blocks)
    bare = _bare_code(text)
    if bare is not None:
        return bare, None
    if _DEF_ENTRY.search(text):
        return None, (f"the reply mentions def {ENTRY} but its code is not valid Python outside "
                      f"a fence; answer with one ```python block")
    return None, NO_CODE


def fenced_blocks(text: str) -> list[_Block]:
    """Every fenced block in ``text`` in order; an unclosed last fence runs to the end."""
    blocks: list[_Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, tag = match.group("fence"), match.group("tag")
        body: list[str] = []
        i += 1
        closed = False
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                closed = True
                break
            body.append(lines[i])
            i += 1
        blocks.append(_Block(_dedent("\n".join(body)), tag, closed))
        i += 1
    return blocks


def _from_blocks(blocks: list[_Block]) -> tuple[str | None, str | None]:
    mains = [i for i, b in enumerate(blocks) if b.is_python and b.defines_entry()]
    mains = mains or [i for i, b in enumerate(blocks) if b.defines_entry()]
    if not mains:
        return None, NO_ENTRY
    chosen = mains[-1]
    main = blocks[chosen]
    if main.tree() is None and not main.closed:
        return None, ("the code block is cut off before its closing fence (the reply probably "
                      "hit max_tokens); answer with a shorter program")
    others = [i for i, b in enumerate(blocks)
              if i != chosen and b.is_python and not b.defines_entry()]
    helpers = _needed_helpers(main, {i: blocks[i] for i in others})
    parts = [blocks[i].code for i in helpers if i < chosen] + [main.code]
    parts += [blocks[i].code for i in helpers if i > chosen]
    return "\n\n\n".join(parts).strip() + "\n", None


def _needed_helpers(main: _Block, candidates: dict[int, _Block]) -> list[int]:
    """Indices of blocks holding only imports/defs/constants that define names the program
    uses but does not define itself (followed transitively)."""
    tree = main.tree()
    if tree is None:
        return []
    needed = _free_names(tree)
    trees = {i: b.tree() for i, b in candidates.items()}
    usable = {i: t for i, t in trees.items() if t is not None and _is_definitions(t)}
    chosen: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, sub in usable.items():
            if i not in chosen and _defined_names(sub) & needed:
                chosen.add(i)
                needed |= _free_names(sub)
                changed = True
    return sorted(chosen)


def _is_definitions(tree: ast.Module) -> bool:
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign, ast.AnnAssign)
    return bool(tree.body) and all(isinstance(s, allowed) for s in tree.body)


def _defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _free_names(tree: ast.Module) -> set[str]:
    """Names read in ``tree`` that it never binds (a coarse, scope-free approximation)."""
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name)]
    loaded = {n.id for n in names if isinstance(n.ctx, ast.Load)}
    bound = {n.id for n in names if not isinstance(n.ctx, ast.Load)}
    bound |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    return loaded - bound - _defined_names(tree)


def _bare_code(text: str) -> str | None:
    """Unfenced code, accepted only when it parses and defines compute_reward.

    The whole reply is tried first; then the code-looking runs of lines between the prose
    (each trimmed from its end until it parses) are joined like fenced blocks.
    """
    if _parses_with_entry(text):
        return text.strip() + "\n"
    blocks = []
    for run in _code_runs(text.splitlines()):
        for end in range(len(run), 0, -1):
            code = _dedent("\n".join(run[:end]))
            if _parses(code):
                blocks.append(_Block(code, "", True))
                break
    if not any(b.defines_entry() for b in blocks):
        return None
    code, _ = _from_blocks(blocks)
    return code


def _code_runs(lines: list[str]) -> list[list[str]]:
    """Runs of lines that start with a code-looking line and continue over indented, blank,
    comment or further code-looking lines."""
    runs: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        starts = bool(_CODE_START.match(line))
        continues = not line.strip() or line[:1] in " \t#)]}" or starts
        if current is not None and continues:
            current.append(line)
        elif starts:
            current = [line]
            runs.append(current)
        else:
            current = None
    return runs


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return bool(code.strip())


def _parses_with_entry(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(s, ast.FunctionDef) and s.name == ENTRY for s in tree.body)


def _dedent(code: str) -> str:
    return textwrap.dedent(code).strip("\n")
