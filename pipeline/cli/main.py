"""`tinykd` command line: parses options, calls the stage functions, prints results. No logic of its own."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pipeline import __version__
from pipeline.cli import data as data_cli
from pipeline.cli import device as cli_device
from pipeline.cli.common import BOARD_HELP, BoardChoice, Group, config_options, optimize_option, quantize_options
from pipeline.config import ENGINES, load_config, with_overrides
from pipeline.paths import run_folder
from pipeline.targets import EMULATOR, budget_board

EXPORT_TARGETS = ("board", EMULATOR)  # tinykd export --target: whose firmware overhead the budget check assumes
target_option = click.option("--target", type=click.Choice(EXPORT_TARGETS), help="board: the board's own firmware "
                             "(default); qemu-cm4: tinykd's emulator firmware on its budget (the export's check).")


@click.group(cls=Group, name="tinykd")
@click.version_option(__version__, prog_name="tinykd")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
def cli(debug):
    """Knowledge distillation for microcontrollers: distill, quantize, deploy, validate."""
    if os.environ.get("TINYKD_CPU_DEVICES"):  # only then must TensorFlow be set up before the command runs
        from pipeline.kd.train import configure_devices
        configure_devices()


def _percent(metrics) -> str:
    return f"{100 * metrics['accuracy']:6.2f}%" if metrics else "      -"


def print_distill_summary(result: dict) -> None:
    from pipeline.report.render import share_of_teacher
    from pipeline.report.sections import kd_gain_pp
    teacher, student = result["teacher"], result["student"]
    click.echo(f"\n{'model':<10}{'test acc':>9}{'params':>11}{'MACs':>12}")
    for name, m in (("teacher", teacher), ("baseline", result["baseline"]), ("student", student)):
        if m:
            click.echo(f"{name:<10}{_percent(m):>9}{m['params']:>11,}{m['macs']:>12,}")
    if result["baseline"] and result["baseline"] is not student:
        gain = kd_gain_pp(student, result["baseline"])
        click.echo(f"distillation: {gain:+.2f} pp over the baseline; the student has "
                   f"{share_of_teacher(student['params'], teacher['params'])}")
    click.echo(f"run folder: {result['run']}")


@cli.command()
@config_options
def distill(cfg, force):
    """Train (or load) the teacher, then distill a tiny student; prints teacher, baseline and student accuracy."""
    from pipeline.kd.distill import distill as run_distill
    print_distill_summary(run_distill(cfg, force=force, log=click.echo))


@cli.command()
@config_options
@quantize_options
def quantize(cfg, force):
    """Make the int8 model (student_int8.tflite) and score it on TFLite Micro beside the float student."""
    from pipeline.int8.quantize import quantize as run_quantize
    print_quantize_summary(run_quantize(cfg, force=force, log=click.echo))
    click.echo(f"run folder: {cfg.run_dir}")


def print_quantize_summary(m: dict) -> None:
    who = "baseline student" if m.get("shipped") == "baseline" else "student"
    click.echo(f"\n{m['mode'].upper()} int8 on TFLite Micro: {100 * m['int8_accuracy']:.2f}% "
               f"(float {who} {100 * m['float_accuracy']:.2f}%, {-m['drop_pp']:+.2f} pp); "
               f"{m['model_bytes']:,} bytes, arena {m['arena_minimum']:,} bytes")


@cli.command()
@config_options
@click.option("--board", type=BoardChoice(legacy=(EMULATOR,)), help=BOARD_HELP)
@target_option
@click.option("--stand-in", type=BoardChoice(), hidden=True)  # old spelling: --board qemu-cm4 --stand-in BOARD
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="Export this .tflite instead.")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: <run>/export).")
@click.option("--library", is_flag=True, help="Write the model as a C library for your firmware instead (AOT engine).")
@click.option("--format", "library_format", type=click.Choice(["arduino", "platformio", "cmake", "all"]),
              default="all", show_default=True, help="--library: the package layout(s).")
@click.option("--name", "library_name", help="--library: the C name of the model (default: the run's name).")
def export(cfg, force, board, target, stand_in, model_path, out, library, library_format, library_name):
    """Write the C array, op resolver, I/O and arena headers; fail first if the model does not fit the board.
    With --library: the model as a CMake C library (NAME_preprocess / NAME_invoke / NAME_argmax) with a host example."""
    if library:
        from pathlib import Path

        from pipeline.artifacts import LIBRARY
        from pipeline.errors import PipelineError
        from pipeline.device.library import check_name, default_name, write_library
        name = check_name(library_name or default_name(cfg.run_dir.name))
        formats = ["arduino", "platformio", "cmake"] if library_format == "all" else [library_format]
        if out and len(formats) > 1:
            raise PipelineError("--out takes one library format, not all three.", "Add --format cmake (or arduino, "
                                "platformio), or leave out --out for models/RUN/library/FORMAT/NAME.")
        for fmt in formats:
            folder = write_library(cfg.run_dir, Path(out) if out else cfg.run_dir / LIBRARY / fmt / name, name, fmt)
            how = {"arduino": f"Arduino IDE: Sketch > Include Library > Add .ZIP Library > {folder}.zip",
                   "platformio": f"lib_deps = file://{folder.resolve()}",
                   "cmake": f"add_subdirectory({folder}) and target_link_libraries(app PRIVATE {name})"}[fmt]
            click.echo(f"library {name} ({fmt}): {folder}  ({how})")
        return
    from pipeline.int8.export import export as run_export
    cfg = export_settings(cfg, board, target, stand_in)
    m = run_export(cfg, model=model_path, out=out, force=force, log=click.echo)
    click.echo(f"{', '.join(m['files'])} in {m['folder']}")


def export_settings(cfg, board: str | None, target: str | None, stand_in: str | None):
    """cfg.export from --board and --target (the old spelling --board qemu-cm4 [--stand-in BOARD] still works)."""
    if board == EMULATOR:
        target, board = EMULATOR, None
    if (target or ("board" if cfg.export.board != EMULATOR else EMULATOR)) == EMULATOR:
        return with_overrides(cfg, "export", board=EMULATOR, stand_in=board or stand_in)
    return with_overrides(cfg, "export", board=board or budget_board(cfg.export.board, cfg.export.stand_in))


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--no-arena", is_flag=True, help="Skip measuring the TFLite Micro arena (~2 s).")
@optimize_option
def inspect(model, as_json, no_arena, optimize):
    """Ops, tensors, shapes, quantization, parameters, MACs per layer and arena of a .tflite file; the AOT kernel
    layout and constant bytes per layer under --optimize."""
    import json

    from pipeline.compiler.layout import aot_layout, aot_lines
    from pipeline.device.latency import recorded, rows
    from pipeline.int8.inspect_tflite import format_report, inspect_model
    optimize = with_overrides(load_config(None), "export", optimize=optimize).export.optimize
    info = inspect_model(model, arena=not no_arena)
    info["aot"] = aot_layout(Path(model).read_bytes(), optimize)
    info["latency"] = recorded(model, info["sha256"])  # the run's estimate when `model` is a run's model
    latency = [f"{what}: {value} ({how})" for what, value, how in rows(info["latency"])]
    click.echo(json.dumps(info, indent=2) if as_json else "\n".join([format_report(info), *latency,
                                                                     *aot_lines(info["aot"])]))


@cli.command()
@config_options
@click.option("--board", type=BoardChoice(), help=BOARD_HELP)
@click.option("--engine", type=click.Choice(ENGINES), help="aot (default; emulator or board) | tflm (board only).")
@click.option("--port", help="Validate the board on this serial port (e.g. /dev/ttyACM0) instead of QEMU.")
@click.option("--flash", is_flag=True, default=None, help="With --port: upload the firmware first (PlatformIO).")
@click.option("--allow-remote", is_flag=True, default=None, help="Let --port be a socket:// URL to another host.")
@click.option("--validate-limit", type=int, help="Validate the first N test samples only (default 2000; 0 = all).")
@target_option
@optimize_option
@quantize_options
def run(cfg, force, board, engine, port, flash, allow_remote, validate_limit, target, optimize):
    """The whole pipeline: data -> teacher -> student -> int8 -> export -> AOT C -> firmware -> QEMU (or --port)
    validation -> report. Ends with the final table; every stage is skipped when unchanged."""
    from pipeline.cli.run import run_all
    from pipeline.report.render import load_manifest, summary_table
    cfg = with_overrides(export_settings(cfg, board, target, None), "export", optimize=optimize)
    cfg = with_overrides(cfg, "device", engine=engine, port=port, flash=flash, allow_remote=allow_remote,
                         limit=validate_limit)
    run_all(cfg, force=force, log=click.echo)
    click.echo("\n" + summary_table(load_manifest(cfg.run_dir)))


@cli.command()
@click.argument("run_name", required=False)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file (its run root).")
def report(run_name, config_path):
    """Regenerate models/RUN/report.md and report.html from the run's manifest (RUN: a name or a path)."""
    from pipeline.report.render import load_manifest, summary_table, write_report
    cfg = load_config(config_path)
    run_dir = run_folder(run_name, cfg.run.root) if run_name else cfg.run_dir
    for path in write_report(run_dir):
        click.echo(f"wrote {path}")
    click.echo("\n" + summary_table(load_manifest(run_dir)))


@cli.command("runs")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file (its run root).")
def runs_command(config_path):
    """List the run folders under the run root with their headline figures (from each run.json)."""
    from pipeline.report.compare import list_runs, row, text_table
    from pipeline.report.render import load_manifest
    cfg = load_config(config_path)
    folders = list_runs(cfg.run.root)
    if not folders:
        click.echo(f"no runs under {cfg.run.root}: `tinykd run` makes one")
        return
    click.echo(text_table([row(load_manifest(folder), folder.name) for folder in folders]))


@cli.command("compare")
@click.argument("run_names", nargs=-1, required=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file (its run root).")
@click.option("--out", type=click.Path(dir_okay=False), help="HTML page to write (default: RUN_ROOT/compare.html).")
def compare_command(run_names, config_path, out):
    """Compare runs side by side (names under the run root, or folders): accuracy, size, flash, RAM, latency and
    the settings that differ; also writes a self-contained HTML page."""
    from pathlib import Path

    from pipeline.report.compare import compare as compare_runs, write_html
    cfg = load_config(config_path)
    result = compare_runs(list(run_names), cfg.run.root)
    click.echo(result["table"])
    click.echo(f"\nwrote {write_html(result, Path(out) if out else Path(cfg.run.root) / 'compare.html')}")


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--samples", default=200, show_default=True, type=int, help="Random int8 inputs to compare.")
@click.option("--run", "run_name", help="Also compare on the test set of run folder models/RUN (or a path).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(model, samples, run_name, seed, as_json):
    """Compare the AOT-compiled model with the TFLite Micro runtime, element by element; exit 1 on any mismatch."""
    import json

    from pipeline.compiler.verify import verify as run_verify
    run_dir = run_folder(run_name, load_config(None).run.root) if run_name else None
    # with --json, stdout carries only the JSON document
    result = run_verify(model, samples=samples, run_dir=run_dir, seed=seed,
                        log=lambda message: click.echo(message, err=as_json))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"{result['mismatches']} mismatching elements of {result['elements']:,} "
                   f"({result['inputs']} inputs); arena AOT {result['aot_arena_bytes']:,} B vs TFLM "
                   f"{result['tflm_arena_bytes']:,} B ({result['arena_ratio']:.2f}x)")
    if result["mismatches"]:
        sys.exit(1)


for command in cli_device.COMMANDS:  # compile, build, emulate, validate, flash
    cli.add_command(command)
cli.add_command(data_cli.data)  # tinykd data kws


def main():
    cli(prog_name="tinykd")


if __name__ == "__main__":
    main()

