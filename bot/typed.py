"""Check a value read from TOML or JSON against a type hint: the one checker behind config keys and stored settings.

Plain data only (bool, int, float, str, Literal, list, frozenset, tuple[X, ...], dict[str, X], Any); a mismatch is
a `TypeMismatch` (a ValueError) whose message names the key, so every caller can show it to the user as one line.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin


class TypeMismatch(ValueError):
    pass


def check_type(key: str, value: Any, typ: Any) -> Any:
    """`value` as `typ` (ints widen to float, sequences become the hinted container); raise TypeMismatch."""
    origin = get_origin(typ)
    if typ is Any:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif typ is str:
        if isinstance(value, str):
            return value
    elif origin is Literal:
        if value in get_args(typ):
            return value
        raise TypeMismatch(f"{key}: must be one of {', '.join(map(repr, get_args(typ)))}, got {value!r}")
    elif origin is list:
        (item,) = get_args(typ)
        if isinstance(value, list):
            return [check_type(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    elif origin is frozenset:
        (item,) = get_args(typ)
        if isinstance(value, (list, tuple, set, frozenset)):
            # Snowflakes arrive as strings from JSON written by JavaScript tools; accept digit strings for ints.
            if item is int:
                value = [int(v) if isinstance(v, str) and v.isdigit() else v for v in value]
            return frozenset(check_type(f"{key}[]", v, item) for v in value)
    elif origin is tuple:
        (item, _) = get_args(typ)
        if isinstance(value, (list, tuple)):
            return tuple(check_type(f"{key}[]", v, item) for v in value)
    elif origin is dict:
        _, item = get_args(typ)
        if isinstance(value, Mapping):
            return {str(k): check_type(f"{key}.{k}", v, item) for k, v in value.items()}
    raise TypeMismatch(f"{key}: expected {type_name(typ)}, got {type(value).__name__} {value!r}")


def type_name(typ: Any) -> str:
    if isinstance(typ, type):
        return typ.__name__
    if isinstance(typ, types.GenericAlias):
        return str(typ)
    return repr(typ)
