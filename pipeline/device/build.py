"""Build stage: firmware = app (firmware/src) + a port (firmware/ports) + the AOT model (model.h/model.c).

`build(target, model_dir)` compiles for QEMU's Cortex-M4 with Debian's arm-none-eabi-gcc (`qemu-cm4`, linked
against the chosen board's flash/RAM budget) or for the host with gcc (`host`, optionally under ASan/UBSan).
A model that does not fit fails at link time: the linker's "region overflowed" lines become a PipelineError with
the flash and RAM the firmware needs next to the budget.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from pipeline import __version__
from pipeline.artifacts import AOT_FILES, FIRMWARE_ELF
from pipeline.config import ExportConfig
from pipeline.errors import PipelineError
from pipeline.paths import BUILD, FIRMWARE, FRONTEND, KERNELS
from pipeline.device.protocol import AUDIO_REPLY, INFER_REPLY, MAX_PAYLOAD
from pipeline.targets import board as get_board
from pipeline.targets import target as check_target

APP_SOURCES = ("app.c", "tk_protocol.c", "engine_aot.c")
STACK_USAGE_LIMIT = 2048  # bytes per function (-Wstack-usage), and the size of the MPU guard below the stack
QEMU_MEMORY = 4 << 20  # mps2-an386 has 4 MB at the flash and RAM addresses: used to measure a model that overflows
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
COMMON_FLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", f"-Werror=stack-usage={STACK_USAGE_LIMIT}",
                "-ffunction-sections", "-fdata-sections"]
# C++ engine sources (build(engine=...)): no exceptions, RTTI or thread-safe statics (no C++ runtime is linked).
CXX_FLAGS = ["-std=gnu++14", "-O2", "-g", "-Wall", "-Wextra", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics",
             "-ffunction-sections", "-fdata-sections"]
CXX_SUFFIXES = (".cpp", ".cc", ".cxx")
OVERFLOW = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")


@dataclass(frozen=True)
class BuildResult:
    target: str  # qemu-cm4 | host
    budget: str  # board whose flash/RAM the image was linked against
    elf: Path  # the firmware (QEMU: -kernel ELF; host: executable)
    sizes: dict = field(default_factory=dict)  # text, rodata, data, bss, stack, flash_bytes, ram_bytes, budgets
    warnings: str = ""  # compiler warnings (empty for a clean build)


def build(target: str, model_dir: str | Path, budget: str = ExportConfig.board, out_dir: str | Path | None = None,
          sanitize: bool = False, stack_bytes: int = 8192, defines: dict | None = None,
          engine: list[str | Path] | None = None, input_table=None) -> BuildResult:
    """Compile the firmware for `target` around the model in `model_dir` (model.h + model.c + any other .c).
    `defines` adds -DNAME=VALUE macros. The protocol's frame buffer grows to the model's input and output (see
    payload_bytes) unless `defines` sets TK_PROTO_MAX_PAYLOAD. `engine`: C or C++ sources implementing
    firmware/src/engine.h instead of engine_aot.c (C++ static constructors run before main on QEMU too).
    `input_table` ((256,) int8, pipeline/device/audio_input.py): link the audio front end and this feature -> input
    table, so the firmware answers AUDIO (raw clips) as well as INFER."""
    check_target(target)
    board = get_board(budget)
    model_dir = Path(model_dir)
    missing = [name for name in AOT_FILES if not (model_dir / name).is_file()]
    if missing:
        raise PipelineError(f"Model folder '{model_dir}' has no {' or '.join(missing)}.",
                            "Point --model-dir at the folder `tinykd compile` wrote "
                            "(`tinykd run` writes models/RUN/aot).")
    if stack_bytes < 2 * STACK_USAGE_LIMIT or stack_bytes % 32:
        raise PipelineError(f"stack_bytes={stack_bytes} is not allowed: a multiple of 32, at least "
                            f"{2 * STACK_USAGE_LIMIT} (the lowest {STACK_USAGE_LIMIT} are the overflow guard).",
                            "Use 8192.")
    suffix = "-asan" if sanitize else ""
    out = Path(out_dir) if out_dir else BUILD / "firmware" / f"{target}-{budget}{suffix}"
    out.mkdir(parents=True, exist_ok=True)
    app = [name for name in APP_SOURCES if not (engine and name == "engine_aot.c")]
    sources = [FIRMWARE / "src" / name for name in app] + [Path(e) for e in engine or []] + \
        sorted(model_dir.glob("*.c"))
    includes = [FIRMWARE / "src", model_dir]
    if KERNELS.is_dir():
        sources += sorted(KERNELS.rglob("*.c"))
        includes += [KERNELS] + ([KERNELS / "include"] if (KERNELS / "include").is_dir() else [])
    payload = payload_bytes(model_dir / "model.h", audio=input_table is not None)
    if input_table is not None:
        from pipeline.device.audio_input import render_c
        (out / "tk_input_table.h").write_text(render_c(input_table, "tk_input_table"))
        sources.append(FRONTEND / "tk_frontend.c")
        includes += [FRONTEND, out]
        defines = {"TK_APP_FRONTEND": "1", **(defines or {})}
    defines = {"TK_PROTO_MAX_PAYLOAD": f"{payload}u", **(defines or {})}
    model_flags = [f"-I{path}" for path in includes] + [f"-D{k}={v}" for k, v in defines.items()]
    flags = COMMON_FLAGS + model_flags
    sources = _compile_cxx(sources, model_flags, out, target)
    if target == "host":
        return _build_host(sources, flags, out, budget, sanitize)
    if sanitize:
        raise PipelineError("--sanitize is only available for --target host.", "Drop --sanitize.")
    return _build_qemu(sources, flags, out, board, stack_bytes)


def _compile_cxx(sources: list[Path], flags: list[str], out: Path, target: str) -> list[Path]:
    """The sources with every C++ file compiled to an object first (C++ flags, the target's g++)."""
    compiled = []
    for source in sources:
        if source.suffix not in CXX_SUFFIXES:
            compiled.append(source)
            continue
        obj = out / f"{source.stem}.o"
        cxx = [_tool("arm-none-eabi-g++"), *ARM_FLAGS] if target != "host" else [_tool("g++"), "-fPIE"]
        _run([*cxx, *CXX_FLAGS, *flags, "-c", source, "-o", obj], f"C++ build of {source.name}")
        compiled.append(obj)
    return compiled


def payload_bytes(model_header: Path, audio: bool = False) -> int:
    """The protocol payload the model needs: its input in one frame, its output plus the INFER reply's header in
    another, never below the firmware's default 2 KB (engine_aot.c refuses a build where they do not fit). With
    `audio`, also the AUDIO reply: its header, the features (the model's input) and the output."""
    sizes = dict(re.findall(r"#define TK_MODEL_(INPUT|OUTPUT)_BYTES (\d+)", model_header.read_text()))
    needed = [MAX_PAYLOAD, int(sizes.get("INPUT", 0)), int(sizes.get("OUTPUT", 0)) + INFER_REPLY.size]
    if audio:
        needed.append(AUDIO_REPLY.size + int(sizes.get("INPUT", 0)) + int(sizes.get("OUTPUT", 0)))
    return max(needed)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PipelineError(f"'{name}' is not installed.",
                            "Install it: apt-get install --no-install-recommends gcc-arm-none-eabi "
                            "libnewlib-arm-none-eabi qemu-system-arm (or run `make install`).")
    return path


def _run(args: list, what: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if result.returncode != 0 and not OVERFLOW.search(result.stderr):
        lines = [line for line in result.stderr.splitlines() if "error" in line] or result.stderr.splitlines()
        raise PipelineError(f"{what} failed: {' | '.join(lines[:3])[:600]}", "See the compiler output above.")
    return result


def _build_host(sources, flags, out: Path, budget: str, sanitize: bool) -> BuildResult:
    exe = out / "tinykd_host"
    extra = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"] \
        if sanitize else []
    result = _run([_tool("gcc"), *flags, *extra, "-o", exe, *sources, FIRMWARE / "ports" / "host" /
                   "platform_host.c", f"-I{FIRMWARE / 'ports' / 'host'}"], "Host build")
    return BuildResult("host", budget, exe, {}, result.stderr.strip())


def _link_script(out: Path, budget: str, flash: int, ram: int, stack: int) -> Path:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(FIRMWARE / "ports" / "qemu_mps2"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    text = env.get_template("link.ld.j2").render(generator=f"tinykd {__version__}", budget=budget,
                                                 flash_bytes=flash, ram_bytes=ram, stack_bytes=stack,
                                                 guard_bytes=STACK_USAGE_LIMIT)
    path = out / f"link-{budget}.ld"
    path.write_text(text)
    return path


def _build_qemu(sources, flags, out: Path, board, stack_bytes: int) -> BuildResult:
    port = FIRMWARE / "ports" / "qemu_mps2"
    elf = out / FIRMWARE_ELF
    compile_args = [_tool("arm-none-eabi-gcc"), *ARM_FLAGS, *flags, f"-I{port}",
                    f'-DTK_BOARD_NAME="qemu-mps2-an386/{board.name}"', *sources, port / "startup.c",
                    port / "platform_qemu.c", "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles",
                    "-Wl,--gc-sections", f"-Wl,-Map={out / 'firmware.map'}"]
    script = _link_script(out, board.name, board.flash_bytes, board.ram_bytes, stack_bytes)
    result = _run([*compile_args, "-T", script, "-o", elf], "Firmware build")
    if result.returncode != 0:
        overflows = {region: int(n) for region, n in OVERFLOW.findall(result.stderr)}
        # Link once more into QEMU's full 4 MB only to measure what the firmware needs, then refuse it.
        probe = out / "firmware-unbudgeted.elf"
        _run([*compile_args, "-T", _link_script(out, "unbudgeted", QEMU_MEMORY, QEMU_MEMORY, stack_bytes),
              "-o", probe], "Firmware size probe")
        need = sizes_of(probe)
        probe.unlink()
        elf.unlink(missing_ok=True)
        raise PipelineError(
            f"The firmware does not fit the {board.name} budget "
            f"({', '.join(f'{r} overflowed by {n:,} bytes' for r, n in overflows.items())}): "
            f"flash needs {need['flash_bytes']:,} of {board.flash_bytes:,} bytes "
            f"(text {need['text']:,} + rodata {need['rodata']:,} + data {need['data']:,}), "
            f"RAM needs {need['ram_bytes']:,} of {board.ram_bytes:,} bytes "
            f"(data {need['data']:,} + bss {need['bss']:,} + stack {need['stack']:,}).",
            "Distill a smaller student (--width/--depth), or build for a bigger board (--board esp32).")
    sizes = sizes_of(elf)
    sizes.update(flash_budget=board.flash_bytes, ram_budget=board.ram_bytes)
    return BuildResult("qemu-cm4", board.name, elf, sizes, result.stderr.strip())


def sizes_of(elf: Path) -> dict:
    """Section figures of an ARM ELF from `arm-none-eabi-size -A` (bytes)."""
    text = subprocess.run([_tool("arm-none-eabi-size"), "-A", "-d", str(elf)], capture_output=True, text=True,
                          check=True).stdout
    sections = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    figures = {
        "text": sum(sections.get(s, 0) for s in (".vectors", ".text", ".ARM.exidx")),
        "rodata": sections.get(".rodata", 0),
        "data": sections.get(".data", 0),
        "bss": sections.get(".bss", 0) + sections.get(".noinit", 0),
        "stack": sections.get(".stack", 0),
    }
    figures["flash_bytes"] = figures["text"] + figures["rodata"] + figures["data"]
    figures["ram_bytes"] = figures["data"] + figures["bss"] + figures["stack"]
    return figures
