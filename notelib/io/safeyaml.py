"""One safe way to read the YAML data files (terms, parameters, cap table, scenarios).

PyYAML's safe loader still reads YAML 1.1: ``010`` is 8, ``1:30`` is 90, ``0_31`` is 31,
``no`` is False, ``9e-2`` is a string, a duplicate key silently keeps the last value, an
alias can expand a small file into gigabytes, and ``!!binary`` makes bytes. This loader
reads what a person wrote: YAML 1.2 core numbers and booleans (``010`` is 10, ``9e-2`` is
0.09, ``1:30`` and ``no`` stay text), dates written YYYY-MM-DD, and it refuses duplicate
keys, aliases, explicit tags, files over ``MAX_BYTES`` and text that is not UTF-8, naming
the file and the line.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1_000_000
MAX_DEPTH = 50  # nesting: a data file here needs 4 levels


class YamlError(ValueError):
    """A data file that cannot be read safely; the message names the file and the line."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, no aliases, no tags and no duplicate keys."""

    where = "YAML"

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
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlError(f"{self.where}, line {line}: duplicate key {key!r} (first on "
                                f"line {seen[key]})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):  # noqa: ANN001, ANN201
        return int(self.construct_scalar(node), 10)  # 010 is ten, as written

    def construct_yaml_timestamp(self, node):  # noqa: ANN001, ANN201
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise YamlError(f"{self.where}, line {node.start_mark.line + 1}: "
                            f"{self.construct_scalar(node)!r} is not a date ({exc})") from None


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
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


PARSED_KEPT = 32  # texts whose parsed data a process keeps (sweep cells read the same files)
_PARSED: dict[str, Any] = {}


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


def sequence_lines(path: str | Path, key: str) -> list[int]:
    """The line of each item of the top-level sequence ``key`` in the YAML file ``path`` (read
    after :func:`load_yaml` has accepted it), so errors can name an entry's line."""
    loader = _Loader(Path(path).read_bytes().decode("utf-8"))
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if not isinstance(root, yaml.MappingNode):
        return []
    for k, v in root.value:
        if k.value == key and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return []


def _load(path: Path, what: str, max_bytes: int) -> Any:
    where = f"{what} {path}"
    if not path.is_file():
        raise YamlError(f"{where}: not found")
    size = path.stat().st_size
    if size > max_bytes:
        raise YamlError(f"{where}: {size:,} bytes, more than the {max_bytes:,} a data file may "
                        "have")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"{where}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise YamlError(f"{where}: holds NUL bytes; it is not a text file")
    if text in _PARSED:  # a text read before: its data again, not re-parsed
        return copy.deepcopy(_PARSED[text])
    loader = _Loader(text)
    loader.where = where
    try:
        data = loader.get_single_data()
        if len(_PARSED) >= PARSED_KEPT:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[text] = data
        return copy.deepcopy(data)
    except YamlError:
        raise
    except yaml.YAMLError as exc:
        raise YamlError(f"{where} is not valid YAML: {exc}") from None
    finally:
        loader.dispose()
