"""Reading JSON that a client may have built to hurt: nesting deep enough to exhaust Python's
recursion, numbers past a float's range, strings no database stores (NUL characters, halves
of surrogate pairs).

Nesting and NUL are found in linear time, before `json.loads` builds anything; each problem
is a 400 saying what is wrong. The size of the body is bounded before this, by Django's
DATA_UPLOAD_MAX_MEMORY_SIZE.
"""

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Far beyond any document of the API (none nests more than a few levels) and far below the
# depth at which Python's decoder gives up with a RecursionError (about 1,000).
MAX_JSON_DEPTH = 32

# A JSON string whole, escapes included (brackets inside one are text, not nesting). One left
# open runs to the end, so that no quote is scanned twice.
_STRING = re.compile(rb'"[^"\\]*(?:\\(?:.|\Z)[^"\\]*)*(?:"|\Z)', re.DOTALL)
# `\u0000` after an even number of backslashes: the escape of a NUL character.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(_BRACKETS)))
# Opening brackets count +1, closing ones -1 (0xFF read as a signed byte).
_DEPTH_STEPS = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")


class JSONError(ValueError):
    pass


def check_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise JSONError for a document nested too deeply or holding a NUL character."""
    if _NUL_ESCAPE.search(raw):
        raise JSONError("NUL characters (\\u0000) are not allowed in strings.")
    steps = array("b", _STRING.sub(b"", raw).translate(_DEPTH_STEPS, _NOT_BRACKETS))
    # Running sums in C: a body of nothing but brackets is measured as fast as any other.
    if max(accumulate(steps), default=0) > max_depth:
        raise JSONError(f"JSON nested too deeply (at most {max_depth} levels).")


def loads(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` for untrusted input: only what standard JSON carries, within the limits."""
    check_json(text.encode() if isinstance(text, str) else text, max_depth)
    data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    _check_encodable(data)
    return data


def _check_encodable(data: Any) -> None:
    """An escaped half of a surrogate pair (`\\ud800` alone) decodes to a string no database
    stores and no response can be encoded in: refused like NUL."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise JSONError("Unpaired surrogate escapes (\\ud800-\\udfff) are not allowed.") from None


def _no_constant(name: str) -> None:
    raise JSONError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JSONError(f"{text} is beyond the range of a number.")
    return number


class JSONParser(parsers.JSONParser):
    """DRF's parser on top of `loads`: a hostile document is a 400 whatever the endpoint. It
    stays a subclass of DRF's, which DRF then bounds by Django's body size limit."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        # DRF's stub lacks get_encoding, which refuses the charsets that are no text encoding.
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        try:
            return loads(stream.read().decode(encoding))
        except JSONError as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
