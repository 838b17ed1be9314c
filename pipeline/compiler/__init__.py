"""AOT engine: compiles an int8 .tflite into plain C99 (model.h, model.c) that calls firmware/lib/tinykd_kernels,
bit-exact with TFLite Micro. `compile_model` is the entry point; `verify` checks it against the TFLM runtime."""
from pipeline.compiler import ops as _lowerings  # noqa: F401  (importing them fills the op registry)
from pipeline.compiler.codegen import CompiledModel, compile_model

__all__ = ["CompiledModel", "compile_model"]
