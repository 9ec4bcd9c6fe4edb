"""Adapt harmless habits of generated programs before the critics see them.

Models write working reward programs with habits the contract does not allow: type
annotations with ``typing`` names, a ``self`` first parameter, extra keyword parameters with
defaults, a ``__main__`` usage example, top-level prints and asserts, returning only the
reward, a scalar component such as ``healthy = 1.0``. Each is rewritten here, in place (the
rest of the text, comments included, is kept), and every change is listed, so a run shows
what was trained. Nothing that changes what the reward computes is rewritten: anything
unclear is left for the critics to refuse with their message.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

ENTRY = "compute_reward"
TYPING_MODULES = ("typing", "numpy.typing", "typing_extensions", "collections.abc")
REWARD_ONLY = "_reward_and_components"
PER_ENV = "_per_env"


@dataclass(frozen=True)
class _Edit:
    start: tuple[int, int]  # (line, column in characters), 1-based lines
    end: tuple[int, int]
    text: str


def adapt(source: str) -> tuple[str, list[str]]:
    """``source`` with its harmless habits rewritten, and one line per change (empty: kept
    as it was). A source that does not parse, or an edit that would not parse, is returned
    unchanged: the critics report it. Two passes: the signature and module level first, then
    the returns (which need the final parameter names)."""
    changes: list[str] = []
    for returns in (False, True):
        source, done = _pass(source, returns)
        changes += done
    return source, changes


def _pass(source: str, returns: bool) -> tuple[str, list[str]]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source, []
    lines = source.splitlines(keepends=True)
    edits: list[_Edit] = []
    changes: list[str] = []
    appended: list[str] = []
    entry = next((s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == ENTRY),
                 None)
    if not returns:
        _drop_top_level_noise(tree, lines, edits, changes)
        if entry is not None:
            _trim_parameters(entry, source, lines, edits, changes)
        _annotations(tree, lines, edits, changes)
    elif entry is not None:
        _wrap_reward_only(entry, tree, lines, edits, changes, appended)
        _broadcast_scalars(entry, tree, lines, edits, changes, appended)
    if not edits and not appended:
        return source, []
    adapted = _apply(lines, edits)
    if appended:
        adapted = adapted.rstrip("\n") + "\n\n\n" + "\n\n\n".join(appended)
    try:
        ast.parse(adapted)
    except SyntaxError:
        return source, []
    return adapted, changes


# -- module level -----------------------------------------------------------------------------

def _drop_top_level_noise(tree: ast.Module, lines: list[str], edits: list[_Edit],
                          changes: list[str]) -> None:
    """``if __name__ == "__main__":`` blocks, top-level prints and asserts: usage examples
    and checks, never part of the reward."""
    for stmt in tree.body:
        what = None
        if isinstance(stmt, ast.If) and _is_main_guard(stmt.test):
            what = "the `if __name__ == \"__main__\":` block"
        elif isinstance(stmt, ast.Assert):
            what = "a top-level assert"
        elif (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
              and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "print"):
            what = "a top-level print"
        if what and _owns_lines(stmt, lines):
            edits.append(_Edit((stmt.lineno, 0), (stmt.end_lineno + 1, 0), ""))
            changes.append(f"line {stmt.lineno}: removed {what} (not part of the reward)")


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def _owns_lines(stmt: ast.stmt, lines: list[str]) -> bool:
    """The statement is alone on its lines (no ``x = 1; print(x)``)."""
    first = lines[stmt.lineno - 1]
    last = lines[stmt.end_lineno - 1]
    end_col = _char_col(last, stmt.end_col_offset)
    tail = last[end_col:].strip()
    return stmt.col_offset == 0 and (not tail or tail.startswith("#")) and bool(first.strip())


def _annotations(tree: ast.Module, lines: list[str], edits: list[_Edit],
                 changes: list[str]) -> None:
    """Keep annotations but never evaluate them: ``from __future__ import annotations`` is
    added, and imports from ``typing`` used only in annotations are dropped."""
    annotations = [n for node in ast.walk(tree) for n in _annotation_nodes(node)]
    if not annotations:
        return
    in_annotations = {id(n) for a in annotations for n in ast.walk(a)}
    used_elsewhere = {n.id for n in ast.walk(tree)
                      if isinstance(n, ast.Name) and id(n) not in in_annotations}
    dropped = []
    for stmt in tree.body:
        names = _typing_names(stmt)
        if names and not names & used_elsewhere and _owns_lines(stmt, lines):
            edits.append(_Edit((stmt.lineno, 0), (stmt.end_lineno + 1, 0), ""))
            dropped.append(stmt.lineno)
    future = any(isinstance(s, ast.ImportFrom) and s.module == "__future__"
                 and any(a.name == "annotations" for a in s.names) for s in tree.body)
    if not future:
        first = tree.body[0]
        docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str)
        at = first.end_lineno + 1 if docstring else 1
        edits.append(_Edit((at, 0), (at, 0), "from __future__ import annotations\n"))
    change = "type annotations are kept but never evaluated (from __future__ import annotations)"
    if dropped:
        change += (f"; typing imports used only in annotations removed (line "
                   f"{', '.join(map(str, dropped))})")
    changes.append(change)


def _annotation_nodes(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.arg) and node.annotation is not None:
        return [node.annotation]
    if isinstance(node, ast.FunctionDef) and node.returns is not None:
        return [node.returns]
    if isinstance(node, ast.AnnAssign):
        return [node.annotation]
    return []


def _typing_names(stmt: ast.stmt) -> set[str]:
    """Names bound by an import of a typing module ("" set for any other statement)."""
    if isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module in TYPING_MODULES:
        return {a.asname or a.name for a in stmt.names}
    if isinstance(stmt, ast.Import) and all(a.name in TYPING_MODULES for a in stmt.names):
        return {a.asname or a.name.split(".")[0] for a in stmt.names}
    return set()


# -- the entry point ----------------------------------------------------------------------------

def _trim_parameters(fn: ast.FunctionDef, source: str, lines: list[str], edits: list[_Edit],
                     changes: list[str]) -> None:
    """A ``self`` first parameter, and extra parameters the body never reads that have
    defaults (or are ``*args``/``**kwargs``), are dropped."""
    args = fn.args
    used = {n.id for stmt in fn.body for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    keep, dropped = [], []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        if i == 0 and arg.arg in ("self", "cls") and len(positional) >= 4 and arg.arg not in used:
            dropped.append(f"the `{arg.arg}` first parameter")
        elif len(keep) >= 3 and default is not None and arg.arg not in used \
                and not arg.arg.startswith("__"):  # a dunder name is no habit: the critic says
            dropped.append(f"the unused parameter `{arg.arg}`")
        else:
            keep.append((arg, default))
    kwonly = []
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if default is not None and arg.arg not in used and not arg.arg.startswith("__"):
            dropped.append(f"the unused parameter `{arg.arg}`")
        else:
            kwonly.append((arg, default))
    star = []
    for arg, prefix in ((args.vararg, "*"), (args.kwarg, "**")):
        if arg is not None and arg.arg not in used:
            dropped.append(f"the unused `{prefix}{arg.arg}`")
        elif arg is not None:
            star.append((prefix, arg))
    if not dropped or len(keep) != 3 or kwonly or star or args.posonlyargs:
        return  # nothing to drop, or what is left would not fit the contract anyway
    span = _parameter_span(fn, source)
    if span is None:
        return
    text = ", ".join(_segment(lines, arg) for arg, _ in keep)
    edits.append(_Edit(span[0], span[1], text))
    changes.append(f"line {fn.lineno}: dropped {', '.join(dropped)} of {ENTRY}")


Span = tuple[tuple[int, int], tuple[int, int]]


def _parameter_span(fn: ast.FunctionDef, source: str) -> Span | None:
    """(start, end) of the text between the parentheses of ``def compute_reward(...)``."""
    segment_lines = source.splitlines(keepends=True)[fn.lineno - 1:]
    depth, start = 0, None
    try:
        for tok in tokenize.generate_tokens(io.StringIO("".join(segment_lines)).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
                if depth == 1 and start is None and tok.string == "(":
                    start = (tok.end[0] + fn.lineno - 1, tok.end[1])
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
                if depth == 0 and start is not None:
                    return start, (tok.start[0] + fn.lineno - 1, tok.start[1])
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return None


def _returns(fn: ast.FunctionDef) -> list[ast.Return]:
    """The function's own return statements (not those of nested functions or lambdas)."""
    found: list[ast.Return] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                  ast.ClassDef)):
                continue
            if isinstance(child, ast.Return):
                found.append(child)
            visit(child)

    visit(fn)
    return found


def _wrap_reward_only(fn: ast.FunctionDef, tree: ast.Module, lines: list[str],
                      edits: list[_Edit], changes: list[str], appended: list[str]) -> None:
    """``return reward`` becomes ``return _reward_and_components(reward)``: the reward and
    ``{"reward": reward}``; a tuple returned through a name or a helper passes unchanged."""
    returns = _returns(fn)
    if not returns or any(r.value is None or isinstance(r.value, (ast.Tuple, ast.Dict))
                          for r in returns):
        return
    if REWARD_ONLY in _all_names(tree):
        return
    for ret in returns:
        text = _segment(lines, ret.value)
        edits.append(_Edit(_start(lines, ret.value), _end(lines, ret.value),
                           f"{REWARD_ONLY}({text})"))
    appended.append(
        f"def {REWARD_ONLY}(reward):\n"
        f"    # added by text2reward: {ENTRY} returned the reward alone\n"
        "    if isinstance(reward, tuple):\n"
        "        return reward\n"
        '    return reward, {"reward": reward}\n')
    lines_ = ", ".join(str(r.lineno) for r in returns)
    changes.append(f"line {lines_}: {ENTRY} returns only the reward; it is returned with "
                   "the components {\"reward\": reward}")


def _broadcast_scalars(fn: ast.FunctionDef, tree: ast.Module, lines: list[str],
                       edits: list[_Edit], changes: list[str], appended: list[str]) -> None:
    """A component that is a number (``"healthy": 1.0``, or a name only ever assigned a
    number) becomes that number for every env: ``_per_env(1.0, action)``."""
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    numpy = _numpy_alias(tree)
    if len(params) != 3 or numpy is None or PER_ENV in _all_names(tree):
        return
    action = params[1]
    assigned = _assignments(fn)
    if action in assigned:
        return

    def scalar(value: ast.expr) -> bool:
        if _number(value):
            return True
        if isinstance(value, ast.Name) and value.id not in params:
            values = assigned.get(value.id, [])
            return bool(values) and all(v is not None and _number(v) for v in values)
        return False

    found = []
    for dictionary in _component_dicts(fn, assigned):
        for key, value in zip(dictionary.keys, dictionary.values, strict=True):
            if key is not None and scalar(value):
                text = _segment(lines, value)
                edits.append(_Edit(_start(lines, value), _end(lines, value),
                                   f"{PER_ENV}({text}, {action})"))
                label = key.value if isinstance(key, ast.Constant) else _segment(lines, key)
                found.append(f"{label!r} (line {value.lineno})")
    if found:
        appended.append(
            f"def {PER_ENV}(value, action):\n"
            "    # added by text2reward: a number as a component, one value per env\n"
            f"    return {numpy}.full(len(action), value, dtype={numpy}.float64)\n")
        changes.append(f"scalar component{'s' if len(found) > 1 else ''} {', '.join(found)} "
                       "broadcast to one value per env")


def _assignments(fn: ast.FunctionDef) -> dict[str, list[ast.expr | None]]:
    """Every name the function assigns, with the value of each plain assignment (None where
    the value is not a plain ``name = value``)."""
    assigned: dict[str, list[ast.expr | None]] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                simple = isinstance(target, ast.Name)
                for name in _names_in(target):
                    assigned.setdefault(name, []).append(node.value if simple else None)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.comprehension)):
            for name in _names_in(node.target):
                assigned.setdefault(name, []).append(None)
    return assigned


def _names_in(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _component_dicts(fn: ast.FunctionDef, assigned: dict[str, list]) -> list[ast.Dict]:
    """The dict literals returned as components: inline, or through a name assigned once."""
    dicts = []
    for ret in _returns(fn):
        value = ret.value
        if not (isinstance(value, ast.Tuple) and len(value.elts) == 2):
            continue
        components = value.elts[1]
        if isinstance(components, ast.Name):
            values = assigned.get(components.id, [])
            components = values[0] if len(values) == 1 else None
        if isinstance(components, ast.Dict) and all(id(components) != id(d) for d in dicts):
            dicts.append(components)
    return dicts


def _number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool))


def _numpy_alias(tree: ast.Module) -> str | None:
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name == "numpy":
                    return alias.asname or "numpy"
    return None


def _all_names(tree: ast.Module) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return names | {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


# -- text positions ---------------------------------------------------------------------------

def _char_col(line: str, byte_col: int) -> int:
    """ast columns count UTF-8 bytes; text edits count characters."""
    return len(line.encode()[:byte_col].decode(errors="ignore"))


def _start(lines: list[str], node: ast.AST) -> tuple[int, int]:
    return node.lineno, _char_col(lines[node.lineno - 1], node.col_offset)


def _end(lines: list[str], node: ast.AST) -> tuple[int, int]:
    return node.end_lineno, _char_col(lines[node.end_lineno - 1], node.end_col_offset)


def _segment(lines: list[str], node: ast.AST) -> str:
    return _slice(lines, _start(lines, node), _end(lines, node))


def _slice(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    (l1, c1), (l2, c2) = start, end
    if l1 == l2:
        return lines[l1 - 1][c1:c2]
    return lines[l1 - 1][c1:] + "".join(lines[l1:l2 - 1]) + lines[l2 - 1][:c2]


def _apply(lines: list[str], edits: list[_Edit]) -> str:
    """Apply non-overlapping edits (overlapping ones after the first are skipped)."""
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    text = "".join(lines)

    def offset(pos: tuple[int, int]) -> int:
        line, col = pos
        return offsets[min(line - 1, len(lines))] + col

    spans = sorted(((offset(e.start), offset(e.end), e.text) for e in edits), reverse=True)
    last_start = len(text) + 1
    for start, end, new in spans:
        if end > last_start:
            continue
        text = text[:start] + new + text[end:]
        last_start = start
    return text
