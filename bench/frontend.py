"""Audio front end benchmark: instructions per 1 s clip on QEMU's Cortex-M4 (mps2-an386, -icount shift=7), code
and table size, stack, and bit-identity with the host build (ctypes) on the same clips.

    PYTHONPATH=. python bench/frontend.py              # writes bench/results/frontend.json
    PYTHONPATH=. python bench/frontend.py --data models/kws.npz --clips 40   # also clips of `tinykd data kws`

The test firmware (tests/fixtures/frontend_qemu.c) reads the clips through semihosting, times each
tk_frontend_clip_s16 call with SysTick (instructions = ticks / 3.2 under -icount shift=7) and writes the features
back. tests/test_frontend_qemu.py uses `build_firmware` and `run_in_qemu` from here.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.device import build as firmware_build, emulator  # noqa: E402
from pipeline.audio.frontend import PARAMS, features  # noqa: E402
from pipeline.audio.frontend_tables import FRONTEND_DIR  # noqa: E402
from pipeline.device.audio_input import render_c  # noqa: E402
from pipeline.paths import FIRMWARE, KERNELS  # noqa: E402
from pipeline.targets import board  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "frontend_qemu.c"
RESULTS = ROOT / "bench" / "results" / "frontend.json"
TICKS_PER_INSTRUCTION = 3.2  # SysTick at 25 MHz virtual, one instruction per 128 ns (DESIGN.md)
BOARD = "nano33ble"  # whose flash/RAM budget the test firmware is linked against


def build_firmware(out: Path, model_dir: Path | None = None, table: np.ndarray | None = None) -> Path:
    """The test firmware for QEMU: the fixture + tk_frontend.c (the firmware build's flags) + the qemu_mps2 port;
    with `model_dir` (an AOT model.h/model.c) and `table` (pipeline/device/audio_input.py) also the model and the
    kernels: raw audio to class."""
    port = FIRMWARE / "ports" / "qemu_mps2"
    b = board(BOARD)
    script = firmware_build._link_script(out, BOARD, b.flash_bytes, b.ram_bytes, 8192)
    elf = out / "frontend.elf"
    sources = [FIXTURE, FRONTEND_DIR / "tk_frontend.c", port / "startup.c"]
    includes = [port, KERNELS / "include", FRONTEND_DIR]
    if model_dir is not None:
        (out / "kws_input_table.h").write_text(render_c(table))
        model_dir = Path(model_dir).resolve()
        sources += sorted(model_dir.glob("*.c")) + sorted(KERNELS.rglob("*.c"))
        includes += [model_dir, KERNELS, out]
    done = subprocess.run(["arm-none-eabi-gcc", *firmware_build.ARM_FLAGS, *firmware_build.COMMON_FLAGS, "-Werror",
                           *(["-DTK_KWS_MODEL"] if model_dir is not None else []), *[f"-I{i}" for i in includes],
                           *map(str, sources), "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles",
                           "-Wl,--gc-sections", "-T", str(script), "-o", str(elf)], cwd=out, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"test firmware build failed: {done.stderr[-2000:]}")
    return elf


def run_in_qemu(elf: Path, pcm: np.ndarray, work: Path, timeout: float = 120.0, output_bytes: int = 0) -> dict:
    """Run the clips (n, 16000) int16 through the firmware: features (n, 49, 40) int8, levels int32, ticks (n,);
    with `output_bytes` (a firmware with the model) also the model's int8 outputs and model_ticks."""
    pcm = np.ascontiguousarray(pcm, dtype="<i2")
    (work / "clips.bin").write_bytes(pcm.tobytes())
    command = emulator.qemu_command(elf, 0)
    command = command[:command.index("-serial")] + ["-serial", "null"] + command[command.index("-kernel"):]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=work)
    if done.returncode != 0:
        raise RuntimeError(f"QEMU exited with {done.returncode}: {done.stdout[-500:]} {done.stderr[-500:]}")
    ticks = {int(i): int(t) for i, t in re.findall(r"clip (\d+) ticks (\d+)", done.stdout)}
    n, size = len(pcm), PARAMS.frames * PARAMS.mel_bands
    raw = (work / "features.bin").read_bytes()
    fields = [("features", "i1", size), ("levels", "<i4", size)] + ([("outputs", "i1", output_bytes)]
                                                                    if output_bytes else [])
    rows = np.frombuffer(raw, dtype=np.dtype(fields), count=n)
    shape = (n, PARAMS.frames, PARAMS.mel_bands)
    result = {"features": rows["features"].reshape(shape), "levels": rows["levels"].reshape(shape),
              "ticks": np.array([ticks[i] for i in range(n)])}
    if output_bytes:
        model_ticks = {int(i): int(t) for i, t in re.findall(r"model (\d+) ticks (\d+)", done.stdout)}
        result.update(outputs=rows["outputs"], model_ticks=np.array([model_ticks[i] for i in range(n)]))
    return result


def sizes(out: Path) -> dict:
    """Code + table bytes of tk_frontend.c for the M4 (-O2, as the firmware builds it) and its functions' stack."""
    obj = out / "tk_frontend.o"
    subprocess.run(["arm-none-eabi-gcc", *firmware_build.ARM_FLAGS, *firmware_build.COMMON_FLAGS, "-fstack-usage",
                    "-c", str(FRONTEND_DIR / "tk_frontend.c"), "-o", str(obj)], check=True, cwd=out)
    size = subprocess.run(["arm-none-eabi-size", "-A", "-d", str(obj)], capture_output=True, text=True,
                          check=True).stdout
    sections = {p[0]: int(p[1]) for p in (line.split() for line in size.splitlines()) if len(p) == 3 and
                p[0].startswith(".") and p[1].isdigit()}
    code = sum(v for k, v in sections.items() if k.startswith(".text"))
    tables = sum(v for k, v in sections.items() if k.startswith(".rodata"))
    stack = {fn: int(n) for fn, n in re.findall(r":\d+:\d+:(\w+)\s+(\d+)", (out / "tk_frontend.su").read_text())}
    return {"code_bytes": code, "table_bytes": tables, "stack_bytes_by_function": stack}


def bench_clips(data: str | None, count: int) -> dict[str, np.ndarray]:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_frontend import clips
    named = {k: v[None] for k, v in clips().items()}
    if data:
        with np.load(data) as f:
            named["kws_test"] = f["x_test"][:count]
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="Also measure the first --clips test clips of this `tinykd data kws` .npz.")
    parser.add_argument("--clips", type=int, default=40)
    args = parser.parse_args()
    named = bench_clips(args.data, args.clips)
    pcm = np.concatenate(list(named.values()))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        result = run_in_qemu(build_firmware(out), pcm, out)
        host_q, host_levels = features(pcm, log_mel=True)
        size = sizes(out)
    instructions = result["ticks"] / TICKS_PER_INSTRUCTION
    kinds, at = {}, 0
    for name, clips_of in named.items():
        kinds[name] = int(np.median(instructions[at:at + len(clips_of)]))
        at += len(clips_of)
    report = {
        "what": "instructions per 1 s clip (16,000 int16 -> 49 x 40 int8) of tk_frontend_clip_s16 on QEMU "
                "mps2-an386 Cortex-M4, -icount shift=7 (instructions = SysTick ticks / 3.2), arm-none-eabi-gcc -O2",
        "clips": int(len(pcm)), "bit_identical_to_host": bool(np.array_equal(host_q, result["features"]) and
                                                             np.array_equal(host_levels, result["levels"])),
        "instructions_per_clip": {"median": int(np.median(instructions)), "min": int(instructions.min()),
                                  "max": int(instructions.max()), "by_clip_kind": kinds},
        "instructions_per_frame_median": int(np.median(instructions) / PARAMS.frames),
        "scratch_bytes": 4 * PARAMS.fft, **size, "params": PARAMS.manifest()}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("clips", "bit_identical_to_host", "instructions_per_clip",
                                             "code_bytes", "table_bytes")}, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
