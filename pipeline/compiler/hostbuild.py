"""Builds a compiled model with the kernels for the host (gcc, shared library) and runs it through ctypes."""
from __future__ import annotations

import atexit
import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from pipeline.compiler.codegen import KERNELS_DIR, CompiledModel
from pipeline.errors import PipelineError

# Warnings are errors: the generated code and the kernels must stay clean C99.
HOST_CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fPIC"]
# Kernel archives built in this process: (compiler, SHA-256 of the kernel sources) -> libtinykd_kernels.a
_KERNEL_ARCHIVES: dict[tuple[str, str], Path] = {}


def kernel_sources() -> list[Path]:
    return sorted((KERNELS_DIR / "src").glob("*.c"))


def _compile(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"{what} did not compile:\n{result.stderr.strip()}",
                            "This is a bug in the AOT compiler; please report it with the model.")


def kernel_archive(cc: str = "gcc") -> Path:
    """The kernel library as a static archive of position-independent objects, compiled once per process (and
    again only if a kernel source or header changes): every HostModel links it instead of recompiling it."""
    digest = hashlib.sha256()
    for path in [*kernel_sources(), *sorted(KERNELS_DIR.rglob("*.h"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    key = (cc, digest.hexdigest())
    if key not in _KERNEL_ARCHIVES or not _KERNEL_ARCHIVES[key].is_file():
        work = Path(tempfile.mkdtemp(prefix="tinykd-kernels-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        objects = []
        for source in kernel_sources():
            objects.append(str(work / (source.stem + ".o")))
            _compile([cc, *HOST_CFLAGS, f"-I{KERNELS_DIR / 'include'}", "-c", str(source), "-o", objects[-1]],
                     f"Kernel {source.name}")
        archive = work / "libtinykd_kernels.a"
        _compile(["ar", "rcs", str(archive), *objects], "The kernel archive")
        _KERNEL_ARCHIVES[key] = archive
    return _KERNEL_ARCHIVES[key]


class HostModel:
    """The compiled model as a host shared library; `run` maps int8 inputs (batch, *input_shape) to outputs."""

    def __init__(self, compiled: CompiledModel, cc: str = "gcc"):
        for tool in (cc, "ar"):
            if shutil.which(tool) is None:
                raise PipelineError(f"{tool!r} not found.", "Install gcc and binutils (apt-get install gcc).")
        self.compiled = compiled
        archive = kernel_archive(cc)
        self._dir = tempfile.TemporaryDirectory(prefix="tinykd-aot-")
        work = Path(self._dir.name)
        compiled.write(work)
        library = work / "libmodel.so"
        _compile([cc, *HOST_CFLAGS, "-shared", f"-I{KERNELS_DIR / 'include'}", f"-I{work}", str(work / "model.c"),
                  str(archive), "-o", str(library)], "The generated C")
        self._lib = ctypes.CDLL(str(library))
        self._invoke = self._lib.tk_model_invoke
        self._invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._invoke.restype = ctypes.c_int

    def run(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.ascontiguousarray(inputs, dtype=np.int8).reshape(-1, *self.compiled.input_shape[1:])
        outputs = np.zeros((len(inputs), *self.compiled.output_shape[1:]), dtype=self.compiled.output_dtype)
        rows_in, rows_out = inputs.reshape(len(inputs), -1), outputs.reshape(len(inputs), -1)  # views, any rank
        for i in range(len(inputs)):
            x, y = rows_in[i], rows_out[i]
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
