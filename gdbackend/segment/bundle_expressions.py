"""The simple Python expressions of MONAI bundle configs ("$..."), evaluated without running bundle code.

A zoo config computes settings with expressions such as `$len(@spatial_size)`,
`$[1.5, 1.5, 1.5] if @displayable_configs#highres else [3.0, 3.0, 3.0]`, `$@preprocessing_transforms + [...]`,
`$torch.float32`, merges labels with `$lambda x: torch.where(x[[2]] > 0, 4, ...)`, or builds a detector's backbone
with `$monai.networks.nets.resnet.resnet50(spatial_dims=3, ...)`. MONAI evaluates them with `eval`, which runs
anything; here an expression is parsed, every node of its syntax tree is checked against a short list (literals,
arithmetic, comparisons, conditionals, list building, lambdas, a few functions, torch/numpy names, MONAI's
component classes and network builders), and only then evaluated, with no builtins but those functions.
Anything else (imports, attribute access on objects, method calls, file access) is refused: such a bundle runs
only once trusted.
"""
from __future__ import annotations

import ast
import functools
import inspect
import pydoc
import re
from collections.abc import Callable

import numpy as np
import torch

from ..errors import ModelError

REF = re.compile(r"@(\w*(?:(?:#|::)\w*)*)")  # MONAI's references: @id, @id#key#0 (MONAI 1.6 writes @id::key::0)
SEPARATOR = re.compile(r"#|::")
FUNCTIONS = {f.__name__: f for f in (len, int, float, bool, str, min, max, abs, round, sum, list, tuple, range,
                                     zip, sorted, dict, enumerate)}
ATTRIBUTES = {"torch.where": torch.where, "torch.device": torch.device, "torch.cuda.is_available":
              torch.cuda.is_available, "torch.logical_or": torch.logical_or, "torch.logical_and": torch.logical_and}
NODES = (ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Name, ast.Load, ast.Store, ast.BinOp,
         ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Subscript, ast.Slice,
         ast.Lambda, ast.arguments, ast.arg, ast.ListComp, ast.comprehension, ast.operator, ast.unaryop,
         ast.boolop, ast.cmpop)
# the MONAI classes a config may build (`_target_` or an expression): transforms, inferers, networks, detectors
COMPONENT_MODULES = ("monai.transforms.", "monai.inferers.", "monai.networks.", "monai.apps.detection.")
# MONAI functions that only build a network (the zoo's detection backbones), as "module.function"
BUILDERS = (*(f"monai.networks.nets.resnet.resnet{d}" for d in (10, 18, 34, 50, 101, 152, 200)),
            "monai.apps.detection.networks.retinanet_network.resnet_fpn_feature_extractor")


class Untrusted(ModelError):
    """An expression (or component) that needs the bundle's own code: allowed only for a trusted bundle."""


def dotted(node: ast.AST) -> str | None:
    """"torch.cuda.is_available" for that attribute chain; None for anything that is not names and dots."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def is_component(found) -> bool:
    """Whether `found` is a class a config that is not trusted may build (one of COMPONENT_MODULES')."""
    return inspect.isclass(found) and found.__module__.startswith(COMPONENT_MODULES)


def _builder(name: str):
    """The MONAI component class or network builder (BUILDERS) of a dotted name, else None; either is refused
    pretrained weights, which it would download or unpickle."""
    found = pydoc.locate(name) if name.startswith("monai.") else None
    if not (is_component(found) or callable(found) and f"{found.__module__}.{found.__name__}" in BUILDERS):
        return None

    @functools.wraps(found)
    def without_pretrained(*args, **kwargs):
        if inspect.signature(found).bind_partial(*args, **kwargs).arguments.get("pretrained"):
            raise ModelError(f"The bundle builds {name} with pretrained weights, which would be downloaded or "
                             "unpickled: GDImaging loads the bundle's own models/model.pt instead.")
        return found(*args, **kwargs)
    return without_pretrained


def _attribute(name: str):
    """The value of an allowed dotted name: a function of ATTRIBUTES, a dtype such as torch.float32, a MONAI
    component class or network builder."""
    if name in ATTRIBUTES:
        return ATTRIBUTES[name]
    if (built := _builder(name)) is not None:
        return built
    if name.startswith(("monai.utils.CommonKeys.", "monai.utils.enums.CommonKeys.")):  # "image", "label", "pred"
        from monai.utils import CommonKeys
        found = getattr(CommonKeys, name.rsplit(".", 1)[1], None)
        return found if isinstance(found, str) else None
    module, _, attr = name.partition(".")
    found = getattr({"torch": torch, "np": np, "numpy": np}.get(module), attr, None) if attr.isidentifier() else None
    if isinstance(found, torch.dtype) or (isinstance(found, type) and issubclass(found, np.generic)):
        return found
    return None


class _Checker(ast.NodeVisitor):
    """Raises on the first node outside the allowed list; collects the torch/numpy names used."""

    def __init__(self, names: set[str]) -> None:
        self.names, self.used = set(names), {}

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, NODES):
            raise ValueError(type(node).__name__)
        if isinstance(node, (ast.Lambda, ast.ListComp)):  # their variables become known names
            self.names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            self.names |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        super().generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = dotted(node)
        value = _attribute(name) if name else None
        if value is None:
            raise ValueError(f"attribute {name or node.attr}")
        self.used[name] = value

    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in self.names and node.id not in FUNCTIONS:
            raise ValueError(f"name {node.id}")


def evaluate(expression: str, resolve: Callable[[str], object], where: str):
    """The value of a "$..." config expression; `resolve(id)` gives the data of a referenced "@id".

    Raises:
        Untrusted: the expression uses anything outside the allowed list (it would run code).
    """
    refs: dict[str, str] = {}
    code = REF.sub(lambda m: refs.setdefault(m.group(1), f"_ref{len(refs)}"), expression[1:])
    try:
        tree = ast.parse(code.strip(), mode="eval")
        checker = _Checker(set(refs.values()))
        checker.visit(tree)
    except (SyntaxError, ValueError) as e:
        raise Untrusted(f"The bundle's {where} is the expression {expression[:80]!r}, which runs code ({e}): "
                        "GDImaging evaluates only simple expressions") from None
    names = {dotted_name: f"_attr{k}" for k, dotted_name in enumerate(checker.used)}
    scope = {**FUNCTIONS, **{name: resolve(ref) for ref, name in refs.items()},
             **{names[n]: value for n, value in checker.used.items()}}
    rewritten = _Rewriter(names).visit(tree)
    try:
        return eval(compile(ast.fix_missing_locations(rewritten), where, "eval"), {"__builtins__": {}, **scope})
    except Exception as e:  # a wrong type or index in the bundle's own expression
        raise ModelError(f"The bundle's {where} ({expression[:80]!r}) fails: {type(e).__name__}: {e}.") from None


class _Rewriter(ast.NodeTransformer):
    """Allowed torch/numpy names become plain variables, so the evaluation sees no module at all."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        return ast.copy_location(ast.Name(self.names[dotted(node)], ast.Load()), node)


def where_chain(expression: str) -> dict[int, int] | None:
    """{label value: output channel} of a label-merging lambda such as BraTS'
    `lambda x: torch.where(x[[2]] > 0, 4, torch.where(x[[0]] > 0, 1, ...))`; None for any other expression."""
    try:
        node = ast.parse(expression.lstrip("$").strip(), mode="eval").body
    except SyntaxError:
        return None
    node = node.body if isinstance(node, ast.Lambda) else None
    found: dict[int, int] = {}
    while isinstance(node, ast.Call) and dotted(node.func) == "torch.where" and len(node.args) == 3:
        test, value, node = node.args
        index = test.left.slice if isinstance(test, ast.Compare) and isinstance(test.left, ast.Subscript) else None
        index = index.elts[0] if isinstance(index, ast.List) and len(index.elts) == 1 else index
        if not (isinstance(index, ast.Constant) and isinstance(value, ast.Constant)):
            return None
        found[int(value.value)] = int(index.value)
    return found if found and isinstance(node, ast.Constant) else None
