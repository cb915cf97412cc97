"""The static owner scan: which owners a DAG file sets, read from its syntax tree without running it,
and the upload owner rule built on it (:func:`owner_verdict`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hopsworks_ui_plugin import access
from hopsworks_ui_plugin.version_compat import conf_get

if TYPE_CHECKING:
    from hopsworks_ui_plugin.dag_files.validation import CheckedSource


@dataclass(frozen=True)
class OwnerScan:
    """Owners found statically: literal owners (with the line of their first use), the places
    where an owner is set by an expression that cannot be read without running the file, and
    whether the file constructs a DAG at all (``DAG(...)``, ``@dag``)."""

    owners: dict[str, int] = field(default_factory=dict)
    undetermined: tuple[str, ...] = ()
    defines_dag: bool = False

    @property
    def determined(self) -> bool:
        return not self.undetermined


class _OwnerScanner:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.owners: dict[str, int] = {}
        self.undetermined: list[str] = []
        self.defines_dag = False
        # Every value bound to a simple name anywhere (module, functions): constants and dicts.
        self.bindings: dict[str, list[ast.expr]] = {}
        self.rebound: set[str] = set()  # names also bound by for/with/import/augassign/...: unknown
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.AugAssign | ast.For | ast.comprehension | ast.withitem | ast.NamedExpr):
                bound: ast.AST | None = getattr(node, "target", None) or getattr(node, "optional_vars", None)
                for name in self._names(bound):
                    self.rebound.add(name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    self.rebound.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.arg):  # function parameters: any value
                self.rebound.add(node.arg)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.rebound.add(node.name)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.rebound.add(node.name)

    @staticmethod
    def _names(target: ast.AST | None) -> list[str]:
        if target is None:
            return []
        return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bindings.setdefault(target.id, []).append(value)
        else:
            for name in self._names(target):
                if not (isinstance(target, ast.Subscript | ast.Attribute)):
                    self.rebound.add(name)

    def _unknown(self, node: ast.AST, what: str) -> None:
        text = ast.unparse(node) if isinstance(node, ast.expr) else what
        if len(text) > 60:
            text = text[:57] + "..."
        self.undetermined.append(f"line {getattr(node, 'lineno', '?')}: {what} {text}".rstrip())

    def _literal_owner(self, value: str, node: ast.AST) -> None:
        self.owners.setdefault(value, getattr(node, "lineno", 0))

    def owner_value(self, expr: ast.expr, seen: frozenset[str] = frozenset()) -> None:
        """Record the owner(s) an expression evaluates to, or mark it undetermined."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self._literal_owner(expr.value, expr)
        elif isinstance(expr, ast.IfExp):
            self.owner_value(expr.body, seen)
            self.owner_value(expr.orelse, seen)
        elif isinstance(expr, ast.Name) and expr.id not in seen and expr.id not in self.rebound:
            values = self.bindings.get(expr.id)
            if not values:
                self._unknown(expr, "owner =")
                return
            for value in values:
                self.owner_value(value, seen | {expr.id})
        else:
            self._unknown(expr, "owner =")

    def default_args(self, expr: ast.expr, seen: frozenset[str] = frozenset()) -> None:
        """Owners set through a ``default_args`` mapping."""
        if isinstance(expr, ast.Dict):
            for key, value in zip(expr.keys, expr.values, strict=True):
                if key is None:  # {**base, ...}
                    self.default_args(value, seen)
                elif isinstance(key, ast.Constant) and key.value == "owner":
                    self.owner_value(value, seen)
                elif not isinstance(key, ast.Constant):
                    self._unknown(key, "default_args key")
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict":
            for arg in expr.args:
                self.default_args(arg, seen)
            for kw in expr.keywords:
                if kw.arg is None:
                    self.default_args(kw.value, seen)
                # owner=... keywords are read by the generic keyword rule.
        elif isinstance(expr, ast.Name) and expr.id not in seen and expr.id not in self.rebound:
            values = self.bindings.get(expr.id)
            if not values:
                self._unknown(expr, "default_args =")
                return
            for value in values:
                self.default_args(value, seen | {expr.id})
        elif isinstance(expr, ast.Constant) and expr.value is None:
            return
        else:
            self._unknown(expr, "default_args =")

    def splat(self, expr: ast.expr, seen: frozenset[str] = frozenset()) -> None:
        """``f(**kwargs)``: owner/default_args hidden in a keyword mapping."""
        if isinstance(expr, ast.Dict):
            for key, value in zip(expr.keys, expr.values, strict=True):
                if key is None:
                    self.splat(value, seen)
                elif isinstance(key, ast.Constant) and key.value == "owner":
                    self.owner_value(value, seen)
                elif isinstance(key, ast.Constant) and key.value == "default_args":
                    self.default_args(value, seen)
                elif not isinstance(key, ast.Constant):
                    self._unknown(key, "keyword argument")
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict":
            for arg in expr.args:
                self.splat(arg, seen)
            for kw in expr.keywords:
                if kw.arg is None:
                    self.splat(kw.value, seen)
                elif kw.arg == "default_args":
                    self.default_args(kw.value, seen)
        elif isinstance(expr, ast.Name) and expr.id not in seen and expr.id not in self.rebound:
            values = self.bindings.get(expr.id)
            if not values:
                self._unknown(expr, "**")
                return
            for value in values:
                self.splat(value, seen | {expr.id})
        else:
            self._unknown(expr, "**")

    def scan(self) -> OwnerScan:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                func = node.func
                fname = ""
                if isinstance(func, ast.Name):
                    fname = func.id
                elif isinstance(func, ast.Attribute):
                    fname = func.attr
                if fname in {"DAG", "dag"}:
                    self.defines_dag = True
                for kw in node.keywords:
                    if kw.arg == "owner":
                        self.owner_value(kw.value)
                    elif kw.arg == "default_args":
                        self.default_args(kw.value)
                    elif kw.arg is None and fname not in {"dict", "format", "update"}:
                        self.splat(kw.value)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    # default_args["owner"] = ... / anything["owner"] = ...
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.slice, ast.Constant)
                        and target.slice.value == "owner"
                    ):
                        self.owner_value(node.value)
                    elif isinstance(target, ast.Attribute) and target.attr in {"owner", "default_args"}:
                        if target.attr == "owner":
                            self.owner_value(node.value)
                        else:
                            self.default_args(node.value)
            elif isinstance(node, ast.Name) and node.id == "DAG" and isinstance(node.ctx, ast.Load):
                self.defines_dag = True
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    if (isinstance(deco, ast.Name) and deco.id == "dag") or (
                        isinstance(deco, ast.Attribute) and deco.attr == "dag"
                    ):
                        self.defines_dag = True
        return OwnerScan(dict(self.owners), tuple(dict.fromkeys(self.undetermined)), self.defines_dag)


def scan_owners(tree: ast.Module) -> OwnerScan:
    """Read the DAG owners of a parsed file statically: ``default_args={"owner": ...}`` (dict
    literal, ``dict(owner=...)``, a name bound to one, ``**`` merges), ``owner=...`` on any call
    (operators, ``@task``), ``x["owner"] = ...``, and names bound to string literals (the Hopsworks
    template's ``DAG_OWNER = 'alice'`` … ``'owner': DAG_OWNER``)."""
    return _OwnerScanner(tree).scan()


def default_owner() -> str:
    """The owner Airflow gives tasks that set none (``[operators] default_owner``)."""
    return str(conf_get("operators", "default_owner", "airflow") or "airflow")


def owner_verdict(checked: CheckedSource, username: str, admin: bool) -> tuple[str | None, list[str]]:
    """``(refusal, warnings)`` for the owner rule: a non-admin may only upload DAGs whose owner is
    their own (Hopsworks = Airflow) username, compared by the one owner rule
    (:func:`hopsworks_ui_plugin.access.owns_dag`), the rule My DAGs and the auth manager apply later."""
    scan = checked.owners
    warnings: list[str] = []
    others = {o: line for o, line in scan.owners.items() if not access.owns_dag(o, username)}
    if scan.undetermined:
        warnings.append(
            f"The owner of {checked.name} could not be read without running it "
            f"({'; '.join(scan.undetermined[:3])}). It must be your Hopsworks username '{username}', "
            "or Hopsworks will refuse to run its tasks."
        )
    if not scan.owners and not scan.undetermined and scan.defines_dag:
        fallback = default_owner()
        if not access.owns_dag(fallback, username):
            message = (
                f"{checked.name} sets no owner, so Airflow would use its default owner '{fallback}'. "
                f"Set default_args={{'owner': '{username}'}} (your Hopsworks username)."
            )
            if not admin:
                return message, warnings
            warnings.append(message)
    if others:
        listed = ", ".join(f"'{o}' (line {line})" for o, line in sorted(others.items(), key=lambda x: x[1]))
        if not admin:
            return (
                f"{checked.name} sets owner {listed}, but you may only upload DAGs owned by your own "
                f"Hopsworks username '{username}'.",
                warnings,
            )
        warnings.append(f"{checked.name} is owned by {listed} (allowed: you are an admin).")
    return None, warnings

