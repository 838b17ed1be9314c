"""`tinykd export --library`: a run's int8 model as a C99 library for the user's own firmware.

One small API namespaced by the library name, so several models live in one program: `NAME_preprocess` (the
run's normalization and int8 input quantization, in float32 step by step like the host's `data` and
`tflm.quantize_input`: bit for bit), `NAME_invoke` (the AOT model: static arena, no malloc), `NAME_postprocess`,
`NAME_argmax`, `NAME_class_names` and size constants. The CMake package (`add_subdirectory`) builds the library
and a host example; the kernels are one shared `tinykd_kernels` target. The Arduino and PlatformIO libraries
carry the kernels renamed to NAME_tk_*, since those build systems compile every library's sources.

Written into a folder tinykd owns (a marker file says so): an existing folder that is not ours is refused, and the
package is assembled beside it and swapped in, so a failure leaves the previous one intact.
"""
from __future__ import annotations

import json
import keyword
import re
import shutil
import zipfile
from pathlib import Path

import jinja2
import numpy as np

from pipeline import __version__
from pipeline.artifacts import GOLDEN, MODEL_INT8
from pipeline.paths import FRONTEND, KERNELS, TEMPLATES as PACKAGE_TEMPLATES
from pipeline.compiler.codegen import compile_model
from pipeline.compiler.lower import c_float
from pipeline.device.audio_input import run_table
from pipeline.int8.carray import c_string
from pipeline.errors import PipelineError
from pipeline.runs import Run, atomic_path

FRONTEND_SOURCES = ("tk_frontend.c", "tk_frontend.h", "tk_frontend_tables.h")
FRONTEND_FUNCTIONS = ("tk_frontend_scratch_size", "tk_frontend_frame_s16", "tk_frontend_clip_s16")
MARKER = ".tinykd-library"  # in every folder `export --library` writes: holds the library name and model hash
FORMATS = ("arduino", "platformio", "cmake")
C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
              "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
              "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
              "volatile", "while", "main", "bool", "true", "false"} | set(keyword.kwlist)
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(PACKAGE_TEMPLATES / "library"),
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True)


def check_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", name) or name in C_KEYWORDS or name.startswith("tk_"):
        raise PipelineError(f"Library name {name!r} is not allowed: it must be a lower-case C identifier of at most "
                            "31 characters, not a C keyword and not starting with tk_ (tinykd's own prefix).",
                            "Use --name gesture_model.")
    return name


def default_name(run_name: str) -> str:
    """A run folder name as a library name: `Fashion-MNIST 2` -> `fashion_mnist_2`."""
    name = re.sub(r"[^a-z0-9_]+", "_", run_name.lower()).strip("_")[:31] or "model"
    return name if name[0].isalpha() and not name.startswith("tk_") and name not in C_KEYWORDS else f"m_{name}"[:31]


def write_library(run_dir: str | Path, out: str | Path, name: str, fmt: str = "cmake") -> Path:
    """Write the library package of the run's model to `out`; returns `out`."""
    check_name(name)
    if fmt not in FORMATS:
        raise PipelineError(f"Library format {fmt!r} is not available: choose one of {', '.join(FORMATS)}.",
                            "Use --format cmake.")
    run, out = Run(run_dir), Path(out)
    model_path = run.file(MODEL_INT8)
    if not model_path.is_file():
        raise PipelineError(f"Run folder '{run.path}' has no int8 model (student_int8.tflite).",
                            f"Run `tinykd quantize --run {run.path.name}` first.")
    if out.exists() and not (out / MARKER).is_file():
        raise PipelineError(f"'{out}' exists and is not a library tinykd wrote (no {MARKER} in it).",
                            "Give --out a new folder; tinykd replaces only folders it made.")
    compiled = compile_model(model_path, prefix=name)
    data = run.manifest.get("data", {})
    norm = data.get("normalization") or {"shift": 0.0, "scale": 1.0}
    shift, scale = (np.atleast_1d(np.asarray(norm[k], dtype=np.float32)) for k in ("shift", "scale"))
    (in_scale, in_zero), (out_scale, out_zero) = compiled.input_quant, compiled.output_quant
    classes = data.get("class_names") or [str(k) for k in range(int(np.prod(compiled.output_shape[1:])))]
    input_shape = list(compiled.input_shape[1:])
    view = {
        # user text (run and class names) as C strings: valid C, and one line of printable ASCII in any comment
        "name": name, "NAME": name.upper(), "run": c_string(run.path.name), "run_json": json.dumps(run.path.name)[1:-1],
        "version": __version__, "sha256": compiled.sha256, "classes": [c_string(c) for c in classes],
        "raw_values": int(np.prod(input_shape)),
        "layout": " x ".join(map(str, input_shape)) + " float32, channels last",
        "per_channel": len(shift) > 1, "shift": [c_float(v) for v in shift], "scale": [c_float(v) for v in scale],
        "input_scale": c_float(in_scale), "input_zero_point": int(in_zero), "output_scale": c_float(out_scale),
        "output_zero_point": int(out_zero), "output_float": compiled.output_dtype == "float32",
    }
    table = run_table(run)  # audio data: NAME_features (front end + the feature -> input table) too
    view.update(frontend=table is not None, table_lines=[] if table is None else _lines([str(int(v)) for v in table],
                                                                                         16))
    with np.load(run.file(GOLDEN)) as golden:
        q, label = golden["inputs"][0].astype(np.float32), int(golden["labels"][0])
    sample = ((q - in_zero) * np.float32(in_scale)).reshape(-1, len(shift)) * scale + shift  # back to raw units
    view.update(lib_version=f"{__version__.split('+')[0]}", arena_bytes=compiled.arena_bytes, sample_index=0,
                sample_class=c_string(classes[label] if label < len(classes) else str(label)),
                sample_lines=_lines([c_float(v) for v in sample.reshape(-1)]))
    files = {f"{name}_model.h": compiled.header, f"{name}_model.c": compiled.source,
             f"{name}.h": TEMPLATES.get_template("api.h.j2").render(**view),
             f"{name}.c": TEMPLATES.get_template("api.c.j2").render(**view)}
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        if fmt == "cmake":
            _cmake_tree(tmp, files, view)
        else:
            _arduino_tree(tmp, files, view, library_json=fmt == "platformio")
        (tmp / MARKER).write_text(f"{name} {fmt} {compiled.sha256}\n")
    if fmt == "arduino":  # the file the Arduino IDE's "Add .ZIP Library" and `arduino-cli lib install --zip-path` take
        with atomic_path(out.with_suffix(".zip")) as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(out.rglob("*")):
                    if path.is_file() and path.name != MARKER:
                        archive.write(path, f"{name}/{path.relative_to(out)}")
    return out


def _cmake_tree(root: Path, files: dict[str, str], view: dict) -> None:
    """CMakeLists.txt, include/ (the API and model headers), src/, kernels/ (shared target), examples/host/."""
    for file, text in files.items():
        _write(root / ("include" if file.endswith(".h") else "src") / file, text)
    _write(root / "CMakeLists.txt", TEMPLATES.get_template("CMakeLists.txt.j2").render(**view))
    _write(root / "examples" / "host" / "main.c", TEMPLATES.get_template("example_main.c.j2").render(**view))
    shutil.copytree(KERNELS, root / "kernels")
    if view["frontend"]:
        (root / "frontend").mkdir()
        for source in FRONTEND_SOURCES:
            shutil.copy(FRONTEND / source, root / "frontend" / source)


def _arduino_tree(root: Path, files: dict[str, str], view: dict, library_json: bool) -> None:
    """Arduino library 1.5 format: library.properties, every source flat in src/ (kernels included: Arduino puts
    only src/ on the include path), examples/classify/classify.ino; PlatformIO also reads library.json."""
    for file, text in files.items():
        _write(root / "src" / file, text)
    for kernel in [*sorted((KERNELS / "src").iterdir()), KERNELS / "include" / "tk_arch.h"]:
        shutil.copy(kernel, root / "src" / kernel.name)
    _namespaced_kernels(root / "src", view["name"])
    if view["frontend"]:  # flat in src/ under this library's names, like the kernels
        renames = "".join(f"#define {f} {view['name']}_{f}\n" for f in FRONTEND_FUNCTIONS)
        for source in FRONTEND_SOURCES:
            text = (FRONTEND / source).read_text()
            if source == "tk_frontend.h":
                text = text.replace("#define TK_FRONTEND_H\n", f"#define TK_FRONTEND_H\n{renames}", 1)
            _write(root / "src" / source, text)
    _write(root / "library.properties", TEMPLATES.get_template("library.properties.j2").render(**view))
    if library_json:
        _write(root / "library.json", TEMPLATES.get_template("library.json.j2").render(**view))
    _write(root / "examples" / "classify" / "classify.ino", TEMPLATES.get_template("classify.ino.j2").render(**view))


def _namespaced_kernels(src: Path, name: str) -> None:
    """The kernels under this library's own names (NAME_tk_conv2d_s8...): Arduino and PlatformIO compile every
    library's sources, so two model libraries each carrying the kernels would define them twice. A header of
    renames, included first by tinykd_kernels.h (which every kernel source includes), keeps each copy apart."""
    header = (KERNELS / "include" / "tinykd_kernels.h").read_text()
    sources = "\n".join(p.read_text() for p in [KERNELS / "include" / "tinykd_kernels.h",
                                                 *sorted((KERNELS / "src").iterdir())])
    # Only names the linker sees clash: macros (the DSP intrinsics' aliases) and static functions stay as they are.
    local = set(re.findall(r"#define\s+(tk_[a-z0-9_]+)", sources)) | \
        set(re.findall(r"\bstatic\b[^;{}()]*?\b(tk_[a-z0-9_]+)\s*\(", sources))
    symbols = sorted(set(re.findall(r"\b(tk_[a-z0-9_]+)\s*\(", sources)) - local)
    renames = "".join(f"#define {symbol} {name}_{symbol}\n" for symbol in symbols)
    guard_name = f"{name.upper()}_KERNEL_NAMES_H"
    _write(src / f"{name}_kernel_names.h", f"/* {name}: the tinykd kernels under this library's names (generated). */\n"
           f"#ifndef {guard_name}\n#define {guard_name}\n{renames}#endif\n")
    guard = "#define TINYKD_KERNELS_H\n"
    _write(src / "tinykd_kernels.h", header.replace(guard, f'{guard}\n#include "{name}_kernel_names.h"\n', 1))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _lines(values: list[str], per_line: int = 8) -> list[str]:
    return [", ".join(values[i:i + per_line]) + "," for i in range(0, len(values), per_line)]
