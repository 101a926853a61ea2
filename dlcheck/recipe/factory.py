"""Resolve ``module:callable`` factory paths from a recipe, with errors that name the recipe key.

A recipe's ``model.factory`` or ``data.factory`` names the user's own code. The module is looked up in
the recipe's folder first, then on ``sys.path``; the folder is put on the path only for the import and
the path is restored afterwards (pytorch-lr-finder's habit: restore whatever state you touch). Every
failure - a malformed path, a missing module, an exception inside the module, a missing attribute, a
non-callable, arguments that do not fit the signature - becomes one :class:`RecipeError` naming the key,
the value and the fix, never a bare traceback (Lightning #11608, Hydra #2099 in research A6).

A factory runs the user's code, exactly like Hydra's ``_target_``: a recipe with factories is code and is
trusted like code. As Hydra does (its instantiate block list, hydra #3259/#3409), targets whose only use in
a recipe would be to run commands, load code, unpickle, change files or reach the network (``os:system``,
``subprocess:run``, ``builtins:eval``, ``runpy:run_path``, ``shutil:rmtree``, ...) are refused by default:
the whole standard library, which holds no model or data function, and a list of loaders and writers
elsewhere (:data:`BLOCKED_TARGETS`). They are refused by name before anything is imported, and by identity
once resolved, so ``torch:os.system`` or a module that re-exports ``os.system`` is refused too. The person
running dlcheck, never the recipe, opts in with the environment variable :data:`ALLOW_VARIABLE`. This is a
guard against the obvious, not a sandbox: the user's own module can do anything when it is imported.

Examples
--------
>>> import pathlib
>>> resolve_factory("torch.nn:Linear", directory=pathlib.Path("."), key="model.factory", args={"in_features": 2,
...                 "out_features": 1})
<class 'torch.nn.modules.linear.Linear'>
"""

from __future__ import annotations

__all__ = [
    "ALLOW_VARIABLE",
    "BLOCKED_TARGETS",
    "blocked_target",
    "check_factory_name",
    "resolve_factory",
    "split_factory_spec",
]

import functools
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe._text import did_you_mean, short_value

_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*):(?P<attribute>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")


ALLOW_VARIABLE = "DLCHECK_ALLOW_FACTORIES"
"""Comma-separated targets allowed despite :data:`BLOCKED_TARGETS` (``os:system,subprocess``); ``*`` allows all."""

BLOCKED_TARGETS: frozenset[str] = frozenset(
    {
        # unpickle or load code (a pickle runs whatever its author wrote)
        *("torch.load", "torch.serialization", "torch.hub", "torch.package", "torch.utils.cpp_extension"),
        *("numpy.load", "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.ctypeslib", "numpy.f2py"),
        *("pandas.read_pickle", "pandas.io", "joblib", "dill", "cloudpickle", "yaml", "ruamel", "pip", "setuptools"),
        # write files
        *("torch.save", "numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "numpy.tofile"),
        # reach the network
        *("requests", "urllib3", "httpx", "fsspec"),
    }
)
"""Dotted names outside the standard library refused as factory targets (a name and everything under it).

The whole standard library is refused too (``sys.stdlib_module_names``): it holds no model or data function,
and it is where nearly every gadget lives (``os.system``, ``subprocess.run``, ``builtins.eval``,
``runpy.run_path``, ``pathlib.Path.unlink``, ``shutil.rmtree``, ``pickle.loads``, ``logging.FileHandler``,
...). A block list can never be complete (Hydra says as much of its own); this one is defence in depth for
recipes from elsewhere, while the rule stays: a recipe with factories is code.
"""


def blocked_target(dotted_name: str) -> str | None:
    """Why ``dotted_name`` is refused as a factory target: the blocked module or name it is under, or ``None``.

    Examples
    --------
    >>> blocked_target("os.path.join"), blocked_target("pathlib.Path.touch"), blocked_target("my_models.make_net")
    ('os', 'pathlib', None)
    >>> blocked_target("torch.load"), blocked_target("torch.nn.Linear"), blocked_target("posix.system")
    ('torch.load', None, 'posix')
    """
    parts = dotted_name.split(".")
    if parts[0] in sys.stdlib_module_names or parts[0] in sys.builtin_module_names:
        return parts[0]
    for length in range(1, len(parts) + 1):
        prefix = ".".join(parts[:length])
        if prefix in BLOCKED_TARGETS:
            return prefix
    return None


def _allowed_by_user(dotted_names: list[str]) -> bool:
    entries = [entry.strip().replace(":", ".") for entry in os.environ.get(ALLOW_VARIABLE, "").split(",")]
    entries = [entry for entry in entries if entry]
    if "*" in entries:
        return True
    return any(name == entry or name.startswith(entry + ".") for name in dotted_names for entry in entries)


def _refused(key: str, spec: str, names: list[str]) -> RecipeError | None:
    for name in names:
        entry = blocked_target(name)
        if entry is not None and not _allowed_by_user(names):
            alias = "" if name == spec.replace(":", ".") else f" (which is `{name}`)"
            if entry in BLOCKED_TARGETS:
                why = f"is under `{entry}`, which loads pickles or code, writes files or reaches the network"
            else:
                why = (
                    f"is in Python's standard library (`{entry}`), which holds no model or data function and many "
                    "that run commands, load code, change files or reach the network"
                )
            return _fail(
                key,
                spec,
                f"refused: `{spec}`{alias} {why}; a recipe names its own model or data function",
                f"if you wrote this recipe and mean it, allow it with {ALLOW_VARIABLE}={spec} in the environment "
                "(a recipe with factories is code: run only recipes you trust)",
            )
    return None


def _identity(target: Any) -> str:
    """Where a callable really lives: ``os.system`` says ``posix.system``; a re-export says its origin."""
    while isinstance(target, functools.partial):  # judge what a partial would call
        target = target.func
    if isinstance(target, type):
        return f"{target.__module__}.{target.__qualname__}"
    owner = getattr(target, "__self__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if isinstance(owner, ModuleType):  # a builtin function: os.system.__self__ is the posix module
        return f"{owner.__name__}.{name}"
    if isinstance(owner, type) and name is not None:  # a classmethod: the class, not `type`
        return f"{owner.__module__}.{owner.__qualname__}.{str(name).rsplit('.', 1)[-1]}"
    if owner is not None and name is not None:  # a bound method: the class it is bound to
        return f"{type(owner).__module__}.{type(owner).__qualname__}.{str(name).rsplit('.', 1)[-1]}"
    module = getattr(target, "__module__", None)
    if module is not None and name is not None:
        return f"{module}.{name}"
    return f"{type(target).__module__}.{type(target).__qualname__}"  # a callable instance


def check_factory_name(spec: str, *, key: str) -> None:
    """Check a factory path without importing anything: its form, and that it is not a refused target.

    Used where user code must not run: ``recipe show`` and ``recipe check --no-build``.

    Raises
    ------
    RecipeError
        When ``spec`` is not ``module:callable``, or names a target under :data:`BLOCKED_TARGETS` that
        :data:`ALLOW_VARIABLE` does not allow.

    Examples
    --------
    >>> check_factory_name("my_models:make_net", key="model.factory")
    >>> check_factory_name("os:system", key="model.factory")
    Traceback (most recent call last):
    ...
    dlcheck.errors.RecipeError: recipe: 1 problem
      - recipe: model.factory: refused: ...
    """
    module_name, attribute = split_factory_spec(spec, key=key)
    error = _refused(key, spec, [f"{module_name}.{attribute}"])
    if error is not None:
        raise error


def _fail(key: str, spec: str, message: str, hint: str | None, path: str | None = None) -> RecipeError:
    issue = RecipeIssue(path=path or key, message=message, found=short_value(spec), hint=hint)
    return RecipeError([issue])


def split_factory_spec(spec: str, *, key: str = "factory") -> tuple[str, str]:
    """``"pkg.module:make.net"`` -> ``("pkg.module", "make.net")``.

    Raises
    ------
    RecipeError
        When ``spec`` is not ``module:callable``.
    """
    match = _SPEC.match(spec.strip())
    if match is None:
        hint = "write 'module:function', e.g. 'my_models:make_net' for make_net in my_models.py next to the recipe"
        if spec.count(":") == 0 and "." in spec:
            module, _, attribute = spec.rpartition(".")
            hint = f"separate module and callable with a colon: '{module}:{attribute}'"
        raise _fail(key, spec, "is not a 'module:callable' path", hint)
    return match["module"], match["attribute"]


def _local_file(directory: Path, module_name: str) -> Path | None:
    """The file or package in ``directory`` that an import of ``module_name`` would pick first."""
    top = module_name.split(".")[0]
    for candidate in (directory / f"{top}.py", directory / top / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _is_within(module: ModuleType, directory: Path) -> bool:
    location = getattr(module, "__file__", None)
    paths = [location] if location else list(getattr(module, "__path__", []))
    return any(Path(item).resolve().is_relative_to(directory.resolve()) for item in paths)


def _forget_stale(module_name: str, directory: Path) -> None:
    """Drop a cached module of the same name imported from elsewhere, so the recipe's own file wins.

    Two recipes in different folders may each have a ``my_models.py``; without this the second recipe
    would silently get the first one's code from ``sys.modules``.
    """
    top = module_name.split(".")[0]
    cached = sys.modules.get(top)
    if top in sys.stdlib_module_names or top == "dlcheck":
        return  # never unload the standard library or ourselves because a file shadows them
    if cached is None or _local_file(directory, module_name) is None or _is_within(cached, directory):
        return
    for name in [name for name in sys.modules if name == top or name.startswith(top + ".")]:
        del sys.modules[name]


def _import(module_name: str, *, directory: Path, key: str, spec: str) -> ModuleType:
    saved_path = list(sys.path)
    sys.path.insert(0, str(directory))
    try:
        _forget_stale(module_name, directory)
        importlib.invalidate_caches()  # a module written after start-up (e.g. by a test) must be found
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise _fail(
                key,
                spec,
                f"module `{module_name}` not found in the recipe's folder ({directory}) or on the Python path",
                f"put {module_name.split('.')[0]}.py next to the recipe, or install the package that provides it",
            ) from error
        raise _fail(
            key,
            spec,
            f"importing `{module_name}` failed: it imports `{missing}`, which is not installed",
            f"install {missing.split('.')[0]} or remove that import",
        ) from error
    except (Exception, SystemExit) as error:  # the user's module may raise anything while it runs
        raise _fail(
            key,
            spec,
            f"importing `{module_name}` raised {type(error).__name__}: {error}",
            f"fix the module (run `python -c 'import {module_name}'` in {directory} to see the traceback)",
        ) from error
    finally:
        sys.path[:] = saved_path


def _attribute(module: ModuleType, attribute: str, *, key: str, spec: str) -> Any:
    target: Any = module
    walked = module.__name__
    for part in attribute.split("."):
        if not hasattr(target, part):
            public = [name for name in dir(target) if not name.startswith("_")]
            guess = did_you_mean(part, public)
            hint = f"did you mean `{guess}`?" if guess else f"public names there: {', '.join(public[:12]) or 'none'}"
            raise _fail(key, spec, f"`{walked}` has no attribute `{part}`", hint)
        target = getattr(target, part)
        walked += f".{part}"
    return target


def _check_arguments(function: Callable[..., Any], args: dict[str, Any], *, key: str, spec: str) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature; the call itself will tell
        return
    args_key = key.rsplit(".", 1)[0] + ".args" if "." in key else "args"
    parameters = signature.parameters
    accepts_any = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values())
    keyword_names = [
        name
        for name, parameter in parameters.items()
        if parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    issues: list[RecipeIssue] = []
    if not accepts_any:
        for name in args:
            if name not in keyword_names:
                guess = did_you_mean(str(name), keyword_names)
                accepted = ", ".join(keyword_names) or "no arguments"
                hint = f"did you mean `{guess}`?" if guess else f"it accepts: {accepted}"
                issues.append(
                    RecipeIssue(
                        path=f"{args_key}.{name}",
                        message=f"`{spec}` has no parameter `{name}`",
                        found=short_value(args[name]),
                        hint=hint,
                    )
                )
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and name not in args
    ]
    if missing:
        listed = ", ".join(f"`{name}`" for name in missing)
        issues.append(
            RecipeIssue(
                path=args_key,
                message=f"`{spec}` needs {listed}, which `{args_key}` does not give",
                hint=f"add {', '.join(f'{name}: ...' for name in missing)} to `{args_key}`",
            )
        )
    if issues:
        raise RecipeError(issues)


def resolve_factory(spec: str, *, directory: Path, key: str, args: dict[str, Any]) -> Callable[..., Any]:
    """Import the callable named by ``spec`` and check that ``args`` fit its signature.

    Parameters
    ----------
    spec : str
        ``"module:callable"``; the callable may be dotted (``"my_models:Builders.small"``).
    directory : pathlib.Path
        The recipe's folder, searched before ``sys.path``.
    key : str
        The recipe key holding ``spec`` (``"model.factory"``), used in messages; arguments are reported
        under the sibling ``args`` key (``"model.args"``).
    args : dict
        Keyword arguments the callable will be called with.

    Returns
    -------
    callable
        The resolved callable (not called).

    Raises
    ------
    RecipeError
        With issues naming ``key`` (or ``model.args.NAME``): malformed path, a refused target (see
        :data:`BLOCKED_TARGETS`), module not found, exception while importing, missing attribute (with a
        did-you-mean), not callable, arguments not accepted or required arguments missing. ``sys.path`` is
        restored in every case.
    """
    check_factory_name(spec, key=key)
    module_name, attribute = split_factory_spec(spec, key=key)
    module = _import(module_name, directory=Path(directory), key=key, spec=spec)
    target = _attribute(module, attribute, key=key, spec=spec)
    if not callable(target):
        kind = type(target).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise _fail(key, spec, f"`{spec}` is {article} {kind}, not a function or class", "name a function or class")
    refused = _refused(key, spec, [f"{module_name}.{attribute}", _identity(target)])
    if refused is not None:
        raise refused
    _check_arguments(target, args, key=key, spec=spec)
    return target
