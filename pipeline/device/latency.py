"""Per-board latency estimate: the Cortex-M4 cycle model on the run's QEMU firmware, as milliseconds at the
board's clock. Recorded as stage `cycles` in run.json (after validate); the report, `tinykd run`'s final table and
`tinykd inspect` show it with its range and assumptions.

What the figure assumes (each also in the recorded metrics):
- the code is the QEMU firmware's (arm-none-eabi-gcc 12, -O2); a PlatformIO build for the board (GCC 7, -Os,
  Mbed OS) compiles the same C to other instructions, and the hot kernel loops are C with DSP intrinsics;
- cycles per instruction from the Cortex-M4 TRM's tables on a zero-wait-state memory: the nRF52840's flash wait
  states are not published; its instruction cache (NVMC ICACHE) is assumed on and hitting in the hot loops, and
  loads of constant data (weights in flash) assumed not to wait. Each wait state on those loads would add at most
  `ms_per_wait_state` (every word loaded counted, activations in RAM included: an upper bound);
- the range (low-high) spans the TRM's variable terms: the branch refill P of 1 to 3 cycles, IT folding, divide
  early termination, literal-load contention;
- no interrupts during the inference (Mbed OS's tick would add a few microseconds per millisecond).
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

from pipeline.artifacts import FIRMWARE, FIRMWARE_ELF, GOLDEN, MODEL_INT8
from pipeline.errors import PipelineError, stage
from pipeline.runs import MANIFEST, Run, fingerprint
from pipeline.targets import budget_board

CLOCK_HZ = {"nano33ble": 64_000_000}  # nRF52840's Cortex-M4F; other boards: no cycle model
BOARD_NAMES = {"nano33ble": "Arduino Nano 33 BLE", "esp32": "ESP32"}
NOT_ESTIMATED = {"esp32": "the ESP32's Xtensa LX6 runs other code than the QEMU Cortex-M4 firmware and has no "
                          "cycle model here; validate on the board (--port) for its own timer"}
STAGE = "cycles"


def _model_version() -> str:
    """The cycle model's own sources: a change to them reruns the stage."""
    from pipeline.device import cycles, m4_timing
    return hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (cycles, m4_timing))).hexdigest()[:16]


def summarize(estimate, board: str, trace, report: dict) -> dict:
    """The figures recorded for `board` from a cycle estimate of one traced inference."""
    hz = CLOCK_HZ[board]
    low, nominal, high = estimate.cycles
    ms = lambda cycles: round(1000 * cycles / hz, 3)
    return {
        "board": board, "estimated": True, "clock_hz": hz,
        "cycles": nominal, "cycles_low": low, "cycles_high": high,
        "ms": ms(nominal), "ms_low": ms(low), "ms_high": ms(high),
        "instructions": estimate.instructions,  # the trace's own count of the window
        "instructions_icount": report.get("instructions_median"),  # the SysTick figure of the same inference
        "cycles_per_instruction": round(nominal / max(estimate.instructions, 1), 3),
        "words_loaded": estimate.words_loaded, "ms_per_wait_state": ms(estimate.words_loaded),
        "taken_branches": estimate.taken_branches,
        "assumptions": {"flash_wait_states": 0, "branch_refill_cycles": [1, 2, 3], "divide_cycles": [2, 7, 12],
                        "code": "QEMU firmware (arm-none-eabi-gcc -O2)", "interrupts": "none"},
        "trace": {"lines": trace.lines, "bytes": trace.bytes, "seconds": trace.seconds, "blocks": estimate.blocks},
    }


@stage(STAGE)
def cycles_stage(cfg, *, force: bool = False, log: Callable[[str], None] = print) -> dict:
    """Estimate the budget board's latency from one traced inference of the build stage's firmware."""
    from pipeline.device.cycles import estimate, trace_inference
    from pipeline.device.validation import check_bit_exact

    run = Run(cfg.run_dir)
    board = budget_board(cfg.export.board, cfg.export.stand_in)
    if not run.intact(FIRMWARE) or not run.intact(GOLDEN):
        raise PipelineError(f"Run folder '{run.path}' has no intact firmware and golden data.",
                            "Run `tinykd run` (it builds the firmware first).")
    fp = fingerprint(STAGE, _model_version(), board, run.sha(FIRMWARE), run.sha(GOLDEN))
    if not force and run.is_fresh(STAGE, fp):
        log(f"{STAGE:<9} unchanged, skipped (--force reruns)")
        return run.metrics(STAGE)
    started = time.time()
    if board not in CLOCK_HZ:
        metrics = {"board": board, "estimated": False, "reason": NOT_ESTIMATED.get(board, "no cycle model")}
    else:
        trace, report = trace_inference(run.file(FIRMWARE) / FIRMWARE_ELF, run.path)
        check_bit_exact(report, recorded=False)
        metrics = summarize(estimate(trace), board, trace, report)
    metrics["model_sha256"] = run.sha(MODEL_INT8)
    run.record(STAGE, fp, [], metrics, time.time() - started)
    log(f"{STAGE:<9} " + "; ".join(f"{w}: {v} ({h})" for w, v, h in rows(metrics)))
    return metrics


def rows(metrics: dict) -> list[tuple[str, str, str]]:
    """(what, value, how) rows for the report's latency table and the final table; none before the stage ran."""
    if not metrics:
        return []
    name = BOARD_NAMES.get(metrics["board"], metrics["board"])
    if not metrics.get("estimated"):
        return [(f"estimated latency on the {name}", "not estimated", metrics.get("reason", ""))]
    mhz = metrics["clock_hz"] / 1e6
    return [(f"estimated latency on the {name}", f"{metrics['ms']:,.1f} ms ({metrics['ms_low']:,.1f}-"
                                                  f"{metrics['ms_high']:,.1f})",
             f"{metrics['cycles']:,} Cortex-M4 cycles at {mhz:g} MHz, TRM timings on the QEMU trace; zero flash "
             f"wait states assumed, each would add up to {metrics['ms_per_wait_state']:,.1f} ms")]


def recorded(model: str | Path, sha256: str) -> dict:
    """The estimate recorded for `model` when it is a run's int8 model (run.json beside it), else {}."""
    manifest = Path(model).resolve().parent / MANIFEST
    try:
        metrics = json.loads(manifest.read_text())["stages"][STAGE]["metrics"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return metrics if metrics.get("model_sha256") == sha256 else {}
