"""Builds a compiled model with the kernels for the host (gcc, shared library) and runs it through ctypes."""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from pipeline.compiler.codegen import KERNELS_DIR, CompiledModel
from pipeline.errors import PipelineError

# Warnings are errors: the generated code and the kernels must stay clean C99.
HOST_CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fPIC", "-shared"]


def kernel_sources() -> list[Path]:
    return sorted((KERNELS_DIR / "src").glob("*.c"))


class HostModel:
    """The compiled model as a host shared library; `run` maps int8 inputs (batch, *input_shape) to outputs."""

    def __init__(self, compiled: CompiledModel, cc: str = "gcc"):
        if shutil.which(cc) is None:
            raise PipelineError(f"C compiler {cc!r} not found.", "Install gcc (apt-get install gcc).")
        self.compiled = compiled
        self._dir = tempfile.TemporaryDirectory(prefix="tinykd-aot-")
        work = Path(self._dir.name)
        compiled.write(work)
        library = work / "libmodel.so"
        command = [cc, *HOST_CFLAGS, f"-I{KERNELS_DIR / 'include'}", f"-I{work}", str(work / "model.c"),
                   *map(str, kernel_sources()), "-o", str(library)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise PipelineError(f"The generated C did not compile:\n{result.stderr.strip()}",
                                "This is a bug in the AOT compiler; please report it with the model.")
        self._lib = ctypes.CDLL(str(library))
        self._invoke = self._lib.tk_model_invoke
        self._invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._invoke.restype = ctypes.c_int

    def run(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.ascontiguousarray(inputs, dtype=np.int8).reshape(-1, *self.compiled.input_shape[1:])
        outputs = np.zeros((len(inputs), *self.compiled.output_shape[1:]), dtype=np.int8)
        for i in range(len(inputs)):
            x, y = inputs[i], outputs[i]
            status = self._invoke(x.ctypes.data, y.ctypes.data)
            if status != 0:
                raise PipelineError(f"tk_model_invoke returned {status} on sample {i}.",
                                    "This is a bug in the AOT compiler; please report it with the model.")
        return outputs

    def close(self) -> None:
        self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
