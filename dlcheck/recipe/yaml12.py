"""Read YAML the way a recipe author expects: YAML 1.2 scalars, no duplicate keys, and positions.

PyYAML implements YAML 1.1, where ``1e-3`` is the *string* "1e-3", ``on`` is ``True`` and ``010`` is
octal 8 (research A5/A6: LlamaFactory #4014, yacs #46 and others lost hours to this). The loader here
keeps PyYAML's parser but swaps its implicit resolvers for the YAML 1.2 core schema, so plain scalars
mean what they look like. While building the Python data it records where every key and value sits,
so a schema error can name the line the user must edit.

A recipe may come from someone else (a colleague, a download, a CI cache), so reading one is bounded: at
most :data:`MAX_DOCUMENT_CHARACTERS` characters, :data:`MAX_DEPTH` levels of nesting and
:data:`MAX_VALUES` values once aliases are expanded, and integer literals of at most
:data:`MAX_INTEGER_DIGITS` digits. Each limit is refused with its own message, naming the limit, instead
of a ``RecursionError``, a hang or gigabytes of memory (issue 12: "billion laughs" documents ran past 20 s
and 1.4 GB; nested flow collections and self-referencing merges ended in tracebacks).

Examples
--------
>>> document = read_yaml("optimizer:\\n  lr: 1e-3\\n  nesterov: on\\n")
>>> document.data
{'optimizer': {'lr': 0.001, 'nesterov': 'on'}}
>>> document.positions[("optimizer", "lr")]
(2, 7)
"""

from __future__ import annotations

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_CHARACTERS",
    "MAX_INTEGER_DIGITS",
    "MAX_VALUES",
    "KeyPath",
    "Position",
    "YamlDocument",
    "is_plain_yaml_string",
    "read_yaml",
]

import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from dlcheck.errors import RecipeError, RecipeIssue

KeyPath = tuple[str | int, ...]
"""A key path into the data: ``("model", "layers", 2, "type")``."""
Position = tuple[int, int]
"""1-based ``(line, column)``."""

# The limits. The largest recipe we ship is about 1.5 KB, 40 values and 6 levels deep; each limit is two to
# three orders of magnitude above any hand-written recipe and still cheap to reach (a 1 MB document parses
# in about a second with PyYAML's pure-Python parser, which we need for positions).
MAX_DOCUMENT_CHARACTERS = 1_000_000
"""Characters in one recipe (or one ``--set`` value)."""
MAX_DEPTH = 64
"""Nesting levels of mappings and lists; PyYAML's composer recurses once per level (Python's stack: ~1000)."""
MAX_VALUES = 100_000
"""Values (scalars, mappings and lists) after expanding aliases: an alias bomb doubles this per line."""
MAX_INTEGER_DIGITS = 100
"""Digits of one integer literal: far past any count or seed (Python refuses to convert over 4,300)."""

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SEQUENCE = "tag:yaml.org,2002:seq"
_MAPPING = "tag:yaml.org,2002:map"

# YAML 1.2.2 core schema, section 10.3.2 (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_CORE_RESOLVERS: tuple[tuple[str, str, str], ...] = (
    (_NULL, r"^(?:~|null|Null|NULL|)$", "~nN"),
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        _FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    # `<<` merge keys are YAML 1.1, but recipes that share blocks through anchors use them; keeping them
    # costs nothing and dropping them would turn `<<` into a confusing "unknown key".
    (_MERGE, r"^<<$", "<"),
)


class _LimitExceeded(yaml.YAMLError):
    """A document over one of the reading limits; carries the words for the user."""

    def __init__(self, message: str, hint: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message, self.hint, self.mark = message, hint, mark


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit resolvers (no yes/no/on/off, no sexagesimal).

    Its composer counts nesting, so a deep document is refused at :data:`MAX_DEPTH` levels instead of
    exhausting Python's stack in PyYAML's recursive ``compose_node``.
    """

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {}
    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _LimitExceeded(
                    f"the recipe nests deeper than {MAX_DEPTH} levels (the limit)",
                    "recipes need a handful of levels; flatten the structure",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


for _tag, _pattern, _first in _CORE_RESOLVERS:
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
    if _tag == _NULL:
        _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), [""])  # the empty scalar


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    length = len(digits) - (2 if digits[:2] in ("0o", "0x") else 0)
    if length > MAX_INTEGER_DIGITS:
        raise _LimitExceeded(
            f"an integer of {length:,} digits; the limit is {MAX_INTEGER_DIGITS}",
            "recipe numbers are counts, sizes and seeds; write a sensible value",
            node.start_mark,
        )
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    return sign * int(digits, 10)  # "010" is ten in YAML 1.2, not eight


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    if text.lstrip("+-") == ".inf":
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


_Yaml12Loader.add_constructor(_INT, _construct_int)
_Yaml12Loader.add_constructor(_FLOAT, _construct_float)
_Yaml12Loader.add_constructor(_BOOL, _construct_bool)


@dataclass(frozen=True)
class YamlDocument:
    """Plain data read from YAML, with where each part was written.

    Attributes
    ----------
    data : Any
        Dicts, lists and scalars (``None`` for an empty document).
    positions : dict
        Key path -> 1-based ``(line, column)`` of the *value* at that path; ``()`` is the document.
    key_positions : dict
        Key path -> position of the *key* of a mapping entry (of the item, for a list item).
    """

    data: Any
    positions: dict[KeyPath, Position] = field(default_factory=dict)
    key_positions: dict[KeyPath, Position] = field(default_factory=dict)

    def position(self, path: KeyPath, *, prefer_key: bool = False) -> Position | None:
        """Position of ``path``, or of its nearest ancestor that has one; ``None`` when none has."""
        first, second = (self.key_positions, self.positions) if prefer_key else (self.positions, self.key_positions)
        for length in range(len(path), -1, -1):
            prefix = path[:length]
            found = first.get(prefix) or second.get(prefix)
            if found is not None:
                return found
        return None


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node graph into Python data while recording positions."""

    def __init__(self, loader: _Yaml12Loader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.positions: dict[KeyPath, Position] = {}
        self.key_positions: dict[KeyPath, Position] = {}
        self._active: set[int] = set()  # nodes being built, to refuse recursive aliases
        self._values = 0  # values built so far, aliases expanded: the alias-bomb guard

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self._values += 1
        if self._values > MAX_VALUES:
            raise self._error(
                node,
                f"the recipe expands to more than {MAX_VALUES:,} values (the limit), counting each use of an "
                "alias `*name` in full",
                "recipes hold a few hundred values; an alias that refers to aliases multiplies them (a "
                "'billion laughs' document)",
                path,
            )
        self.positions[path] = _position(node)
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except _LimitExceeded as error:
                raise self._error(node, error.message, error.hint, path) from None
        if id(node) in self._active:
            raise self._error(node, "an alias refers to a block that contains it (recursive anchor)", "", path)
        if node.tag not in (_SEQUENCE, _MAPPING):  # built here, not by PyYAML: an explicit tag would be ignored
            raise self._error(node, f"an unknown `!!` tag ({node.tag})", "recipes are plain YAML; remove the tag", path)
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    self.key_positions[(*path, index)] = _position(item)
                    items.append(self.build(item, (*path, index)))
                return items
            if isinstance(node, yaml.MappingNode):
                return self._build_mapping(node, path)
        finally:
            self._active.discard(id(node))
        raise self._error(node, f"unsupported YAML node {type(node).__name__}", "")

    def _build_mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, Position] = {}
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise self._error(key_node, "a key must be a plain word or number, not a list or mapping", "")
            if key in seen:
                line = seen[key][0]
                raise self._error(
                    key_node,
                    f"duplicate key {key!r} (first written on line {line})",
                    "remove one of the two; YAML keeps only one value per key",
                )
            seen[key] = _position(key_node)
            # Paths hold words and list indices; a rare float, bool or null key is named by its text.
            part = key if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)) else str(key)
            self.key_positions[(*path, part)] = _position(key_node)
            result[key] = self.build(value_node, (*path, part))
        # Merged entries fill only keys the mapping does not set itself (the `<<` rule); earlier sources win.
        for source in merged:
            if id(source) in self._active:
                raise self._error(source, "`<<` merges a mapping into itself (a recursive merge)", "", path)
            self._active.add(id(source))
            try:
                for key, value in self._build_mapping(source, path).items():
                    result.setdefault(key, value)
            finally:
                self._active.discard(id(source))
        return result

    def _merge_sources(self, node: yaml.Node) -> list[yaml.MappingNode]:
        if isinstance(node, yaml.MappingNode):
            return [node]
        if isinstance(node, yaml.SequenceNode) and all(isinstance(item, yaml.MappingNode) for item in node.value):
            return list(node.value)
        raise self._error(node, "`<<` must be followed by an alias of a mapping (`<<: *name`)", "")

    def _error(self, node: yaml.Node, message: str, hint: str, path: KeyPath = ()) -> RecipeError:
        line, column = _position(node)
        dotted = ".".join(str(part) for part in path)
        issue = RecipeIssue(
            path=dotted, message=message, line=line, column=column, source=self.source, hint=hint or None
        )
        return RecipeError([issue], source=self.source)


# PyYAML's problem texts, said in plain words with the usual cause. Matched by substring, first match wins.
_PLAIN_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    (
        "found character '\\t'",
        "a tab character where YAML expects spaces",
        "indent with spaces only; YAML does not allow tabs",
    ),
    (
        "mapping values are not allowed here",
        "a `:` where YAML did not expect a new key",
        "check the indentation of this line, or quote a value that contains ': '",
    ),
    (
        "could not find expected ':'",
        "a line that is neither `key: value` nor a list item",
        "add the missing `:` after the key, or fix the indentation",
    ),
    (
        "expected <block end>",
        "this line's indentation does not match the block above it",
        "line up keys of one section at the same column",
    ),
    (
        "did not find expected key",
        "this line's indentation does not match the block above it",
        "line up keys of one section at the same column",
    ),
    ("expected ',' or '}'", "an unclosed or malformed `{...}`", "separate entries with `, ` and close with `}`"),
    ("expected ',' or ']'", "an unclosed or malformed `[...]`", "separate items with `, ` and close with `]`"),
    ("found undefined alias", "an alias `*name` with no matching anchor `&name`", "define the anchor before using it"),
    ("found unexpected end of stream", "the file ends inside a quoted string or bracket", "close the quote or bracket"),
    ("found another document", "more than one YAML document (a `---` line)", "keep one recipe per file"),
    ("could not determine a constructor", "an unknown `!!` tag", "recipes are plain YAML; remove the tag"),
)


def _reader_issue(error: yaml.reader.ReaderError, text: str, source: str) -> RecipeIssue:
    before = text[: error.position]
    line, column = before.count("\n") + 1, error.position - (before.rfind("\n") + 1) + 1
    character = error.character if isinstance(error.character, str) else chr(error.character)
    name = "a NUL byte" if character == "\x00" else f"the control character U+{ord(character):04X}"
    return RecipeIssue(
        path="",
        message=f"{name}, which YAML does not allow in a document",
        line=line,
        column=column,
        source=source,
        hint="remove it; a recipe is plain UTF-8 text (was a binary file given as the recipe?)",
    )


def _syntax_issue(error: yaml.YAMLError, source: str) -> RecipeIssue:
    if isinstance(error, _LimitExceeded):
        mark = error.mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        return RecipeIssue(path="", message=error.message, line=line, column=column, source=source, hint=error.hint)
    problem = getattr(error, "problem", None) or str(error)
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    message, hint = f"YAML syntax error: {problem}", None
    for prefix, plain, fix in _PLAIN_PROBLEMS:
        if prefix in problem:
            message, hint = f"YAML syntax error: {plain}", fix
            break
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
        message += f" ({context} on line {context_mark.line + 1})"
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return RecipeIssue(path="", message=message, line=line, column=column, source=source, hint=hint)


def read_yaml(text: str, source: str = "<string>") -> YamlDocument:
    """Parse one YAML document with YAML 1.2 core scalars and positions.

    Parameters
    ----------
    text : str
        The YAML text.
    source : str
        Name used in error messages (a file name, or ``--set``).

    Returns
    -------
    YamlDocument
        The data and the positions of every key and value.

    Raises
    ------
    RecipeError
        On a YAML syntax error, a duplicate key, a recursive alias or merge, more than one document, a
        control character, or a document over one of the limits (:data:`MAX_DOCUMENT_CHARACTERS`,
        :data:`MAX_DEPTH`, :data:`MAX_VALUES`, :data:`MAX_INTEGER_DIGITS`), with the line and column.

    Examples
    --------
    >>> read_yaml("a: 010\\nb: 0o10\\nc: yes\\nd: .5").data
    {'a': 10, 'b': 8, 'c': 'yes', 'd': 0.5}
    """
    if len(text) > MAX_DOCUMENT_CHARACTERS:
        issue = RecipeIssue(
            path="",
            message=f"the document has {len(text):,} characters; the limit is {MAX_DOCUMENT_CHARACTERS:,}",
            source=source,
            hint="a recipe is a few kilobytes; check that this is the file you meant",
        )
        raise RecipeError([issue], source=source)
    try:
        loader = _Yaml12Loader(text)  # the reader refuses control characters (NUL, ...) here
    except yaml.reader.ReaderError as error:
        raise RecipeError([_reader_issue(error, text, source)], source=source) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, {(): (1, 1)}, {})
        builder = _Builder(loader, source)
        data = builder.build(node, ())
    except yaml.YAMLError as error:
        raise RecipeError([_syntax_issue(error, source)], source=source) from None
    finally:
        loader.dispose()
    return YamlDocument(data, builder.positions, builder.key_positions)


_PLAIN_STRING = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+-]*$")


def is_plain_yaml_string(text: str) -> bool:
    """Whether ``text`` can be written unquoted and still read back as the same string.

    Conservative on purpose: letters, digits and ``_./+-`` only, starting with a letter or ``_``, and not
    a word that YAML 1.2 or YAML 1.1 would read as a bool, null, number or merge key.
    """
    if not _PLAIN_STRING.match(text):
        return False
    if any(re.match(pattern, text) for _, pattern, _ in _CORE_RESOLVERS):
        return False
    # Also quote what a YAML 1.1 reader (plain PyYAML, other tools reading a saved recipe) would not read
    # as text, such as `on` or `yes`.
    return _YAML_1_1.resolve(yaml.ScalarNode, text, (True, False)) == _STR


_YAML_1_1 = yaml.resolver.Resolver()
