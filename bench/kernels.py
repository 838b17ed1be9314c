"""Kernel benchmark: instructions per inference and per MAC of the AOT engine on QEMU's Cortex-M4.

    PYTHONPATH=. python bench/kernels.py --label after            # every model (about 3 minutes)
    PYTHONPATH=. python bench/kernels.py --label before --models ds_cnn resnet8
    PYTHONPATH=. python bench/kernels.py --table                   # the README table from the JSON
    PYTHONPATH=. python bench/kernels.py --profile resnet8         # instructions per operator (not saved)
    PYTHONPATH=. python bench/kernels.py --functions resnet8       # ... per function (not saved)
    PYTHONPATH=. python bench/kernels.py --profile models/run/student_int8.tflite  # ... of your own model
    PYTHONPATH=. python bench/kernels.py --cycles --label cycles   # the estimate vs MLPerf Tiny, from the JSON
    PYTHONPATH=. python bench/kernels.py --label policies --models resnet8 --optimize speed size balanced
    PYTHONPATH=. python bench/kernels.py --policy-table --label policies  # per model and --optimize policy

Each model (random weights, full int8) is compiled by the AOT compiler, built for `qemu-cm4` by pipeline/device/build.py
and validated in QEMU by the validate stage (pipeline/device/stages.py) against the TFLite Micro runtime's
outputs (bit for bit) on a few random inputs; QEMU runs with -icount shift=7, so the device's SysTick gives exact
instruction counts (instructions = ticks / 3.2). Writes bench/results/kernels.json: per model and label,
instructions per inference and per MAC, MACs (CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED), flash text +
rodata, the number of outputs that differ from TFLM (must be 0), and the estimated Cortex-M4 cycles of one
inference with its milliseconds at the Nano 33 BLE's 64 MHz (pipeline/device/latency.py: the TRM's timings on a QEMU
execution trace; low-high range; zero flash wait states). With --optimize, each model is compiled once per policy
(pipeline/compiler/policy.py); the default policy's figures are the model's row, every policy's go under its
"policies" (with the weight layout and constant bytes per layer). Other labels already in the file are kept.
"""
from __future__ import annotations

import argparse
import bisect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from aot_models import aot_run, mlperf, student  # noqa: E402
from device_helpers import validate_in  # noqa: E402
from pipeline.device import cycles, emulator, latency, session  # noqa: E402
from pipeline.artifacts import MODEL_INT8  # noqa: E402
from pipeline.compiler.policy import DEFAULT as DEFAULT_POLICY, POLICIES  # noqa: E402
from pipeline.device.build import build  # noqa: E402
from pipeline.device.validation import instructions as instructions_of  # noqa: E402
from pipeline.int8.inspect_tflite import inspect_model  # noqa: E402

# name -> (int8 .tflite maker, inputs streamed; the big-input models get fewer: the UART runs ~20 KB/s)
MODELS = {
    "digits_student": (lambda: student("dsconv"), 20),                        # 8x8x1, dsconv width 8 depth 3
    "fashion_student": (lambda: fashion_student(), 10),                     # 28x28x1, dsconv width 16 depth 3
    "resnet8": (lambda: mlperf("resnet8"), 4),
    "ds_cnn": (lambda: mlperf("ds_cnn"), 10),
    "mobilenet_v1_025": (lambda: mlperf("mobilenet_v1_025"), 2),
    "fc_autoencoder": (lambda: mlperf("fc_autoencoder"), 10),
}
BUDGET = "nano33ble"  # every model fits the Nano 33 BLE's 960 KB flash / 256 KB RAM
MLPERF = "https://github.com/mlcommons/tiny_results_v{}/blob/main/closed/{}/performance/results.txt"
# Published Cortex-M4 latencies of the same architectures (MLPerf Tiny closed division, median throughput over
# 5 windows, NUCLEO-L4R5ZI: STM32L4R5, Cortex-M4F at 120 MHz), with CMSIS-NN kernels: model -> [(what, ms, url)]
PUBLISHED = {
    "ds_cnn": [("v1.0 OctoML, microTVM + CMSIS-NN", 1000 / 10.019,
                MLPERF.format("1.0", "OctoML/results/microtvm_cmsis_nn/NUCLEO_L4R5ZI/kws")),
               ("v0.5 reference, TFLM 2.3.1 + CMSIS-NN", 1000 / 5.497,
                MLPERF.format("0.5", "reference/results/Nucleo-L4R5ZI/kws"))],
    "resnet8": [("v1.0 OctoML, microTVM + CMSIS-NN", 1000 / 2.567,
                 MLPERF.format("1.0", "OctoML/results/microtvm_cmsis_nn/NUCLEO_L4R5ZI/ic")),
                ("v0.5 reference, TFLM 2.3.1 + CMSIS-NN", 1000 / 1.420,
                 MLPERF.format("0.5", "reference/results/Nucleo-L4R5ZI/ic"))],
}
PUBLISHED_HZ = 120_000_000
# TFLM + CMSIS-NN built from its own sources, instructions per inference on the same QEMU (issue 19, DESIGN.md)
TFLM_CMSIS_INSTRUCTIONS = {"ds_cnn": 7_701_428, "resnet8": 29_857_722, "mobilenet_v1_025": 24_101_980,
                           "fc_autoencoder": 595_935}
OUT = ROOT / "bench" / "results" / "kernels.json"


def fashion_student() -> bytes:
    """The Fashion-MNIST-shaped student (random weights), converted like tests/aot_models.student."""
    import mlperf_tiny
    from pipeline.config import StudentConfig
    from pipeline.kd.zoo import build_student
    model = build_student(StudentConfig(family="dsconv", width=16, depth=3), (28, 28, 1), 10, seed=0)
    return mlperf_tiny.int8_tflite(mlperf_tiny.randomize(model, seed=1), low=0.0, high=1.0)


def _prepare(name: str, model: bytes, samples: int, work: Path, optimize: str = DEFAULT_POLICY):
    """Run folder with the model and TFLM's outputs on random inputs (the oracle), and the compiled model."""
    return work / name, aot_run(work / name, model, samples, seed=0, optimize=optimize)


def measure(name: str, model: bytes, samples: int, work: Path, optimize: str = DEFAULT_POLICY) -> dict:
    work = work / optimize
    run, compiled = _prepare(name, model, samples, work, optimize)
    started = time.time()
    report = validate_in("qemu", run, work / f"{name}-build", board=BUDGET, timeout=30.0)
    sizes, macs = report["firmware"], inspect_model(run / MODEL_INT8, arena=False)["macs"]
    instructions = report["instructions_median"]
    trace, traced = cycles.trace_inference(work / f"{name}-build" / "firmware.elf", run)
    estimate = latency.summarize(cycles.estimate(trace), BUDGET, trace, traced)
    return {
        "macs": macs,
        "instructions_per_inference": round(instructions),
        "instructions_per_mac": round(instructions / macs, 3),
        "flash_text_plus_rodata": sizes["text"] + sizes["rodata"],
        "flash_text": sizes["text"],
        "flash_rodata": sizes["rodata"],
        "ram_bytes": sizes["ram_bytes"],
        "arena_bytes": compiled.arena_bytes,
        "samples": report["samples"],
        "mismatched_outputs": report["mismatched_outputs"],  # against TFLM, in QEMU: must be 0
        **{key: estimate[key] for key in ("cycles", "cycles_low", "cycles_high", "cycles_per_instruction",
                                          "words_loaded", "ms_per_wait_state")},
        "ms_at_64mhz": estimate["ms"], "ms_at_64mhz_low": estimate["ms_low"], "ms_at_64mhz_high": estimate["ms_high"],
        "trace": estimate["trace"],  # the execution log streamed through a FIFO: lines, bytes, seconds
        "seconds": round(time.time() - started, 1),
        "optimize": optimize, "weight_bytes": compiled.weight_bytes,
        "layers": [f"{e['op']} {e['layout']} {e['weight_bytes']}" for _, e in sorted(compiled.layers.items())],
    }


def policy_table(results: dict, label: str) -> str:
    """Markdown: per model and --optimize policy, instructions (per MAC), estimated cycles, flash, RAM and the
    outputs that differ from TFLM."""
    lines = ["| model | --optimize | instructions | instr/MAC | est. cycles | ms at 64 MHz | flash (text+rodata) | "
             "RAM | constant data | outputs differing from TFLM |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in results.get(label, {}).items():
        for optimize, m in (row.get("policies", {}) if isinstance(row, dict) else {}).items():
            lines.append(f"| {name} | {optimize} | {m['instructions_per_inference']:,} | "
                         f"{m['instructions_per_mac']:.3f} | {m['cycles']:,} | {m['ms_at_64mhz']:.1f} | "
                         f"{m['flash_text_plus_rodata']:,} | {m['ram_bytes']:,} | {m['weight_bytes']:,} | "
                         f"{m['mismatched_outputs']} |")
    return "\n".join(lines)


def profile(name: str, model: bytes, work: Path) -> dict:
    """Instructions per operator of one inference: the firmware built with -DTK_PROFILE_OPS prints "op <index>
    <ticks>" per operator on QEMU's stdout (semihosting). Returns the operators (name, output shape, MACs,
    instructions) and the device's count for the whole inference (which includes the printing)."""
    run, _ = _prepare(name, model, 1, work)
    firmware = build("qemu-cm4", run / "aot", budget=BUDGET, out_dir=work / f"{name}-profile",
                     defines={"TK_PROFILE_OPS": "1"})
    with emulator.qemu(firmware.elf) as emu:
        report = session.validate(emu.url, run, progress=False, bye=True, icount_shift=emu.icount_shift,
                                  timeout=30.0, reconnect_s=0)
        emu.finish()
        printed = emu.process.stdout.read()
    ticks = {}
    for line in printed.splitlines():
        if line.startswith("op "):
            _, index, count = line.split()
            ticks[int(index)] = int(count)  # the last inference's, if the harness retried
    layers = inspect_model(run / MODEL_INT8, arena=False)["layers"]  # one per operator, in order
    ops = [{"index": i, "op": layer["op"], "output": layer["outputs"][0], "macs": layer["macs"],
            "instructions": instructions_of(ticks[i], report["tick_hz"], emu.icount_shift) if i in ticks else None}
           for i, layer in enumerate(layers)]
    return {"model": name, "ops": ops, "mismatched_outputs": report["mismatched_outputs"],
            "inference_instructions": report["instructions_median"]}


def functions(name: str, model: bytes, work: Path) -> list[tuple[str, int]]:
    """Instructions of one inference per function of the firmware (the kernels' inner loops, their C drivers),
    most first: the QEMU execution trace of pipeline/device/cycles.py, each block's instructions counted against
    the function (`arm-none-eabi-nm`) it starts in."""
    run, _ = _prepare(name, model, 1, work)
    validate_in("qemu", run, work / f"{name}-build", board=BUDGET, timeout=60.0)
    return functions_in(work / f"{name}-build" / "firmware.elf", run)


def functions_in(elf: Path, run: Path) -> list[tuple[str, int]]:
    """`functions` of a firmware already built for the run folder `run`."""
    trace, _ = cycles.trace_inference(elf, run)
    symbols = sorted((int(address, 16) & ~1, symbol) for address, _, kind, symbol in  # (Thumb bit)
                     (line.split() for line in subprocess.run(["arm-none-eabi-nm", "-n", "-S", str(elf)],
                                                              capture_output=True, text=True, check=True)
                      .stdout.splitlines() if len(line.split()) == 4) if kind in "tTwW")
    starts = [address for address, _ in symbols]
    counts: dict[str, int] = {}
    for (block, first, last, _), times in trace.counts.items():
        insns = trace.blocks[block][first:last]
        if insns:
            at = bisect.bisect_right(starts, insns[0].address) - 1
            symbol = symbols[at][1] if at >= 0 else "?"
            counts[symbol] = counts.get(symbol, 0) + times * len(insns)
    return sorted(counts.items(), key=lambda item: -item[1])


def profile_table(prof: dict) -> str:
    """Markdown of `profile`'s result: per operator, MACs, instructions, share and instructions per MAC."""
    total = sum(op["instructions"] or 0 for op in prof["ops"])
    lines = [f"{prof['model']}: {prof['mismatched_outputs']} outputs differ from TFLM; {total:,.0f} instructions in "
             "the operators", "| op | operator | output | MACs | instructions | share | instr/MAC |",
             "| ---: | --- | --- | ---: | ---: | ---: | ---: |"]
    for op in prof["ops"]:
        count, macs = op["instructions"] or 0, op["macs"]
        per_mac = f"{count / macs:.2f}" if macs else ""
        lines.append(f"| {op['index']} | {op['op']} | {tuple(op['output'])} | {macs:,} | {count:,.0f} | "
                     f"{100 * count / total:.1f}% | {per_mac} |")
    return "\n".join(lines)


def table(results: dict, before: str = "before", after: str = "after") -> str:
    """Markdown: per model, instructions per MAC and per inference before and after, and the flash growth."""
    lines = ["| model | MACs | instr/MAC before | instr/MAC after | instructions before | instructions after | "
             "speed-up | flash (text+rodata) before | after | growth |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in MODELS:
        if name not in results.get(before, {}) or name not in results.get(after, {}):
            continue
        b, a = results[before][name], results[after][name]
        lines.append(f"| {name} | {a['macs']:,} | {b['instructions_per_mac']:.2f} | {a['instructions_per_mac']:.3f} | "
                     f"{b['instructions_per_inference']:,} | {a['instructions_per_inference']:,} | "
                     f"{b['instructions_per_inference'] / a['instructions_per_inference']:.1f}x | "
                     f"{b['flash_text_plus_rodata']:,} | {a['flash_text_plus_rodata']:,} | "
                     f"{a['flash_text_plus_rodata'] - b['flash_text_plus_rodata']:+,} |")
    return "\n".join(lines)


def comparison(name: str, row: dict) -> list[dict]:
    """The estimate beside each published Cortex-M4 latency of the same architecture, in cycles (ms x clock)."""
    out = []
    for what, ms, url in PUBLISHED.get(name, []):
        published = round(ms * PUBLISHED_HZ / 1000)
        tflm = TFLM_CMSIS_INSTRUCTIONS.get(name)
        out.append({"published": f"MLPerf Tiny {what}, NUCLEO-L4R5ZI (Cortex-M4F 120 MHz)",
                    "ms_at_120mhz": round(ms, 2), "cycles": published, "source": url,
                    "ratio": round(row["cycles"] / published, 3),
                    # cycles per instruction on the board if TFLM + CMSIS-NN's QEMU instruction count applied (an
                    # indication only: the published builds are microTVM, or TFLM 2.3.1, not today's TFLM)
                    "implied_cycles_per_instruction": round(published / tflm, 2) if tflm else None})
    return out


def cycles_table(results: dict, label: str) -> str:
    """Markdown: per model, instructions, estimated cycles and ms at 64 MHz, and the published comparison."""
    lines = ["| model | instructions | est. cycles (low-high) | cycles/instr | ms at 64 MHz (low-high) | "
             "+ms per flash wait state (bound) |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    notes = []
    for name, row in results.get(label, {}).items():
        if not isinstance(row, dict) or "cycles" not in row:
            continue
        lines.append(f"| {name} | {row['instructions_per_inference']:,} | {row['cycles']:,} ({row['cycles_low']:,}-"
                     f"{row['cycles_high']:,}) | {row['cycles_per_instruction']:.2f} | {row['ms_at_64mhz']:.1f} "
                     f"({row['ms_at_64mhz_low']:.1f}-{row['ms_at_64mhz_high']:.1f}) | {row['ms_per_wait_state']:.1f} |")
        for c in row.get("published", []):
            notes.append(f"- {name}: {row['cycles']:,} estimated cycles vs {c['cycles']:,} ({c['ms_at_120mhz']} ms x "
                         f"120 MHz) for {c['published']}: ratio {c['ratio']:.2f}; that board's cycles per TFLM + "
                         f"CMSIS-NN QEMU instruction {c['implied_cycles_per_instruction']}, the model's "
                         f"{row['cycles_per_instruction']:.2f} ({c['source']})")
    return "\n".join(lines + [""] + notes)


def git_commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()


def model_of(parser: argparse.ArgumentParser, name: str) -> bytes:
    """The .tflite of a built-in model name, or of a file."""
    if name in MODELS:
        return MODELS[name][0]()
    if name.endswith(".tflite") and Path(name).is_file():
        return Path(name).read_bytes()
    parser.error(f"model {name!r}: one of {', '.join(MODELS)}, or an int8 .tflite file that exists")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after", help="key to store the figures under (before, after, ...)")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--table", action="store_true", help="only print the README table (before vs after)")
    parser.add_argument("--profile", metavar="MODEL", help="only print one model's instructions per operator (a name "
                        "above or an int8 .tflite file)")
    parser.add_argument("--functions", metavar="MODEL", help="only print one model's instructions per function")
    parser.add_argument("--cycles", action="store_true", help="only print the cycle estimates of --label")
    parser.add_argument("--optimize", nargs="*", default=[DEFAULT_POLICY], choices=POLICIES,
                        help="compile each model under these --optimize policies (the default's is the model's row)")
    parser.add_argument("--policy-table", action="store_true", help="only print --label's per-policy table")
    args = parser.parse_args()
    if args.policy_table:
        print(policy_table(json.loads(args.out.read_text()), args.label))
        return
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    if args.cycles:
        print(cycles_table(json.loads(args.out.read_text()), args.label))
        return
    if args.functions:
        with tempfile.TemporaryDirectory(prefix="tinykd-functions-") as tmp:
            counts = functions(Path(args.functions).stem, model_of(parser, args.functions), Path(tmp))
        total = sum(n for _, n in counts)
        print(f"{args.functions}: {total:,} instructions in one inference\n| function | instructions | share |\n"
              "| --- | ---: | ---: |")
        print("\n".join(f"| `{name}` | {n:,} | {100 * n / total:.1f}% |" for name, n in counts if n >= total // 1000))
        return
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="tinykd-profile-") as tmp:
            print(profile_table(profile(Path(args.profile).stem, model_of(parser, args.profile), Path(tmp))))
        return

    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results.setdefault("notes", "QEMU mps2-an386 -icount shift=7,sleep=off: instructions = SysTick ticks / 3.2 "
                                "(instructions, not Cortex-M4 cycles). Median over the samples. Firmware built "
                                f"by pipeline/device/build.py (arm-none-eabi-gcc -O2), budget {BUDGET}. MACs count "
                                "CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED.")
    results.setdefault("cycles_notes", "cycles: pipeline/device/latency.py's estimate of one inference (Cortex-M4 TRM "
                                       "timings on a QEMU -d exec,nochain,in_asm trace), nominal and low-high; ms "
                                       "at 64 MHz (Nano 33 BLE), zero flash wait states assumed; ms_per_wait_state "
                                       "bounds what each wait state on loads would add. published: MLPerf Tiny "
                                       "figures at 120 MHz in cycles and the ratio estimate / published.")
    label = results.setdefault(args.label, {})
    label["commit"] = git_commit()
    with tempfile.TemporaryDirectory(prefix="tinykd-kernels-") as tmp:
        for name in args.models:
            make, samples = MODELS[name]
            model = make()
            policies = {optimize: measure(name, model, samples, Path(tmp), optimize) for optimize in args.optimize}
            label[name] = dict(policies.get(DEFAULT_POLICY) or next(iter(policies.values())), policies=policies)
            label[name]["published"] = comparison(name, label[name])
            print(name, json.dumps(label[name]), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
