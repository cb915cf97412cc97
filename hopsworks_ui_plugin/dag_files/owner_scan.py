"""The static owner scan: which owners a DAG file sets, read from its syntax tree without running it,
and the upload owner rule built on it (:func:`owner_verdict`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
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
                if fname in {"setattr", "__setattr__"} and len(node.args) >= 3:
                    # setattr(task, "owner", ...), object.__setattr__(task, "owner", ...)
                    attr = node.args[1]
                    if isinstance(attr, ast.Constant) and attr.value == "owner":
                        self.owner_value(node.args[2])
                    elif isinstance(attr, ast.Constant) and attr.value == "default_args":
                        self.default_args(node.args[2])
                    elif not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                        self._unknown(node, "attribute set by")
                elif fname in DYNAMIC_CALLS:
                    self._unknown(node, "owner may be set by")
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


#: Calls that run code or reach names the scan cannot follow (``exec('OWNER = ...')``, ``globals()[...]``).
DYNAMIC_CALLS = frozenset({
    "exec", "eval", "compile", "__import__", "import_module", "globals", "vars", "locals", "exec_module",
    "load_module", "run_path", "run_module",
})
#: Attributes that decide which DAG (id) a file defines and where Airflow records it.
_IDENTITY_ATTRS = frozenset({"dag_id", "fileloc", "relative_fileloc", "__file__", "__dict__", "__class__"})
#: Module paths that export the ``DAG`` class and the ``dag`` decorator.
_AIRFLOW_DAG_MODULES = frozenset({
    "airflow", "airflow.models", "airflow.models.dag", "airflow.sdk", "airflow.sdk.definitions.dag",
    "airflow.decorators", "airflow.sdk.definitions.decorators",
})


@dataclass(frozen=True)
class DagIdScan:
    """DAG ids found statically: literal ids (with the line that defines them), and the places where
    a DAG id cannot be read without running the file (``DAG(f"...")``, ``DAG(**kw)``, ``X = DAG``,
    ``exec``, an import from the DAGs folder, ``__file__ = ...`` ...)."""

    dag_ids: dict[str, int] = field(default_factory=dict)
    undetermined: tuple[str, ...] = ()

    @property
    def determined(self) -> bool:
        return not self.undetermined


class _DagIdScanner:
    def __init__(self, tree: ast.Module, dags_root: Path | None) -> None:
        self.tree = tree
        self.dags_root = dags_root
        self.ids: dict[str, int] = {}
        self.undetermined: list[str] = []
        self.classes: set[str] = set()  # names bound to airflow's DAG class
        self.decorators: set[str] = set()  # names bound to airflow's dag decorator
        self.used: set[int] = set()  # id() of the expressions read as a DAG construction

    def _unknown(self, node: ast.AST, what: str) -> None:
        text = ast.unparse(node) if isinstance(node, ast.expr | ast.stmt) else ""
        text = text.splitlines()[0] if text else ""
        if len(text) > 60:
            text = text[:57] + "..."
        self.undetermined.append(f"line {getattr(node, 'lineno', '?')}: {what} {text}".rstrip())

    def _imports(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    self._unknown(node, "relative import (DAGs it brings cannot be read):")
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        if module in _AIRFLOW_DAG_MODULES:
                            self.classes.add("DAG")
                            self.decorators.add("dag")
                        else:
                            self._unknown(node, "star import (it may bring DAG objects):")
                    # ``DAG``/``dag`` from any module: airflow's, or a re-export (a compat module)
                    elif alias.name == "DAG":
                        self.classes.add(alias.asname or alias.name)
                    elif alias.name == "dag":
                        self.decorators.add(alias.asname or alias.name)
                self._dags_folder_import(node, module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self._dags_folder_import(node, alias.name)

    def _dags_folder_import(self, node: ast.stmt, module: str) -> None:
        top = module.split(".")[0]
        root = self.dags_root
        if top and root is not None and ((root / top).is_dir() or (root / f"{top}.py").is_file()):
            self._unknown(node, "import from the DAGs folder (DAGs it brings cannot be read):")

    def _is_class(self, expr: ast.expr) -> bool:
        return (isinstance(expr, ast.Name) and expr.id in self.classes) or (
            isinstance(expr, ast.Attribute) and expr.attr == "DAG")

    def _is_decorator(self, expr: ast.expr) -> bool:
        return (isinstance(expr, ast.Name) and expr.id in self.decorators) or (
            isinstance(expr, ast.Attribute) and expr.attr == "dag")

    def _literal(self, expr: ast.expr | None, node: ast.AST, what: str) -> None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self.ids.setdefault(expr.value, getattr(node, "lineno", 0))
        else:
            self._unknown(node, what)

    def _construction(self, call: ast.Call) -> None:
        """``DAG("x")``, ``DAG(dag_id="x")``: the id, or undetermined."""
        self.used.add(id(call.func))
        given = [kw.value for kw in call.keywords if kw.arg == "dag_id"]
        if given:
            self._literal(given[0], call, "dag_id is not a literal string:")
        elif call.args and not isinstance(call.args[0], ast.Starred):
            self._literal(call.args[0], call, "dag_id is not a literal string:")
        else:
            self._unknown(call, "dag_id cannot be read:")

    def _decorated(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, deco: ast.expr) -> None:
        """``@dag`` (the function's name), ``@dag(dag_id="x")``."""
        if isinstance(deco, ast.Call):
            self.used.add(id(deco.func))
            given = [kw.value for kw in deco.keywords if kw.arg == "dag_id"]
            if given:
                self._literal(given[0], deco, "dag_id is not a literal string:")
            elif any(kw.arg is None for kw in deco.keywords) or deco.args:
                self._unknown(deco, "dag_id cannot be read:")
            else:
                self.ids.setdefault(fn.name, fn.lineno)
        else:
            self.used.add(id(deco))
            self.ids.setdefault(fn.name, fn.lineno)

    def scan(self) -> DagIdScan:
        self._imports()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    if self._is_decorator(target):
                        self._decorated(node, deco)
            elif isinstance(node, ast.Call):
                if self._is_class(node.func):
                    self._construction(node)
                else:
                    fname = node.func.id if isinstance(node.func, ast.Name) else (
                        node.func.attr if isinstance(node.func, ast.Attribute) else "")
                    if fname in DYNAMIC_CALLS:
                        self._unknown(node, "dynamic code:")
                    elif fname in {"setattr", "__setattr__", "getattr"} and len(node.args) >= 2:
                        attr = node.args[1]
                        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)) or (
                                attr.value in _IDENTITY_ATTRS | {"DAG", "dag"}):
                            self._unknown(node, "attribute by name:")
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if (isinstance(sub, ast.Name) and sub.id in _IDENTITY_ATTRS) or (
                                isinstance(sub, ast.Attribute) and sub.attr in _IDENTITY_ATTRS
                                and isinstance(sub.ctx, ast.Store)):
                            self._unknown(node, "changes where or under which id Airflow records a DAG:")
        for node in ast.walk(self.tree):  # DAG / dag used other than as a direct call or decorator
            if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and (
                    node.id in self.classes or node.id in self.decorators)) or (
                    isinstance(node, ast.Attribute) and node.attr == "DAG" and isinstance(node.ctx, ast.Load)):
                if id(node) not in self.used:
                    self._unknown(node, "DAG class or decorator used indirectly:")
        return DagIdScan(dict(self.ids), tuple(dict.fromkeys(self.undetermined)))


def scan_dag_ids(tree: ast.Module, dags_root: Path | None = None) -> DagIdScan:
    """Read the DAG ids a parsed file defines statically: ``DAG("x")``, ``DAG(dag_id="x")``,
    ``with DAG(...)``, ``@dag`` (the function's name) and ``@dag(dag_id="x")``, with ``DAG``/``dag``
    imported from airflow under any name (``from airflow.sdk import DAG as D``) or reached as
    ``airflow.DAG``/``models.DAG``. Anything else is undetermined: a non-literal id, ``DAG`` used
    indirectly (``X = DAG``, a subclass), dynamic code, imports from the DAGs folder (``dags_root``),
    assignments to ``__file__``/``fileloc``/``dag_id``."""
    return _DagIdScanner(tree, dags_root).scan()


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
    # An owner that cannot be read statically is refused by :func:`static_problems` (admins may override).
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



def static_problems(checked: CheckedSource) -> list[str]:
    """Why the file's owner or DAG ids cannot be read without running it; empty when they can.

    Uploads fail closed on these: refused for non-admins, an admin may override them explicitly."""
    problems = []
    if checked.owners.undetermined:
        problems.append(
            f"The owner of {checked.name} cannot be read without running it "
            f"({'; '.join(checked.owners.undetermined[:3])}). Set it as a literal string: "
            "default_args={'owner': '<your Hopsworks username>'}."
        )
    dag_ids = checked.dag_ids
    if dag_ids.undetermined:
        problems.append(
            f"The DAG id of {checked.name} cannot be read without running it "
            f"({'; '.join(dag_ids.undetermined[:3])}). Define each DAG with a literal id: DAG('my_dag', ...), "
            "DAG(dag_id='my_dag', ...) or @dag(dag_id='my_dag'), with DAG/dag imported from airflow."
        )
    return problems
