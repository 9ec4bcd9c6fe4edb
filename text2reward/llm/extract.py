"""Pull a reward program out of a language model's reply.

Replies mix prose and code: several fenced blocks, helpers in their own block, ``~~~`` fences,
an unclosed fence when the reply hit ``max_tokens``, reasoning in ``<think>`` tags, or bare code
with no fence at all. The extractor keeps the last block that defines ``compute_reward`` plus
the other blocks that define names it uses, and never mistakes prose for code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

ENTRY = "compute_reward"
NO_CODE = f"the reply contains no code block defining {ENTRY}"
NO_ENTRY = (f"the code in the reply does not define {ENTRY}(state, action, next_state); "
            f"answer with one ```python block that defines it")
PYTHON_TAGS = {"", "python", "py", "python3", "py3", "numpy"}

_FENCE = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\s`]*)[^`]*$")
_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL | re.IGNORECASE)
_DEF_ENTRY = re.compile(rf"^def\s+{ENTRY}\s*\(", re.MULTILINE)
_CODE_START = re.compile(r"^(import\s+\w|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|[A-Z_][A-Z0-9_]*\s*=)")


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
    others = [b for i, b in enumerate(blocks) if i != chosen and not b.defines_entry()]
    helpers = _needed_helpers(main, [b for b in others if b.is_python])
    before = [h.code for h in helpers if blocks.index(h) < chosen]
    after = [h.code for h in helpers if blocks.index(h) > chosen]
    return "\n\n\n".join(before + [main.code] + after).strip() + "\n", None


def _needed_helpers(main: _Block, candidates: list[_Block]) -> list[_Block]:
    """Blocks of only imports/defs/constants that define names the program uses but lacks."""
    tree = main.tree()
    if tree is None:
        return []
    needed = _free_names(tree)
    chosen: list[_Block] = []
    changed = True
    while changed:
        changed = False
        for block in candidates:
            sub = block.tree()
            if block in chosen or sub is None or not _is_definitions(sub):
                continue
            if _defined_names(sub) & needed:
                chosen.append(block)
                needed |= _free_names(sub)
                changed = True
    return sorted(chosen, key=candidates.index)


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
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    return loaded - bound - _defined_names(tree)


def _bare_code(text: str) -> str | None:
    """Unfenced code: the earliest code-looking line to the latest end that parses and defines
    compute_reward. Prose alone never qualifies: it must parse and hold that definition."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    for start in starts:
        for end in range(len(lines), start, -1):
            code = _dedent("\n".join(lines[start:end])).strip()
            if _parses_with_entry(code):
                return code + "\n"
    return None


def _parses_with_entry(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(s, ast.FunctionDef) and s.name == ENTRY for s in tree.body)


def _dedent(code: str) -> str:
    import textwrap

    return textwrap.dedent(code).strip("\n")
