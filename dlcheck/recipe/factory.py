"""Resolve ``module:callable`` factory paths from a recipe, with errors that name the recipe key.

A recipe's ``model.factory`` or ``data.factory`` names the user's own code. The module is looked up in
the recipe's folder first, then on ``sys.path``; the folder is put on the path only for the import and
the path is restored afterwards (pytorch-lr-finder's habit: restore whatever state you touch). Every
failure - a malformed path, a missing module, an exception inside the module, a missing attribute, a
non-callable, arguments that do not fit the signature - becomes one :class:`RecipeError` naming the key,
the value and the fix, never a bare traceback (Lightning #11608, Hydra #2099 in research A6).

Examples
--------
>>> import pathlib
>>> resolve_factory("math:hypot", directory=pathlib.Path("."), key="model.factory", args={})
<built-in function hypot>
"""

from __future__ import annotations

__all__ = ["resolve_factory", "split_factory_spec"]

import importlib
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe._text import did_you_mean, short_value

_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*):(?P<attribute>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")


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
        With issues naming ``key`` (or ``model.args.NAME``): malformed path, module not found, exception
        while importing, missing attribute (with a did-you-mean), not callable, arguments not accepted or
        required arguments missing. ``sys.path`` is restored in every case.
    """
    module_name, attribute = split_factory_spec(spec, key=key)
    module = _import(module_name, directory=Path(directory), key=key, spec=spec)
    target = _attribute(module, attribute, key=key, spec=spec)
    if not callable(target):
        kind = type(target).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise _fail(key, spec, f"`{spec}` is {article} {kind}, not a function or class", "name a function or class")
    _check_arguments(target, args, key=key, spec=spec)
    return target
