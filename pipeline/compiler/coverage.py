"""README's op coverage table, generated from the op registry: `python -m pipeline.compiler.coverage --readme`
rewrites it (tests/test_op_registry.py checks that README matches)."""
from __future__ import annotations

import re
import sys

from pipeline.compiler.registry import ops
from pipeline.paths import README

BEGIN, END = "<!-- op-coverage: begin -->", "<!-- op-coverage: end -->"


def coverage_table() -> str:
    """Markdown: op, kernels, DSP path, in-place rule, the tests that check it against TFLM."""
    rows = ["| op | kernel | DSP path | in place | verified by |", "| --- | --- | :-: | --- | --- |"]
    for s in ops().values():
        kernel = "folded at compile time" if s.folded else ", ".join(f"`{k.name}`" for k in s.kernels)
        tests = ", ".join(f"`{t}`" for t in s.tests)
        rows.append(f"| {s.name} | {kernel} | {'yes' if s.dsp else 'no'} | {s.in_place} | {tests} |")
    return "\n".join(rows) + "\n"


def readme_with_table(text: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"README has no {BEGIN} ... {END} section")
    return pattern.sub(lambda m: f"{BEGIN}\n{coverage_table()}{END}", text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        README.write_text(readme_with_table(README.read_text()))
    else:
        sys.stdout.write(coverage_table())
