"""Memory of the AOT engine beside TFLite Micro on the MLPerf Tiny reference architectures and a digits student.

For each model (random weights, full int8): the AOT arena (static plan), the smallest arena TFLM runs with
(bisection over the tflite-micro runtime), their ratio, the constant data of the AOT build and the Cortex-M4
code size (arm-none-eabi-gcc -Os, .text of the generated model.c and of the kernels). Writes
bench/results/memory.json.   Run: PYTHONPATH=. TF_USE_LEGACY_KERAS=1 python bench/memory.py
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # mlperf_tiny.py

import numpy as np  # noqa: E402

import mlperf_tiny  # noqa: E402
from pipeline.compiler import compile_model  # noqa: E402
from pipeline.compiler.codegen import KERNELS_DIR  # noqa: E402
from pipeline.compiler.hostbuild import kernel_sources  # noqa: E402
from pipeline.int8.tflm import minimum_arena_bytes  # noqa: E402

M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-std=c99"]
RESULTS = Path(__file__).parent / "results" / "memory.json"


def models() -> dict[str, bytes]:
    from pipeline.config import StudentConfig
    from pipeline.kd.zoo import build_student
    out = {"digits_student": mlperf_tiny.int8_tflite(
        mlperf_tiny.randomize(build_student(StudentConfig(), (8, 8, 1), 10, seed=0), 1), low=0.0, high=1.0)}
    for name, build in mlperf_tiny.BUILDERS.items():
        out[name] = mlperf_tiny.int8_tflite(mlperf_tiny.randomize(build(), seed=0), seed=0)
    return out


def m4_sizes(compiled) -> dict[str, int] | None:
    """.text / .rodata bytes of model.o and of the kernel objects for the Cortex-M4 (None without the compiler)."""
    if shutil.which("arm-none-eabi-gcc") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        compiled.write(tmp)
        sizes = {}
        for label, sources in (("model", [Path(tmp) / "model.c"]), ("kernels", kernel_sources())):
            objects = []
            for source in sources:
                obj = Path(tmp) / f"{label}_{source.stem}.o"
                subprocess.run(["arm-none-eabi-gcc", *M4_FLAGS, f"-I{KERNELS_DIR / 'include'}", f"-I{tmp}", "-c",
                                str(source), "-o", str(obj)], check=True)
                objects.append(str(obj))
            out = subprocess.run(["arm-none-eabi-size", "-A", *objects], check=True, capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] in (".text", ".rodata") and parts[1].isdigit():
                    key = f"{label}_{parts[0][1:]}_bytes"
                    sizes[key] = sizes.get(key, 0) + int(parts[1])
        return sizes


def main() -> None:
    rows = {}
    for name, model in models().items():
        compiled = compile_model(model)
        tflm = minimum_arena_bytes(model)
        input_bytes, output_bytes = int(np.prod(compiled.input_shape)), int(np.prod(compiled.output_shape))
        row = {"ops": len(compiled.ops), "tflite_bytes": len(model), "aot_arena_bytes": compiled.arena_bytes,
               "aot_arena_plus_io_bytes": compiled.arena_bytes + input_bytes + output_bytes,
               "tflm_arena_bytes": tflm, "arena_ratio": round(compiled.arena_bytes / tflm, 3),
               "arena_plus_io_ratio": round((compiled.arena_bytes + input_bytes + output_bytes) / tflm, 3),
               "aot_constant_bytes": compiled.weight_bytes}
        row.update(m4_sizes(compiled) or {})
        rows[name] = row
        print(f"{name:<18} AOT arena {compiled.arena_bytes:>7,} B  (+I/O {row['aot_arena_plus_io_bytes']:>7,})  "
              f"TFLM {tflm:>7,} B  ratio {row['arena_ratio']:.2f} ({row['arena_plus_io_ratio']:.2f} with I/O)  "
              f"constants {compiled.weight_bytes:,} B")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"note": "AOT arena excludes the caller's input/output buffers (TFLM's arena "
                                           "holds them); *_plus_io_* counts them too.", "models": rows}, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
