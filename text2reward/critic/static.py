"""Static critic: an AST allow-list for reward programs.

Every finding names the line, the construct, why it is refused and what to use instead, so a
language model can repair the program from the message alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from text2reward.critic.surface import (
    ALLOWED_MODULES,
    LINALG_FUNCTIONS,
    NUMPY_CONSTANTS,
    NUMPY_FUNCTIONS,
    SAFE_BUILTINS,
)

ENTRY_POINT = "compute_reward"
CONTRACT = "def compute_reward(state, action, next_state) -> (reward, components)"

# Attribute names refused on any object: I/O, raw memory and write-enable escapes of ndarrays,
# string formatting that walks attributes, and frame/code introspection.
FORBIDDEN_ATTRIBUTES = frozenset(
    """
    tofile dump dumps save savez savez_compressed savetxt load loadtxt fromfile memmap
    ctypes ctypeslib setflags flags base data format format_map gi_frame f_globals f_locals
    f_back co_code func_globals mro
    """.split()
)
FORBIDDEN_CALLS = {
    "eval": "evaluating strings as code",
    "exec": "executing strings as code",
    "compile": "compiling code",
    "open": "file access",
    "getattr": "dynamic attribute access",
    "setattr": "dynamic attribute writes",
    "delattr": "dynamic attribute deletion",
    "globals": "module state access",
    "locals": "frame introspection",
    "vars": "object introspection",
    "__import__": "dynamic imports",
    "input": "reading input",
    "breakpoint": "debugger access",
    "help": "interactive help",
    "type": "type introspection",
    "object": "object internals",
    "super": "class internals",
    "memoryview": "raw memory access",
    "print": "output (reward programs must be silent)",
    "exit": "stopping the process",
    "quit": "stopping the process",
}
ALLOWED_NODES = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.If,
    ast.IfExp, ast.For, ast.While, ast.Break, ast.Continue, ast.Pass, ast.FunctionDef,
    ast.arguments, ast.arg, ast.Name, ast.Load, ast.Store, ast.Del, ast.Constant, ast.Attribute,
    ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Dict, ast.Set, ast.Call, ast.keyword,
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.operator, ast.unaryop, ast.boolop,
    ast.cmpop, ast.expr_context, ast.Import, ast.ImportFrom, ast.alias, ast.Lambda,
    ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp, ast.comprehension, ast.Starred,
    ast.JoinedStr, ast.FormattedValue, ast.Assert, ast.Raise, ast.Delete,
)
NODE_HINTS = {
    "ClassDef": "define plain helper functions instead",
    "Global": "pass values as arguments and return results instead",
    "Nonlocal": "return values from helpers instead",
    "With": "reward programs do no resource handling; remove it",
    "Try": "guard values with np.where / np.clip / np.nan_to_num instead of exceptions",
    "AsyncFunctionDef": "use a plain def",
    "Await": "use plain synchronous code",
    "Yield": "return arrays instead of generating them",
    "YieldFrom": "return arrays instead of generating them",
    "NamedExpr": "assign on its own line",
}


@dataclass(frozen=True)
class Finding:
    """One reason a program is rejected."""

    line: int
    construct: str
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.construct}: {self.reason}; {self.fix}"


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.numpy_aliases: set[str] = set()
        self.linalg_aliases: set[str] = set()

    def refuse(self, node: ast.AST, construct: str, reason: str, fix: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), construct, reason, fix))

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, ALLOWED_NODES):
            kind = type(node).__name__
            hint = NODE_HINTS.get(kind, "write plain functions over numpy arrays")
            self.refuse(node, kind, "this construct is not allowed in reward programs", hint)
            return
        super().generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name not in ALLOWED_MODULES:
                self.refuse(node, f"import {alias.name}", "only numpy and math may be imported",
                            "compute everything from state, action and next_state with numpy")
            elif alias.name == "numpy":
                self.numpy_aliases.add(alias.asname or "numpy")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or module not in ALLOWED_MODULES:
            self.refuse(node, f"from {module} import", "only numpy and math may be imported",
                        "use `import numpy as np` or `import math`")
            return
        for alias in node.names:
            if module == "numpy" and alias.name == "linalg":
                self.linalg_aliases.add(alias.asname or "linalg")
            elif alias.name == "*":
                self.refuse(node, f"from {module} import *", "star imports hide names",
                            f"use `import {module}` and qualified names")
            elif module == "numpy" and alias.name not in NUMPY_FUNCTIONS | NUMPY_CONSTANTS:
                self.refuse(node, f"numpy.{alias.name}", "not in the vetted numpy surface",
                            "use pure array functions such as np.where, np.clip, np.exp")
            elif alias.name.startswith("_"):
                self.refuse(node, alias.name, "private names are not allowed", "use public names")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            self.refuse(node, node.id, "dunder names reach interpreter internals",
                        "use ordinary names")
        elif node.id in FORBIDDEN_CALLS:
            self.refuse(node, node.id, f"{FORBIDDEN_CALLS[node.id]} is not allowed",
                        "compute the reward from the arrays only")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("_"):
            self.refuse(node, f".{attr}", "private and dunder attributes reach internals",
                        "use the public features of state/next_state and numpy functions")
        elif attr in FORBIDDEN_ATTRIBUTES:
            self.refuse(node, f".{attr}", "I/O, raw memory or write-enabling access",
                        "use pure array operations")
        elif isinstance(node.value, ast.Name) and node.value.id in self.numpy_aliases:
            if attr == "linalg":
                pass
            elif attr not in NUMPY_FUNCTIONS | NUMPY_CONSTANTS:
                self.refuse(node, f"np.{attr}", "not in the vetted numpy surface",
                            "use pure array functions such as np.where, np.clip, np.exp, "
                            "np.linalg.norm")
        elif self._is_linalg(node.value) and attr not in LINALG_FUNCTIONS:
            self.refuse(node, f"np.linalg.{attr}", "not in the vetted numpy surface",
                        f"use one of np.linalg.{', np.linalg.'.join(sorted(LINALG_FUNCTIONS))}")
        self.generic_visit(node)

    def _is_linalg(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.linalg_aliases
        return (isinstance(node, ast.Attribute) and node.attr == "linalg"
                and isinstance(node.value, ast.Name) and node.value.id in self.numpy_aliases)


def _check_module_level(tree: ast.Module, checker: _Checker) -> None:
    """Top level: docstring, imports, constant assignments and function definitions only."""
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _is_constant(stmt.value):
            continue
        checker.refuse(stmt, type(stmt).__name__, "module level may hold only imports, "
                       "constants and function definitions", "move the code into a function")


def _is_constant(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple):
        return all(_is_constant(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left) and _is_constant(node.right)
    return False


def _check_entry_point(tree: ast.Module, checker: _Checker) -> None:
    defs = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == ENTRY_POINT]
    if not defs:
        checker.refuse(tree, ENTRY_POINT, "the program defines no compute_reward",
                       f"define {CONTRACT} at module level")
        return
    args = defs[-1].args
    positional = args.posonlyargs + args.args
    if len(positional) != 3 or args.vararg or args.kwarg or args.kwonlyargs:
        checker.refuse(defs[-1], f"{ENTRY_POINT} signature",
                       f"takes ({', '.join(a.arg for a in positional)}), not 3 arguments",
                       f"use exactly {CONTRACT}")
    if defs[-1].decorator_list:
        checker.refuse(defs[-1], "decorator", "decorators are not allowed", "remove it")


def check_source(source: str, filename: str = "<reward>") -> list[Finding]:
    """Return the static findings for ``source``; an empty list means accepted."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [Finding(exc.lineno or 0, "syntax", exc.msg, "fix the Python syntax")]
    checker = _Checker()
    _check_module_level(tree, checker)
    _check_entry_point(tree, checker)
    # Imports first, so aliases are known before attributes are checked.
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            checker.visit(stmt)
    for stmt in tree.body:
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            checker.visit(stmt)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.decorator_list and node.name != ENTRY_POINT:
            checker.refuse(node, "decorator", "decorators are not allowed", "remove it")
    return sorted(set(checker.findings), key=lambda f: (f.line, f.construct))
