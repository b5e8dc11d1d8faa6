"""One safe way to read the YAML data files (terms, parameters, cap table, scenarios).

PyYAML's safe loader still reads YAML 1.1: ``010`` is 8, ``1:30`` is 90, ``0_31`` is 31,
``no`` is False, ``9e-2`` is a string, a duplicate key silently keeps the last value, an
alias can expand a small file into gigabytes, and ``!!binary`` makes bytes. This loader
reads what a person wrote: YAML 1.2 core numbers and booleans (``010`` is 10, ``9e-2`` is
0.09, ``1:30`` and ``no`` stay text), dates written YYYY-MM-DD, and it refuses duplicate
keys, aliases, explicit tags, keys that are not plain values, dates not written YYYY-MM-DD
(``2006-3-9``), numbers of more than ``MAX_DIGITS`` digits, files over ``MAX_BYTES`` and text
that is not UTF-8, naming the file, the line and, for a value, its key.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1_000_000
MAX_DEPTH = 50  # nesting: a data file here needs 4 levels
# digits in a number: the longest figure in these files (a share count, dollars and cents) has
# about 12; past 308 a number does not fit a float, and past 4,300 Python refuses to read it
MAX_DIGITS = 100
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class YamlError(ValueError):
    """A data file that cannot be read safely; the message names the file and the line."""


def brief(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters: a value read
    from a file may be a megabyte long, and a message is one line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _refused(loader: _Loader, node: yaml.Node, what: str, rule: str) -> YamlError:
    """A value refused as written (``what``), named by its keys (``entries[2].date``) where
    it has them."""
    name = loader.names.get(id(node))
    return YamlError(f"{loader.where}, line {node.start_mark.line + 1}: {what} {rule}"
                     + (f" (at {name})" if name else ""))


def _names(node: yaml.Node | None, prefix: str = "", names: dict | None = None) -> dict:
    """id(node) -> its keys from the top (``warrants[0].shares``), for errors."""
    names = {} if names is None else names
    if isinstance(node, yaml.MappingNode):
        children = [(f"{prefix}.{k.value}" if prefix else str(k.value), v)
                    for k, v in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = [(f"{prefix}[{i}]", v) for i, v in enumerate(node.value)]
    else:
        return names
    for name, child in children:
        names[id(child)] = name
        _names(child, name, names)
    return names


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, no aliases, no tags and no duplicate keys."""

    where = "YAML"
    names: dict[int, str] = {}  # id(node) -> its keys, for errors

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 (PyYAML's signature)
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YamlError(f"{self.where}, line {event.start_mark.line + 1}: aliases "
                            f"(*{event.anchor}) are not accepted; write the value out")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise YamlError(f"{self.where}, line {event.start_mark.line + 1}: the tag {tag} "
                            "is not accepted; write plain values")
        depth = getattr(self, "_depth", 0) + 1
        if depth > MAX_DEPTH:
            raise YamlError(f"{self.where}, line {event.start_mark.line + 1}: nested more than "
                            f"{MAX_DEPTH} levels deep")
        self._depth = depth
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth - 1

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(f"{self.where}, line {line}: a key is a plain name, not a list "
                                "or a mapping")
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise YamlError(f"{self.where}, line {line}: duplicate key {key!r} (first on "
                                f"line {seen[key]})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def _digits(self, node, text: str) -> None:  # noqa: ANN001
        n = sum(c.isdigit() for c in text)
        if n > MAX_DIGITS:
            raise _refused(self, node, f"'{text[:12]}...', a number of {n:,} digits,",
                           f"has more than the {MAX_DIGITS} a number in a data file may have")

    def construct_yaml_int(self, node):  # noqa: ANN001, ANN201
        text = self.construct_scalar(node)
        self._digits(node, text)
        return int(text, 10)  # 010 is ten, as written

    def construct_yaml_float(self, node):  # noqa: ANN001, ANN201
        self._digits(node, self.construct_scalar(node))
        return super().construct_yaml_float(node)

    def construct_yaml_timestamp(self, node):  # noqa: ANN001, ANN201
        text = self.construct_scalar(node)
        if not ISO_DATE.match(text):
            raise _refused(self, node, repr(text), "is not a date written YYYY-MM-DD, two "
                                                   "digits for the month and the day")
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise _refused(self, node, repr(text), f"is not a date ({exc})") from None


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+.0123456789")),
    ("tag:yaml.org,2002:timestamp", r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$", list("0123456789")),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


Lines = tuple[dict[str, int], dict[str, list[int]]]  # a text's top-level keys' lines, its lists'
PARSED_KEPT = 32  # texts whose parsed data a process keeps (sweep cells read the same files)
# text -> (its data, its lines): the lines errors name (sequence_lines, key_lines) without
# parsing the text again (the cap table asked for them three times a load)
_PARSED: dict[str, tuple[Any, Lines]] = {}


def load_yaml(path: str | Path, what: str = "file", *, max_bytes: int = MAX_BYTES,
              error: type[Exception] | None = None) -> Any:
    """The data in the YAML file ``path``, read safely (see the module docstring).

    ``what`` names the file in errors ("terms file", "parameter file", ...); ``error`` is
    the exception class to raise them as (default :class:`YamlError`).
    """
    try:
        return _load(Path(path), what, max_bytes)
    except YamlError as exc:
        if error is None or error is YamlError:
            raise
        raise error(str(exc)) from None


def _lines(root: yaml.Node | None) -> Lines:
    """The line of each top-level key, and of each item of each top-level sequence."""
    keys: dict[str, int] = {}
    items: dict[str, list[int]] = {}
    pairs = root.value if isinstance(root, yaml.MappingNode) else []
    for k, v in pairs:
        if isinstance(k, yaml.ScalarNode):  # another key is refused when the text is read
            keys.setdefault(k.value, k.start_mark.line + 1)
            if isinstance(v, yaml.SequenceNode):
                items.setdefault(k.value, [item.start_mark.line + 1 for item in v.value])
    return keys, items


def _text_lines(path: str | Path) -> Lines:
    """The lines of the text ``path`` holds now: kept by :func:`load_yaml` for that text, or
    parsed afresh."""
    text = Path(path).read_bytes().decode("utf-8")
    if text in _PARSED:
        return _PARSED[text][1]
    loader = _Loader(text)
    try:
        return _lines(loader.get_single_node())
    finally:
        loader.dispose()


def sequence_lines(path: str | Path, key: str) -> list[int]:
    """The line of each item of the top-level sequence ``key`` in the YAML file ``path`` (read
    after :func:`load_yaml` has accepted it), so errors can name an entry's line."""
    return list(_text_lines(path)[1].get(key, []))


def key_lines(path: str | Path) -> dict[str, int]:
    """The line of each top-level key of the YAML file ``path`` (read after :func:`load_yaml`
    has accepted it), so errors can name a term's line."""
    return dict(_text_lines(path)[0])


def read_text(path: Path, where: str, max_bytes: int, error: type[Exception] = YamlError, *,
              bom: bool = False) -> str:
    """A data file's text: it exists, is at most ``max_bytes``, is UTF-8 (with a byte-order
    mark when ``bom``) and holds no NUL byte; every error names ``where`` and the rule."""
    if not path.is_file():
        raise error(f"{where}: not found")
    size = path.stat().st_size
    if size > max_bytes:
        raise error(f"{where}: {size:,} bytes, more than the {max_bytes:,} a data file may have")
    try:
        text = path.read_bytes().decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise error(f"{where}: holds NUL bytes; it is not a text file")
    return text


def _load(path: Path, what: str, max_bytes: int) -> Any:
    where = f"{what} {path}"
    text = read_text(path, where, max_bytes)
    if text in _PARSED:  # a text read before: its data again, not re-parsed
        return copy.deepcopy(_PARSED[text][0])
    loader = None
    try:
        loader = _Loader(text)
        loader.where = where
        node = loader.get_single_node()
        loader.names, lines = _names(node), _lines(node)  # before construction changes it
        data = None if node is None else loader.construct_document(node)
        if len(_PARSED) >= PARSED_KEPT:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[text] = (data, lines)
        return copy.deepcopy(data)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:  # one line: where, and what the parser found
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = "; ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise YamlError(f"{where} is not valid YAML ({at}{what})") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlError(f"{where} is not valid YAML (line {line}: the character "
                        f"U+{exc.character:04X} is not allowed)") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{where} is not valid YAML ({str(exc).splitlines()[0]})") from None
    finally:
        if loader is not None:
            loader.dispose()
