"""The validate stage's record in run.json and its emulator run, until the device stages take them over. The
session loop is pipeline/session.py, the golden data pipeline/golden.py, the report pipeline/validation.py."""
from __future__ import annotations

from pathlib import Path

from pipeline.artifacts import GOLDEN as GOLDEN_FILE, MODEL_INT8 as MODEL_FILE  # noqa: F401
from pipeline.errors import PipelineError
from pipeline.runs import sha256_file
from pipeline.session import MAX_RESETS, TIMEOUT, open_port, probe, validate, validate_emulated  # noqa: F401
from pipeline.validation import check_bit_exact, format_report, instructions, summarize  # noqa: F401


def record(run_dir: str | Path, report: dict, url: str, fp: str | None = None) -> str:
    """Add the validation to the run's manifest (run.json) as stage `validate`, or `validate_host` for the x86
    host build; returns that stage's name (`fp`: the caller's fingerprint, e.g. one that covers the firmware, so an
    unchanged validation can be skipped)."""
    from pipeline.runs import HOST_BUILD, Run, fingerprint
    run = Run(run_dir)
    device = report["device"]
    metrics = {key: report[key] for key in ("samples", "accuracy", "host_accuracy", "mismatched_outputs",
                                            "mismatched_values", "latency_us", "tick_hz", "throughput_samples_per_s",
                                            "instructions_median", "confusion") if key in report}
    metrics.update(board=device["board"], engine=device["engine"], stack_used=device["stack_used"],
                   device_arena_bytes=device["arena_bytes"], firmware=report.get("firmware", {}))
    golden = sha256_file(Path(run_dir) / GOLDEN_FILE)
    # The x86 host build checks the engine but is no device: its record never replaces the emulator's or board's.
    name = HOST_BUILD if device["board"].startswith("host") else "validate"
    run.manifest.setdefault("validations", {})[device["board"]] = {**metrics, "port": url}
    run.record(name, fp or fingerprint(url, device["model_sha256_prefix"], golden), [], metrics,
               report.get("seconds", 0.0), port=url)
    return name


def validate_on_emulator(emulator: str, run_dir: str | Path, model_dir: str | Path, budget: str = "nano33ble",
                         limit: int = 0, sanitize: bool = False, timeout: float = TIMEOUT, progress: bool = True,
                         build_dir: str | Path | None = None, elf: str | Path | None = None) -> dict:
    """Build the firmware for `emulator` (qemu | host; renode takes a PlatformIO `elf`), run it, validate it and
    check that it exits by itself with status 0."""
    from pipeline import emulator as emulators
    from pipeline.build import build

    if emulator not in ("qemu", "host", "renode"):
        raise PipelineError(f"Unknown emulator '{emulator}': choose one of qemu, host, renode.",
                            "Use --emulator qemu.")
    if emulator == "renode":
        if elf is None:
            raise PipelineError("--emulator renode needs --elf (the PlatformIO nano33ble_renode firmware).",
                                "Build it with `pio run -e nano33ble_renode`, then pass "
                                "--elf .pio/build/nano33ble_renode/firmware.elf.")
        context, figures = emulators.renode(elf, log=Path(run_dir) / "renode.log"), {}
    else:
        target = "qemu-cm4" if emulator == "qemu" else "host"
        result = build(target, model_dir, budget=budget, out_dir=build_dir, sanitize=sanitize)
        figures = result.sizes
        context = emulators.qemu(result.elf) if emulator == "qemu" else emulators.host(result.elf)
    report = validate_emulated(context, run_dir, finish=emulator != "renode", limit=limit, timeout=timeout,
                               progress=progress)
    report["firmware"] = figures
    return report
