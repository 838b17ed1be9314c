"""`tinykd build | emulate | validate | flash`: the device commands (parse options, call the stage functions)."""
from __future__ import annotations

import json

import click

from pipeline.cli import cli
from pipeline.config import DeviceConfig
from pipeline.ports import SerialPort, check_port
from pipeline.targets import BOARDS, TARGETS

MODEL_DIR_HELP = "Folder with the AOT model (model.h, model.c)."


@cli.command("build")
@click.option("--target", type=click.Choice(TARGETS), default="qemu-cm4", show_default=True,
              help="qemu-cm4: Cortex-M4 firmware for QEMU mps2-an386; host: x86 app on a pty.")
@click.option("--budget", type=click.Choice(list(BOARDS)), default="nano33ble", show_default=True,
              help="Board whose flash/RAM the image must fit.")
@click.option("--model-dir", required=True, type=click.Path(file_okay=False), help=MODEL_DIR_HELP)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Build folder (default build/firmware/…).")
@click.option("--sanitize", is_flag=True, help="Host only: build with -fsanitize=address,undefined.")
def build_command(target, budget, model_dir, out_dir, sanitize):
    """Compile the firmware around an AOT model; prints flash and RAM figures."""
    from pipeline.build import build
    result = build(target, model_dir, budget=budget, out_dir=out_dir, sanitize=sanitize)
    click.echo(f"firmware: {result.elf}")
    if result.sizes:
        s = result.sizes
        click.echo(f"flash {s['flash_bytes']:,} of {s['flash_budget']:,} bytes (text {s['text']:,}, rodata "
                   f"{s['rodata']:,}, data {s['data']:,}); RAM {s['ram_bytes']:,} of {s['ram_budget']:,} bytes "
                   f"(data {s['data']:,}, bss {s['bss']:,}, stack {s['stack']:,})")


@cli.command("emulate")
@click.option("--emulator", type=click.Choice(["qemu", "host"]), default="qemu", show_default=True)
@click.option("--elf", required=True, type=click.Path(dir_okay=False), help="Firmware from `tinykd build`.")
def emulate_command(emulator, elf):
    """Run firmware in an emulator and print its serial URL (for `tinykd validate --port`) until it exits."""
    import signal

    from pipeline import emulator as emulators
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` cleans up like Ctrl-C does
    context = emulators.qemu(elf) if emulator == "qemu" else emulators.host(elf)
    with context as emu:
        click.echo(f"serial: {emu.url}  (Ctrl-C stops it)")
        try:
            emu.finish(timeout=None)
        except KeyboardInterrupt:
            pass


@cli.command("validate")
@click.option("--port", type=SerialPort(),
              help="pyserial URL of a device: /dev/ttyACM0, socket://127.0.0.1:PORT, a pty path.")
@click.option("--emulator", type=click.Choice(["qemu", "host", "renode"]),
              help="Build the firmware, run it in this emulator and validate it.")
@click.option("--run-dir", default="models/digits", show_default=True, type=click.Path(file_okay=False),
              help="Run folder with student_int8.tflite and golden.npz.")
@click.option("--model-dir", type=click.Path(file_okay=False), help=MODEL_DIR_HELP + " Default: RUN_DIR/aot.")
@click.option("--budget", type=click.Choice(list(BOARDS)), default="nano33ble", show_default=True)
@click.option("--limit", type=int, default=DeviceConfig.limit, show_default=True,
              help="Validate the first N test samples only (0 = all).")
@click.option("--timeout", type=float, default=DeviceConfig.timeout, show_default=True,
              help="Seconds to wait for one reply.")
@click.option("--sanitize", is_flag=True, help="--emulator host only: run under ASan/UBSan.")
@click.option("--elf", type=click.Path(dir_okay=False), help="--emulator renode: PlatformIO nano33ble ELF.")
@click.option("--allow-remote", is_flag=True, help="Let --port be a socket:// URL to another host.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def validate_command(port, emulator, run_dir, model_dir, budget, limit, timeout, sanitize, elf, allow_remote,
                     as_json):
    """Stream the int8 test set to a device; compare every output with the host's TFLM output."""
    from pathlib import Path

    from pipeline import harness
    from pipeline.errors import PipelineError
    if bool(port) == bool(emulator):
        raise PipelineError("Give exactly one of --port and --emulator.", "Use --emulator qemu or --port URL.")
    if limit < 0:
        raise PipelineError(f"--limit {limit} is not allowed: it must be >= 0 (0 = all).",
                            f"Use --limit {DeviceConfig.limit}.")
    if not Path(run_dir).is_dir():
        raise PipelineError(f"Run folder '{run_dir}' does not exist.",
                            "Give --run-dir models/NAME, a folder `tinykd run` made.")
    if port:
        check_port(port, remote=allow_remote)
        report = harness.validate(port, run_dir, limit=limit, timeout=timeout)
    else:
        report = harness.validate_on_emulator(emulator, run_dir, model_dir or Path(run_dir) / "aot", budget=budget,
                                              limit=limit, sanitize=sanitize, timeout=timeout, elf=elf)
    harness.record(run_dir, report, port or emulator)
    click.echo(json.dumps(report, indent=2) if as_json else harness.format_report(report))
    harness.check_bit_exact(report, recorded=True)


@cli.command("flash")
@click.option("--board", type=click.Choice(list(BOARDS)), required=True)
@click.option("--port", required=True, type=SerialPort(urls=False), help="Serial port of the board, e.g. /dev/ttyACM0.")
@click.option("--engine", type=click.Choice(["aot", "tflm"]), default="aot", show_default=True)
@click.option("--model-dir", required=True, type=click.Path(file_okay=False),
              help="Folder with the exported model (AOT: model.h/.c; TFLM: model_data.h/.cc).")
def flash_command(board, port, engine, model_dir):
    """Build with PlatformIO and upload to a board (`pio run -e ENV -t upload`)."""
    from pipeline.flash import flash
    flashed = flash(board, port, model_dir, engine=engine)
    click.echo(f"flashed: {' '.join(flashed.command)}")
    if flashed.port != port:
        click.echo(f"the board came back on {flashed.port} (was {port})")
