"""The op registry: one entry per TFLite builtin operator the AOT engine compiles.

An entry names the lowering function (pipeline/compiler/ops/*.py, which turns one operator into kernel calls),
the kernels it may call (with their scratch-size function and whether they have a Cortex-M4 DSP path), the
memory planner's in-place rule, and the tests that check it bit for bit against TFLite Micro. The supported set,
the unsupported-op error and README's coverage table are all derived from it:

    @register("MUL", kernels.MUL, in_place=ELEMENTWISE, tests=("ops:mul_same", "qemu:op_mix"))
    def lower_mul(lw, call, op, ins, outs): ...

`python -m pipeline.compiler.coverage --readme` rewrites README's table from it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from pipeline.compiler.kernels import Kernel
from pipeline.errors import PipelineError

# In-place rules for the memory planner (pipeline/compiler/planner.py).
NONE = "none"                # the output gets its own bytes
ELEMENTWISE = "elementwise"  # may take the bytes of a same-size input that dies here (read before written)
VIEW = "view"                # the output is the input's bytes relabelled (RESHAPE and its aliases)
ROWS = "rows"                # writes output rows in order: may overlap its input a few rows lower
IN_PLACE_RULES = (NONE, ELEMENTWISE, VIEW, ROWS)


@dataclass(frozen=True)
class OpSpec:
    name: str                        # TFLite builtin operator, e.g. CONV_2D
    lower: Callable                  # (lowering, call, op, ins, outs) -> None; emits the kernel calls
    kernels: tuple[Kernel, ...]      # the C kernels the lowering chooses from
    in_place: str                    # one of IN_PLACE_RULES
    tests: tuple[str, ...]           # "ops:CASE" (tests/test_kernels_ops.py), "qemu:MODEL" (tests/test_kernels_qemu.py)
    folded: bool = False             # computed at compile time (int32 shape arithmetic): no kernel runs

    @property
    def dsp(self) -> bool:
        return any(k.dsp for k in self.kernels)


_OPS: dict[str, OpSpec] = {}


def register(name: str, *kernels: Kernel, in_place: str = NONE, tests: tuple[str, ...] = (), folded=False):
    """Decorator: `fn` lowers the TFLite builtin `name` (one registration per name; stack it for aliases)."""
    if in_place not in IN_PLACE_RULES:
        raise ValueError(f"in_place {in_place!r} is not one of {IN_PLACE_RULES}")

    def wrap(fn):
        if name in _OPS:
            raise ValueError(f"{name} is registered twice")
        _OPS[name] = OpSpec(name, fn, tuple(kernels), in_place, tuple(tests), folded)
        return fn
    return wrap


@functools.lru_cache(maxsize=None)
def ops() -> dict[str, OpSpec]:
    """Every registered operator by name (pipeline/compiler/__init__.py imports the lowering modules, which
    registers them, before anything can call this)."""
    return dict(sorted(_OPS.items()))


def spec(name: str) -> OpSpec:
    return ops()[name]


def check_supported(graph_ops, tensors, model_name: str) -> None:
    """PipelineError naming every unsupported operator with the layer that produced it (its output tensor's
    name), the supported set, and what to do."""
    missing: dict[str, list[str]] = {}
    for op in graph_ops:
        if op.name not in ops():
            layer = _layer(tensors, op.outputs)
            missing.setdefault(op.name, [])
            if layer and layer not in missing[op.name] and len(missing[op.name]) < 3:
                missing[op.name].append(layer)
    if not missing:
        return
    found = "; ".join(f"{name} (from {', '.join(repr(l) for l in layers) or 'an unnamed layer'})"
                      for name, layers in missing.items())
    raise PipelineError(
        f"{model_name} uses operators the AOT engine does not compile: {found}. It compiles "
        f"{len(ops())} ops: {', '.join(ops())}.",
        "Replace the layer with one built from these ops (e.g. Conv2D/Dense/ReLU), or run the model with "
        "TFLite Micro on a board (`tinykd run --engine tflm --port ...`); QEMU and `tinykd verify` need the AOT "
        "engine.")


def _layer(tensors, outputs) -> str:
    for index in outputs:
        if 0 <= index < len(tensors) and tensors[index].name:
            return tensors[index].name
    return ""
