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
    TYPE_ONLY,
)

ENTRY_POINT = "compute_reward"
CONTRACT = "def compute_reward(state, action, next_state) -> (reward, components)"
SUCCESS_CONTRACT = "def score(episode) -> float"

# Attribute names refused on any object: I/O, raw memory and write-enable escapes of ndarrays,
# string formatting that walks attributes, and frame/code/traceback introspection.
FORBIDDEN_ATTRIBUTES = frozenset(
    """
    tofile dump dumps save savez savez_compressed savetxt load loadtxt fromfile fromstring
    frombuffer memmap ctypes ctypeslib setflags flags base data format format_map
    gi_frame gi_code gi_yieldfrom cr_frame cr_code cr_await ag_frame ag_code
    tb_frame tb_next f_globals f_locals f_back f_builtins f_code f_trace co_code co_consts
    co_names func_globals func_code func_closure im_func im_self mro
    """.split()
)
MAX_SOURCE_CHARS = 200_000
MAX_EXPONENT = 10_000
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
        self.type_checks: set[int] = set()  # ids of nodes that are isinstance's second argument
        self.module_names: set[str] = set()  # module-level constants: read-only for functions
        self.depth = 0  # function nesting
        self.lazy_annotations = False  # `from __future__ import annotations`: never evaluated
        self.mutable_names: set[str] = set()  # module-level dicts and arrays
        self.functions: set[str] = set()  # module-level function names
        self.aliases: set[str] = set()  # locals of the current function that alias module state

    def _refuse_module_mutation(self, node: ast.AST, target: ast.AST, how: str) -> None:
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value
        if not (self.depth and isinstance(target, ast.Name)):
            return
        if target.id in self.module_names:
            self.refuse(node, f"{how} {target.id}", "module-level constants are shared by every "
                        "call; mutating them makes the reward depend on history",
                        f"copy it first (local = dict({target.id}) or np.array({target.id}))")
        elif target.id in self.aliases:
            self.refuse(node, f"{how} {target.id}", f"{target.id} is module-level state under "
                        "another name; mutating it makes the reward depend on history",
                        "copy it first (np.array(...) or dict(...)) and change the copy")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._refuse_module_mutation(node, node.value, "writing into")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._refuse_module_mutation(node, node.target, "in-place update of")
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._check_defaults(node, "lambda")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def refuse(self, node: ast.AST, construct: str, reason: str, fix: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), construct, reason, fix))

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, ALLOWED_NODES):
            kind = type(node).__name__
            hint = NODE_HINTS.get(kind, "write plain functions over numpy arrays")
            self.refuse(node, kind, "this construct is not allowed in reward programs", hint)
            return
        super().generic_visit(node)

    def _check_binding(self, node: ast.AST, name: str | None, what: str) -> None:
        if name and name.startswith("__"):
            self.refuse(node, name, f"a dunder {what} name shadows interpreter internals",
                        "use an ordinary name")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_binding(node, node.name, "function")
        self._check_defaults(node, node.name)
        outer = self.aliases
        self.aliases = outer | _aliases_of(node, self.mutable_names | self.module_names)
        self.depth += 1
        if self.lazy_annotations:
            node.returns = None  # never evaluated: not checked (the tree is the checker's own)
        self.generic_visit(node)
        self.depth -= 1
        self.aliases = outer

    def _check_defaults(self, node: ast.FunctionDef | ast.Lambda, name: str) -> None:
        """A mutable default is created once and kept between calls: state."""
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            if not _immutable_default(default, self.mutable_names):
                self.refuse(default, f"mutable default argument of {name}", "a default value is "
                            "created once and kept between calls, so the reward would depend on "
                            "how often it was called", "remove the parameter and compute the "
                            "value inside the function (a reward must be a pure function of "
                            "state, action and next_state)")

    def visit_arg(self, node: ast.arg) -> None:
        self._check_binding(node, node.arg, "parameter")
        if self.lazy_annotations:
            node.annotation = None
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if self.lazy_annotations or self.depth:  # local annotations are never evaluated
            node.annotation = ast.Constant(None)
        self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> None:
        self._check_binding(node, node.asname, "import alias")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Pow):
            exponent = _constant_value(node.right)
            nested = isinstance(node.right, ast.BinOp) and isinstance(node.right.op, ast.Pow)
            if nested or (isinstance(exponent, (int, float)) and abs(exponent) > MAX_EXPONENT):
                self.refuse(node, "** with a huge exponent", "it builds enormous numbers and "
                            "can hang or exhaust memory", "use small exponents, np.exp or np.log")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING_METHODS:
            self._refuse_module_mutation(node, node.func.value, f".{node.func.attr}() on")
        for kw in node.keywords:
            if kw.arg == "out":
                self._refuse_module_mutation(node, kw.value, "out= into")
        if isinstance(node.func, ast.Name) and node.func.id == "pow" and len(node.args) >= 2:
            exponent = _constant_value(node.args[1])
            if isinstance(exponent, (int, float)) and abs(exponent) > MAX_EXPONENT:
                self.refuse(node, "pow with a huge exponent", "it builds enormous numbers and "
                            "can hang or exhaust memory", "use small exponents, np.exp or np.log")
        if isinstance(node.func, ast.Name) and node.func.id == "isinstance" and len(node.args) == 2:
            types = node.args[1]
            for t in (types.elts if isinstance(types, ast.Tuple) else [types]):
                self.type_checks.add(id(t))
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.visit_alias(alias)
            if alias.name not in ALLOWED_MODULES:
                self.refuse(node, f"import {alias.name}", "only numpy and math may be imported",
                            _import_fix(alias.name))
            elif alias.name == "numpy":
                self.numpy_aliases.add(alias.asname or "numpy")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module == "__future__" and not node.level and self.depth == 0 \
                and all(a.name == "annotations" and a.asname is None for a in node.names):
            return  # a compiler directive: annotations are kept as text, never evaluated
        if node.level or module not in ALLOWED_MODULES:
            self.refuse(node, f"from {module} import", "only numpy and math may be imported",
                        _import_fix(module))
            return
        for alias in node.names:
            self.visit_alias(alias)
            if module == "numpy" and alias.name == "linalg":
                self.linalg_aliases.add(alias.asname or "linalg")
            elif alias.name == "*":
                self.refuse(node, f"from {module} import *", "star imports hide names",
                            f"use `import {module}` and qualified names")
            elif module == "numpy" and alias.name in TYPE_ONLY:
                self.refuse(node, f"numpy.{alias.name}", "the raw array constructor can wrap "
                            "arbitrary buffers", "use np.array / np.zeros; write "
                            "isinstance(x, np.ndarray) for type checks")
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
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            store = isinstance(node.ctx, ast.Store)
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner in self.functions:
                self.refuse(node, f"{owner}.{attr} = ...", "a function attribute keeps state "
                            "between calls, so the reward would depend on history",
                            "compute the value from state, action and next_state on each call")
            else:
                self.refuse(node, f".{attr} = ..." if store else f"del .{attr}",
                            "assigning or deleting attributes mutates modules and inputs the "
                            "program does not own", "compute new values into local variables")
        if attr.startswith("_"):
            self.refuse(node, f".{attr}", "private and dunder attributes reach internals",
                        "use the public features of state/next_state and numpy functions")
        elif attr in FORBIDDEN_ATTRIBUTES:
            self.refuse(node, f".{attr}", "I/O, raw memory or write-enabling access",
                        "use pure array operations")
        elif isinstance(node.value, ast.Name) and node.value.id in self.numpy_aliases:
            if attr == "linalg":
                pass
            elif attr in TYPE_ONLY and id(node) not in self.type_checks:
                self.refuse(node, f"np.{attr}", "the raw array constructor can wrap arbitrary "
                            "buffers, so np.ndarray is allowed only as a type in isinstance",
                            "use np.array / np.zeros to build arrays; isinstance(x, np.ndarray) "
                            "to test them")
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


MUTATING_METHODS = frozenset(
    "append extend insert remove pop popitem clear update setdefault add discard sort reverse "
    "fill put itemset resize byteswap partition".split()
)
MODULE_CALLS = frozenset("float int tuple dict abs min max round len bool".split())


def _check_module_level(tree: ast.Module, checker: _Checker) -> None:
    """Top level: docstring, imports, constant assignments and function definitions only.

    A constant may be computed from literals, earlier constants and the vetted numpy/math
    functions (``HALF_PI = math.pi / 2``, ``W = np.array((1.0, 2.0))``, a dict of weights).
    Functions may read constants but not mutate them (``checker.module_names``).
    """
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
            continue
        if isinstance(stmt, ast.FunctionDef):
            names.add(stmt.name)
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        targets = (stmt.targets if isinstance(stmt, ast.Assign)
                   else [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
        if (targets and all(isinstance(t, ast.Name) for t in targets)
                and stmt.value is not None and not isinstance(stmt.value, ast.List)
                and _is_constant(stmt.value, names)):
            names.update(t.id for t in targets)
            checker.module_names.update(t.id for t in targets)
            if not _immutable_default(stmt.value, checker.mutable_names):
                checker.mutable_names.update(t.id for t in targets)
            continue
        hint = ("module-level lists and sets are mutable state; use a tuple" if isinstance(
            getattr(stmt, "value", None), (ast.List, ast.Set, ast.ListComp, ast.SetComp))
            else "move the code into a function")
        checker.refuse(stmt, type(stmt).__name__, "module level may hold only imports, "
                       "constants and function definitions", hint)


def _constant_value(node: ast.AST) -> object:
    """The value of a numeric constant expression (literals, unary minus, + - * **), else
    None; a power too large to compute safely is infinity."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _constant_value(node.operand)
        negate = isinstance(value, (int, float)) and isinstance(node.op, ast.USub)
        return -value if negate else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Pow)):
        left, right = _constant_value(node.left), _constant_value(node.right)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            return None
        try:
            if isinstance(node.op, ast.Pow):
                if abs(right) > MAX_EXPONENT or abs(left) > 2**64:
                    return float("inf")
                return float(left) ** right if abs(left) > 1 else left ** right
            if max(abs(left), abs(right)) > 2**256:
                return float("inf")
            return {ast.Add: left + right, ast.Sub: left - right,
                    ast.Mult: left * right}[type(node.op)]
        except (OverflowError, ZeroDivisionError, ValueError):
            return float("inf")
    return None


def _is_constant(node: ast.AST | None, names: frozenset[str] | set[str] = frozenset()) -> bool:
    """A constant expression: literals, tuples, dicts, arithmetic, earlier module names and
    calls of module functions (np.array, math.sqrt) or a few pure builtins over those."""
    def const(n: ast.AST | None) -> bool:
        return _is_constant(n, names)

    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute):
        return isinstance(node.ctx, ast.Load) and const(node.value)
    if isinstance(node, ast.Tuple):
        return all(const(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and const(k) for k in node.keys) and all(map(const, node.values))
    if isinstance(node, ast.UnaryOp):
        return const(node.operand)
    if isinstance(node, ast.BinOp):
        return const(node.left) and const(node.right)
    if isinstance(node, ast.BoolOp):
        return all(map(const, node.values))
    if isinstance(node, ast.Compare):
        return const(node.left) and all(map(const, node.comparators))
    if isinstance(node, ast.IfExp):
        return const(node.test) and const(node.body) and const(node.orelse)
    if isinstance(node, ast.Subscript):
        return const(node.value) and const(node.slice)
    if isinstance(node, ast.List):  # only as a call argument (np.array([...]))
        return all(const(e) for e in node.elts)
    if isinstance(node, ast.Call):
        func = node.func
        callable_ = (isinstance(func, ast.Attribute) and const(func.value)) or (
            isinstance(func, ast.Name) and func.id in MODULE_CALLS)
        return callable_ and all(map(const, node.args)) and all(
            k.arg is not None and const(k.value) for k in node.keywords)
    return False


IMMUTABLE_CALLS = frozenset("float int bool tuple abs round min max str frozenset".split())
TYPING_MODULES = ("typing", "numpy.typing", "typing_extensions", "collections.abc")


def _immutable_default(node: ast.AST, mutable_names: set[str]) -> bool:
    """Numbers, strings, None, tuples of those, arithmetic on them, math functions and a few
    builtins over them, and names of module constants that are not dicts or arrays."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id not in mutable_names
    if isinstance(node, ast.Tuple):
        return all(_immutable_default(e, mutable_names) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _immutable_default(node.operand, mutable_names)
    if isinstance(node, ast.BinOp):
        return all(_immutable_default(n, mutable_names) for n in (node.left, node.right))
    if isinstance(node, ast.Attribute):  # math.pi, np.pi
        return (isinstance(node.value, ast.Name) and node.value.id in ("math", "np", "numpy")
                and node.attr in ("pi", "e", "inf", "nan", "tau"))
    if isinstance(node, ast.Call):
        func = node.func
        pure = (isinstance(func, ast.Name) and func.id in IMMUTABLE_CALLS) or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "math")
        return pure and all(_immutable_default(a, mutable_names) for a in node.args)
    return False


VIEW_FUNCTIONS = frozenset("asarray reshape ravel squeeze transpose atleast_1d".split())


def _aliases_of(fn: ast.FunctionDef, shared: set[str]) -> set[str]:
    """Locals of ``fn`` bound to module-level state itself or a view of it (``w = W``,
    ``w = W[:2]``, ``w = np.asarray(W)``), whose mutation would change that state."""
    aliases: set[str] = set()

    def refers(value: ast.AST) -> bool:
        if isinstance(value, ast.Name):
            return value.id in shared or value.id in aliases
        if isinstance(value, ast.Subscript):
            return refers(value.value)
        if isinstance(value, ast.Attribute) and value.attr == "T":
            return refers(value.value)
        if isinstance(value, ast.Call) and value.args and isinstance(value.func, ast.Attribute):
            if value.func.attr in VIEW_FUNCTIONS:
                return refers(value.args[0]) or refers(value.func.value)
        return False

    for _ in range(2):  # aliases of aliases
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and refers(node.value):
                aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.For) and refers(node.iter) and isinstance(node.target,
                                                                               ast.Name):
                aliases.add(node.target.id)
    return aliases


def _import_fix(module: str) -> str:
    """What to do instead of importing ``module``."""
    if module.split(".")[0] == "torch":
        return ("torch is not available: the state is numpy arrays; write np.X for torch.X "
                "(np.exp, np.clip, np.linalg.norm(x, axis=-1) for torch.norm(x, dim=-1)), "
                "remove @torch.jit.script and the torch type annotations")
    if module in TYPING_MODULES:
        return ("typing names may appear only in annotations; this program uses them in "
                "code too: write plain code without them")
    if module == "__future__":
        return "only `from __future__ import annotations` is allowed"
    return "compute everything from state, action and next_state with numpy (`import numpy as np`)"


REDUCTIONS = frozenset("sum mean max min prod std var norm any all median amax amin ptp "
                       "count_nonzero float int len".split())


def _check_batches(tree: ast.Module, checker: _Checker) -> None:
    """Code that treats a batch as one env, found before it runs: ``math.cos`` of a feature,
    ``next_state[:, 2]``, and ``action[0]`` or ``next_state.x[0]`` (the first env only)."""
    defs = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == ENTRY_POINT]
    if not defs:
        return
    fn = defs[-1]
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args][:3]
    if len(params) != 3 or any(isinstance(n, ast.Name) and n.id in params
                               and not isinstance(n.ctx, ast.Load) for n in ast.walk(fn)):
        return
    state_names, action = {params[0], params[2]}, params[1]
    batch = _batch_names(fn, set(params))
    for node in ast.walk(fn):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            _check_batch_subscript(node, state_names, action, checker)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "math"
              and any(_reads(a, batch) for a in node.args)):
            name = node.func.attr
            checker.refuse(node, f"math.{name} on a batch", f"math.{name} takes one number, "
                           "but features and actions are arrays with one row per env",
                           f"use np.{name} (or the numpy equivalent), which works element-wise")


def _check_batch_subscript(node: ast.Subscript, state_names: set[str], action: str,
                           checker: _Checker) -> None:
    value, index = node.value, node.slice
    if isinstance(value, ast.Name) and value.id in state_names and not (
            isinstance(index, ast.Constant) and isinstance(index.value, str)):
        checker.refuse(node, f"{value.id}[...]", f"{value.id} is a view with one attribute per "
                       "named feature, not an array", f"use {value.id}.<feature> (see the "
                       f"feature list) or {value.id}.obs[:, i] for raw observation column i")
        return
    first = isinstance(index, ast.Constant) and isinstance(index.value, int) or (
        isinstance(index, ast.UnaryOp) and isinstance(index.operand, ast.Constant))
    is_action = isinstance(value, ast.Name) and value.id == action
    is_feature = (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                  and value.value.id in state_names)
    if first and (is_action or is_feature):
        text = ast.unparse(node)
        whole = ast.unparse(value)
        checker.refuse(node, text, f"the first axis of {whole} is the batch of envs, so {text} "
                       "is one env's value, not a per-env column",
                       f"index the last axis: {whole}[:, {ast.unparse(index)}] (or "
                       f"{whole}[..., {ast.unparse(index)}])")


def _batch_names(fn: ast.FunctionDef, params: set[str]) -> set[str]:
    """Locals holding per-env arrays: the parameters and what is computed from them, except
    through reductions over the whole batch (np.sum(x), x.mean(), float(x), len(x))."""
    names = set(params)
    for _ in range(4):
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and _reads(node.value, names):
                names |= {n.id for t in node.targets for n in ast.walk(t)
                          if isinstance(n, ast.Name)}
    return names


def _reads(node: ast.AST, names: set[str]) -> bool:
    """``node`` reads a per-env array (not only through a whole-batch reduction)."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in REDUCTIONS and not any(k.arg in ("axis", "keepdims") for k in node.keywords):
            return False
        if isinstance(func, ast.Attribute) and _reads(func.value, names):
            return True
        return any(_reads(a, names) for a in [*node.args, *(k.value for k in node.keywords)])
    if isinstance(node, ast.Subscript):
        return _reads(node.value, names)
    return any(_reads(child, names) for child in ast.iter_child_nodes(node))


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


def _check_success_entry(tree: ast.Module, checker: _Checker) -> None:
    """A success file: ``def score(episode)`` and a numeric ``THRESHOLD`` at module level."""
    defs = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "score"]
    if not defs:
        checker.refuse(tree, "score", "the success file defines no score",
                       f"define {SUCCESS_CONTRACT} at module level")
    elif len(defs[-1].args.posonlyargs + defs[-1].args.args) != 1:
        checker.refuse(defs[-1], "score signature", "score takes one argument, the episode",
                       f"use exactly {SUCCESS_CONTRACT}")
    values = [s.value for s in tree.body if isinstance(s, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "THRESHOLD" for t in s.targets)]
    if not values:
        checker.refuse(tree, "THRESHOLD", "the success file sets no THRESHOLD",
                       "set THRESHOLD = <the score an episode needs to count as a success>")
    elif not _is_number(values[-1]):
        checker.refuse(values[-1], "THRESHOLD", "THRESHOLD must be a number written out",
                       "set THRESHOLD to a literal number, e.g. THRESHOLD = 100.0")


def _is_number(node: ast.AST) -> bool:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_success_source(source: str, filename: str = "<success>") -> list[Finding]:
    """The static findings for a proposed success file: the reward programs' allow-list, with
    ``score(episode)`` and ``THRESHOLD`` in place of the reward contract."""
    return check_source(source, filename, _check_success_entry)


def check_source(source: str, filename: str = "<reward>", entry=None) -> list[Finding]:
    """Return the static findings for ``source``; an empty list means accepted. ``entry``
    replaces the reward contract's checks (see check_success_source)."""
    if len(source) > MAX_SOURCE_CHARS:
        return [Finding(0, "program size", f"{len(source)} characters is more than the "
                        f"{MAX_SOURCE_CHARS} allowed", "write a shorter program")]
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [Finding(exc.lineno or 0, "syntax", exc.msg, "fix the Python syntax")]
    except (RecursionError, MemoryError):
        return [Finding(0, "nesting", "expressions are nested too deeply to parse",
                        "split deep expressions into named intermediate values")]
    checker = _Checker()
    checker.lazy_annotations = any(
        isinstance(s, ast.ImportFrom) and s.module == "__future__" for s in tree.body)
    checker.functions = {s.name for s in tree.body if isinstance(s, ast.FunctionDef)}
    try:
        _check_module_level(tree, checker)
        if entry is None:
            _check_entry_point(tree, checker)
            _check_batches(tree, checker)
        else:
            entry(tree, checker)
        # Imports first, so aliases are known before attributes are checked.
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                checker.visit(stmt)
        for stmt in tree.body:
            if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                checker.visit(stmt)
    except RecursionError:
        return [Finding(0, "nesting", "expressions are nested too deeply to check",
                        "split deep expressions into named intermediate values")]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.decorator_list and node.name != ENTRY_POINT:
            checker.refuse(node, "decorator", "decorators are not allowed", "remove it")
    return sorted(set(checker.findings), key=lambda f: (f.line, f.construct))
