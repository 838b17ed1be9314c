"""The model as a C array, and the one place that renders templates (Jinja2, StrictUndefined).

Python computes every value; templates only loop and substitute. Every identifier that goes into C is checked.
"""
from __future__ import annotations

import hashlib
import re

import jinja2

from pipeline import __version__
from pipeline.errors import PipelineError
from pipeline.paths import TEMPLATES

BYTES_PER_LINE = 12  # fixed: 12 x "0x00, " = 72 columns, diffs stay readable
C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def c_identifier(name: str) -> str:
    if not C_IDENTIFIER.match(name):
        raise PipelineError(f"'{name}' is not a valid C identifier.", "Use letters, digits and underscores.")
    return name


def c_string(text: str) -> str:
    """`text` as a C string literal, quotes included, that a C compiler reads back as its UTF-8 bytes, written in
    printable ASCII only, so it is safe in a // comment too. Backslash and double quote are escaped with a
    backslash, and so is every ? (no trigraph such as ??= can form); every other byte outside printable ASCII
    (newline, tab, control characters, the UTF-8 of non-ASCII) is a three-digit octal escape, which a following
    digit cannot join (a hex escape takes every hex digit after it). Every literal or comment built from user
    input (class names, file and run names) goes through here."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        out.append("\\" + char if char in '\\"?' else char if 0x20 <= byte < 0x7F else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def banner(model: bytes, source: str) -> dict:
    """The values every generated file's banner needs (`source`, a file name, as a C string: it goes in a comment)."""
    return {"version": __version__, "source": c_string(source), "sha256": hashlib.sha256(model).hexdigest()}


def render(template: str, **context) -> str:
    """Render pipeline/templates/<template>; a missing value is an error, never an empty string."""
    return _ENV.get_template(template).render(**context)


def guard(filename: str) -> str:
    return c_identifier("TINYKD_" + re.sub(r"[^A-Za-z0-9]", "_", filename).upper() + "_")


def hex_lines(data: bytes, per_line: int = BYTES_PER_LINE) -> list[str]:
    """'0x1c, 0x00, ...' lines of `per_line` bytes each (the last may be shorter)."""
    return [", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) + ","
            for i in range(0, len(data), per_line)]


def model_data_files(model: bytes, *, source: str, symbol: str = "g_model") -> dict[str, str]:
    """model_data.h and model_data.cc: the flatbuffer as `alignas(16) const unsigned char symbol[]`."""
    context = {**banner(model, source), "symbol": c_identifier(symbol), "length": len(model),
               "length_macro": c_identifier(symbol.upper() + "_LEN"), "lines": hex_lines(model)}
    return {"model_data.h": render("model_data.h.j2", guard=guard("model_data.h"), **context),
            "model_data.cc": render("model_data.cc.j2", **context)}
