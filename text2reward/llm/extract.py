"""Pull the meant reward program out of a language model's reply.

Replies mix prose and code: several fenced blocks, helpers in their own block, a program and
an "alternative" or "baseline" after it, optional constants, reasoning in ``<think>`` tags,
a reply cut off at ``max_tokens``, or bare code with no fence at all. The extractor chooses
among the blocks by the reply's own words: a block introduced as an alternative, baseline,
example or draft is not the program when another block is; a later block replaces the
program's names only when the reply says so. Every choice is recorded (``Extraction.note``)
so a run shows which block was trained and why.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from text2reward.llm.fences import Block, dedent, split_blocks, strip_reasoning

ENTRY = "compute_reward"
NO_CODE = f"the reply contains no code block defining {ENTRY}"
NO_ENTRY = (f"the code in the reply does not define {ENTRY}(state, action, next_state); "
            f"answer with one ```python block that defines it")
PYTHON_TAGS = {"", "python", "py", "python3", "py3", "markdown", "md", "text", "txt", "python3.11"}

_DEF_ENTRY = re.compile(rf"^\s*def\s+{ENTRY}\s*\(", re.MULTILINE)
_CODE_START = re.compile(
    r"^(import\s+\w|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|@\w|[A-Z_][A-Z0-9_]*\s*=)"
)
# Words with which a reply sets a block aside, or marks it as the one to use.
_ASIDE = re.compile(
    r"\b(alternative(ly)?|baseline|for comparison|for reference|another (option|version|"
    r"variant)|a variant|optional(ly)?|if you (prefer|want|like|need)|you (could|can|might) "
    r"(also )?(use|try|swap|replace)|sparse (version|variant|reward)|simpler (version|variant)|"
    r"draft|first attempt|initial (version|attempt)|naive|do not use|don't use|not recommended|"
    r"usage|example usage|for example|example call|to test|sanity check|test it|old version|"
    r"original version|previous version)\b", re.IGNORECASE)
_MAIN = re.compile(
    r"\b(final|complete|full|recommended|i recommend|use this|corrected|fixed|updated|"
    r"improved|better|revised|here is (the|my) (reward|program|function|code)|"
    r"the reward (function|program))\b", re.IGNORECASE)
_OVERRIDE = re.compile(
    r"\b(replace (the|these|its|your|those)|override|overrides|use these (constants|values|"
    r"weights) instead|update the (constants|values|weights)|replaces? the (constants|values|"
    r"weights))\b", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*(\d+)\s?[|:]\s?")


@dataclass
class Extraction:
    """What was found in one reply: the program, or why there is none, and how it was chosen.

    ``kind``: ``ok``; ``empty``; ``no_code``; ``no_entry``; ``truncated`` (the program is cut
    off); ``truncated_reasoning`` (cut off inside reasoning, before any program)."""

    code: str | None
    error: str | None = None
    kind: str = "ok"
    blocks: int = 0
    taken: int | None = None  # 1-based index of the block taken, None for bare code
    joined: list[int] = field(default_factory=list)  # helper blocks joined to it (1-based)
    set_aside: list[str] = field(default_factory=list)  # other blocks and why they were not taken
    why: str = ""
    changes: list[str] = field(default_factory=list)  # text fixes (tabs, line numbers)

    @property
    def note(self) -> str:
        """One line for the report: which block and why."""
        if self.code is None:
            return self.error or ""
        where = (f"block {self.taken} of {self.blocks}" if self.taken is not None
                 else "unfenced code")
        parts = [f"took {where}: {self.why}" if self.why else f"took {where}"]
        if self.joined:
            parts.append("joined helper block" + ("s " if len(self.joined) > 1 else " ")
                         + ", ".join(map(str, self.joined)))
        parts += self.set_aside + self.changes
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "blocks": self.blocks, "taken": self.taken,
                "joined": self.joined, "note": self.note}


def extract_program(reply: str) -> tuple[str | None, str | None]:
    """``(code, None)`` for the program in ``reply``, or ``(None, error)`` saying why not."""
    found = extract(reply)
    return found.code, found.error


def extract(reply: str, finish_reason: str | None = None) -> Extraction:
    """The program meant by ``reply``; ``finish_reason`` ("length" when cut off at
    max_tokens) tells a truncated program from a complete one.

    Code that defines ``compute_reward`` but does not parse is still returned when the reply
    was not cut off: the critic's syntax message is what a repair request needs."""
    cut = None if finish_reason is None else finish_reason == "length"  # None: not known
    reasoning = strip_reasoning(reply or "")
    text = reasoning.text
    if not text:
        if cut or reasoning.state == "unclosed":
            return _truncated_reasoning()
        return Extraction(None, "the reply is empty", "empty")
    blocks, _ = split_blocks(text)
    if any(_defines_entry(_clean(b.code)[0]) for b in blocks):
        found = _from_blocks(blocks, cut)
    else:
        found = _bare(text, cut)
        if found.kind == "no_code" and any(_tree(b.code) for b in blocks):
            found = _no_entry(blocks)
    if found.code is None and reasoning.state == "unclosed" and cut:
        return _truncated_reasoning()
    if reasoning.state == "unclosed" and found.code is not None:
        found.changes.append("the <think> tag was never closed")
    return found


def _no_entry(blocks: list[Block]) -> Extraction:
    """Code without compute_reward: say what it defines instead."""
    defined = [f"{s.name}({', '.join(a.arg for a in s.args.args)})" for b in blocks
               if (tree := _tree(b.code)) for s in tree.body if isinstance(s, ast.FunctionDef)]
    error = NO_ENTRY
    if defined:
        error = (f"the code in the reply defines {', '.join(defined[:3])} but not {ENTRY}"
                 f"(state, action, next_state); rename the entry point and give it exactly "
                 f"those three parameters, in one ```python block")
    return Extraction(None, error, "no_entry", blocks=len(blocks))


def _truncated_reasoning() -> Extraction:
    return Extraction(None, "the reply was cut off at max_tokens while still reasoning (inside "
                      "<think>), before any program: reason briefly, then answer with the "
                      "program", "truncated_reasoning")


def _from_blocks(blocks: list[Block], cut: bool | None) -> Extraction:
    fixed = [_clean(b.code) for b in blocks]
    codes = [code for code, _ in fixed]
    mains = [i for i, b in enumerate(blocks)
             if b.tag in PYTHON_TAGS and _defines_entry(codes[i])]
    mains = mains or [i for i, code in enumerate(codes) if _defines_entry(code)]
    chosen, why, aside = _choose(blocks, mains)
    main = codes[chosen]
    found = Extraction(main, blocks=len(blocks), taken=chosen + 1, why=why, set_aside=aside,
                       changes=fixed[chosen][1])
    if not blocks[chosen].closed and chosen == len(blocks) - 1:
        if cut:
            return _cut(found, "its code block is never closed")
        if cut is None and _tree(main) is None:
            return _cut(found, "its code block is never closed and does not parse",
                        known=False)
    helpers, overrides = _helpers(blocks, codes, chosen)
    parts = [codes[i] for i in helpers] + [main] + [codes[i] for i in overrides]
    found.code = "\n\n\n".join(parts).strip() + "\n"
    found.joined = sorted(i + 1 for i in helpers + overrides)
    for i in overrides:
        found.set_aside.append(f"block {i + 1} replaces names of the program, as the reply says")
    return found


def _cut(found: Extraction, what: str, known: bool = True) -> Extraction:
    found.code, found.kind = None, "truncated"
    how = "was cut off at max_tokens" if known else "probably hit max_tokens"
    found.error = (f"the reply {how}: {what}, so the program is incomplete; "
                   "answer with a shorter complete program (fewer comments, no explanation "
                   "before the code)")
    return found


def _choose(blocks: list[Block], mains: list[int]) -> tuple[int, str, list[str]]:
    """The block meant as the program, why, and why each other candidate was set aside."""
    if len(mains) == 1:
        return mains[0], "the only block defining compute_reward", []
    marks = {i: _marks(blocks[i]) for i in mains}
    score = {i: (1 if marks[i][0] else 0) - (1 if marks[i][1] else 0) for i in mains}
    best = max(score.values())
    chosen = max(i for i in mains if score[i] == best)  # ties: the last, as replies refine
    if marks[chosen][0]:
        why = f"introduced as {marks[chosen][0]!r}"
    elif best == 0 and any(score[i] < 0 for i in mains):
        why = "the block not set aside by the reply"
    else:
        why = "the last block defining compute_reward"
    aside = []
    for i in mains:
        if i != chosen:
            reason = (f"introduced as {marks[i][1]!r}" if marks[i][1]
                      else "an earlier version" if i < chosen else "a later block")
            aside.append(f"block {i + 1} set aside ({reason})")
    return chosen, why, aside


def _marks(block: Block) -> tuple[str, str]:
    """(main, aside): the words just before a block (or in its first comments) that mark it
    as the program or set it aside, quoted as the sentence they are in ("" when none)."""
    intro = block.intro.strip().splitlines()[-3:] if block.intro.strip() else []
    comments = [line.lstrip("# ") for line in block.code.splitlines()[:3]
                if line.lstrip().startswith("#")]
    sentences = [s.strip() for line in intro + comments
                 for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]

    def quote(pattern: re.Pattern) -> str:
        hits = [s for s in sentences if pattern.search(s)]
        return _short(hits[-1]) if hits else ""

    return quote(_MAIN), quote(_ASIDE)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _helpers(blocks: list[Block], codes: list[str], chosen: int) -> tuple[list[int], list[int]]:
    """Blocks to join to the program: those holding only imports, definitions and constants
    that define names it uses and lacks (followed transitively), placed before it so its own
    definitions win; and blocks that redefine its names when the reply says they replace
    them (placed after it, so they win)."""
    tree = _tree(codes[chosen])
    if tree is None:
        return [], []
    needed, defined = _free_names(tree), _defined_names(tree)
    usable = {i: t for i, t in ((i, _tree(c)) for i, c in enumerate(codes))
              if i != chosen and t is not None and _is_definitions(t)
              and not _defines_entry(codes[i])}
    chosen_helpers: set[int] = set()
    overrides = []
    for i, sub in usable.items():
        names = _defined_names(sub) - _imported(sub)
        if names & defined and i > chosen and _OVERRIDE.search(blocks[i].intro or "") \
                and not _ASIDE.search(blocks[i].intro or ""):
            overrides.append(i)
    changed = True
    while changed:
        changed = False
        for i, sub in usable.items():
            if i in chosen_helpers or i in overrides:
                continue
            if _defined_names(sub) & needed:
                chosen_helpers.add(i)
                needed |= _free_names(sub)
                changed = True
    return sorted(chosen_helpers), overrides


def _bare(text: str, cut: bool | None) -> Extraction:
    """Unfenced code, accepted only when it parses and defines compute_reward.

    The whole reply is tried first; then the code-looking runs of lines between the prose
    (each trimmed from its end until it parses) are joined like fenced blocks."""
    code, changes = _clean(text)
    if _parses_with_entry(code):
        if cut:
            return _cut(Extraction(code), "the reply ends inside the program")
        return Extraction(code.strip() + "\n", why="the whole reply is the program",
                          changes=changes)
    blocks = []
    intro: list[str] = []
    lines = text.splitlines()
    for run, start in _code_runs(lines):
        for end in range(len(run), 0, -1):
            code = dedent("\n".join(run[:end]))
            if _parses(code):
                blocks.append(Block(code, "", True, "\n".join(intro)))
                break
        intro = lines[max(0, start - 3):start]
    if any(_defines_entry(b.code) for b in blocks):
        found = _from_blocks(blocks, False)
        found.taken, found.why = None, "code between the prose"
        return found
    if _DEF_ENTRY.search(text):
        if cut:
            return _cut(Extraction(None), "the reply ends inside the program")
        return Extraction(None, f"the reply mentions def {ENTRY} but its code is not valid "
                          f"Python outside a fence; answer with one ```python block", "no_code")
    if cut:
        return _cut(Extraction(None), "no program was reached")
    return Extraction(None, NO_CODE, "no_code")


def _code_runs(lines: list[str]) -> list[tuple[list[str], int]]:
    """Runs of lines (with their start) that start with a code-looking line and continue over
    indented, blank, comment or further code-looking lines."""
    runs: list[tuple[list[str], int]] = []
    current: list[str] | None = None
    for n, line in enumerate(lines):
        starts = bool(_CODE_START.match(line))
        continues = not line.strip() or line[:1] in " \t#)]}" or starts
        if current is not None and continues:
            current.append(line)
        elif starts:
            current = [line]
            runs.append((current, n))
        else:
            current = None
    return runs


def _clean(code: str) -> tuple[str, list[str]]:
    """Undo text damage that is not the program's: line numbers copied from a numbered
    listing, and tab indentation Python cannot read (expanded to 4 columns)."""
    changes = []
    lines = code.splitlines()
    numbered = [line for line in lines if line.strip()]
    if numbered and all(_NUMBERED.match(line) for line in numbered):
        code = "\n".join(_NUMBERED.sub("", line, count=1) for line in lines)
        changes.append("line numbers removed")
    if "\t" in code and _tree(code) is None and _tree(code.expandtabs(4)) is not None:
        code = code.expandtabs(4)
        changes.append("tabs expanded")
    return dedent(code), changes


def _defines_entry(code: str) -> bool:
    tree = _tree(code)
    if tree is None:
        return bool(_DEF_ENTRY.search(code))
    return any(isinstance(s, ast.FunctionDef) and s.name == ENTRY for s in tree.body)


def _tree(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _is_definitions(tree: ast.Module) -> bool:
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign, ast.AnnAssign)
    return bool(tree.body) and all(isinstance(s, allowed) for s in tree.body)


def _imported(tree: ast.Module) -> set[str]:
    return {(a.asname or a.name).split(".")[0] for s in tree.body
            if isinstance(s, (ast.Import, ast.ImportFrom)) for a in s.names}


def _defined_names(tree: ast.Module) -> set[str]:
    names = _imported(tree)
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            names.add(stmt.name)
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


def _parses(code: str) -> bool:
    return bool(code.strip()) and _tree(code) is not None


def _parses_with_entry(code: str) -> bool:
    tree = _tree(code)
    return tree is not None and any(
        isinstance(s, ast.FunctionDef) and s.name == ENTRY for s in tree.body)
