"""`tinykd compile | build | emulate | flash | validate`: the device commands. Each builds a Config from its options
and calls its stage in pipeline/device/stages.py (emulate only starts an emulator); pipeline/cli/main.py adds them to
the `tinykd` group."""
from __future__ import annotations

import json

import click

from pipeline.artifacts import AOT_FILES
from pipeline.cli.common import BOARD_HELP, BoardChoice, alias, optimize_option, run_options
from pipeline.config import ENGINES, Config, DeviceConfig, load_config, with_overrides
from pipeline.device.stages import EMULATORS, build_stage, compile_stage, flash_stage, validate_stage
from pipeline.errors import PipelineError
from pipeline.serial_url import SerialPort
from pipeline.targets import EMULATOR, TARGETS

MODEL_DIR_HELP = "Folder with the AOT model (model.h, model.c)."


def quiet(message: str) -> None:
    """The log of a stage whose command prints its own result lines."""


def device_config(cfg: Config | None = None, board: str | None = None, **device) -> Config:
    """`cfg` (default: the defaults) with --board and the given device settings (None values: unchanged)."""
    cfg = with_overrides(cfg or load_config(None), "export", board=board)
    return with_overrides(cfg, "device", **device)


@click.command("compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for model.h/.c.")
@optimize_option
def compile_command(model, out_dir, optimize):
    """Compile an int8 .tflite into plain C99 (model.h, model.c) for the AOT engine."""
    cfg = with_overrides(load_config(None), "export", optimize=optimize)
    m = compile_stage(cfg, model=model, out=out_dir, log=quiet)
    for name in AOT_FILES:
        click.echo(f"wrote {click.format_filename(out_dir)}/{name}")
    click.echo(f"{len(m['ops'])} ops; arena {m['arena_bytes']:,} bytes; constant data {m['weight_bytes']:,} bytes "
               f"(--optimize {m['optimize']}); sha256 {m['model_sha256'][:16]}")


@click.command("build")
@click.option("--target", type=click.Choice(TARGETS), default=EMULATOR, show_default=True,
              help="qemu-cm4: Cortex-M4 firmware for QEMU mps2-an386; host: x86 app on a pty.")
@click.option("--board", type=BoardChoice(), help=BOARD_HELP)
@click.option("--model-dir", required=True, type=click.Path(file_okay=False), help=MODEL_DIR_HELP)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Build folder (default build/firmware/…).")
@click.option("--sanitize", is_flag=True, help="Host only: build with -fsanitize=address,undefined.")
@alias("--budget", "board", type=BoardChoice())
def build_command(target, board, model_dir, out_dir, sanitize):
    """Compile the firmware around an AOT model; prints flash and RAM figures."""
    s = build_stage(device_config(board=board), model_dir=model_dir, out=out_dir, target=target, sanitize=sanitize,
                    log=quiet)
    click.echo(f"firmware: {s['elf']}")
    if "flash_bytes" in s:
        click.echo(f"flash {s['flash_bytes']:,} of {s['flash_budget']:,} bytes (text {s['text']:,}, rodata "
                   f"{s['rodata']:,}, data {s['data']:,}); RAM {s['ram_bytes']:,} of {s['ram_budget']:,} bytes "
                   f"(data {s['data']:,}, bss {s['bss']:,}, stack {s['stack']:,})")


@click.command("emulate")
@click.option("--emulator", type=click.Choice(EMULATORS[:2]), default="qemu", show_default=True)
@click.option("--elf", required=True, type=click.Path(dir_okay=False), help="Firmware from `tinykd build`.")
def emulate_command(emulator, elf):
    """Run firmware in an emulator and print its serial URL (for `tinykd validate --port`) until it exits."""
    import signal

    from pipeline.device import emulator as emulators
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` cleans up like Ctrl-C does
    context = emulators.qemu(elf) if emulator == "qemu" else emulators.host(elf)
    with context as emu:
        click.echo(f"serial: {emu.url}  (Ctrl-C stops it)")
        try:
            emu.finish(timeout=None)
        except KeyboardInterrupt:
            pass


@click.command("validate")
@click.option("--port", type=SerialPort(),
              help="pyserial URL of a device: /dev/ttyACM0, socket://127.0.0.1:PORT, a pty path.")
@click.option("--emulator", type=click.Choice(EMULATORS),
              help="Build the firmware, run it in this emulator and validate it.")
@run_options
@click.option("--model-dir", type=click.Path(file_okay=False), help=MODEL_DIR_HELP + " Default: the run's aot/.")
@click.option("--board", type=BoardChoice(), help=BOARD_HELP)
@click.option("--limit", type=int, help=f"Validate the first N test samples only (default {DeviceConfig.limit}; "
                                        "0 = all).")
@click.option("--timeout", type=float, help=f"Seconds to wait for one reply (default {DeviceConfig.timeout} s).")
@click.option("--sanitize", is_flag=True, help="--emulator host only: run under ASan/UBSan.")
@click.option("--elf", type=click.Path(dir_okay=False), help="--emulator renode: PlatformIO nano33ble ELF.")
@click.option("--allow-remote", is_flag=True, default=None, help="Let --port be a socket:// URL to another host.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@alias("--budget", "board", type=BoardChoice())
def validate_command(cfg, port, emulator, model_dir, board, limit, timeout, sanitize, elf, allow_remote, as_json):
    """Stream the int8 test set of a run to a device; compare every output with the host's TFLM output."""
    if bool(port) == bool(emulator):
        raise PipelineError("Give exactly one of --port and --emulator.", "Use --emulator qemu or --port URL.")
    if limit is not None and limit < 0:
        raise PipelineError(f"--limit {limit} is not allowed: it must be >= 0 (0 = all).",
                            f"Use --limit {DeviceConfig.limit}.")
    cfg = device_config(cfg, board, port=port or "", flash=False, allow_remote=allow_remote, limit=limit,
                        timeout=timeout)
    # with --json, stdout carries only the JSON document
    report = validate_stage(cfg, emulator=emulator, model_dir=model_dir, elf=elf, sanitize=sanitize,
                            log=lambda message: click.echo(message, err=as_json))
    if as_json:
        click.echo(json.dumps(report, indent=2))


@click.command("flash")
@click.option("--board", type=BoardChoice(), required=True, help=BOARD_HELP)
@click.option("--port", required=True, type=SerialPort(urls=False), help="Serial port of the board, e.g. /dev/ttyACM0.")
@click.option("--engine", type=click.Choice(ENGINES), help=f"Engine of the firmware (default {DeviceConfig.engine}).")
@click.option("--model-dir", required=True, type=click.Path(file_okay=False),
              help="Folder with the exported model (AOT: model.h/.c; TFLM: model_data.h/.cc).")
def flash_command(board, port, engine, model_dir):
    """Build with PlatformIO and upload to a board (`pio run -e ENV -t upload`)."""
    flashed = flash_stage(device_config(board=board, port=port, flash=True, engine=engine), model_dir=model_dir,
                          log=click.echo)
    click.echo(f"flashed: {' '.join(flashed.command)}")


COMMANDS = (compile_command, build_command, emulate_command, validate_command, flash_command)
