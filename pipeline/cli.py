"""`tinykd` command line: parses options, calls the stage functions, prints results. No logic of its own."""
from __future__ import annotations

import contextlib
import functools
import os
import sys

import click

from pipeline import __version__
from pipeline.config import (BOARD_CHOICES, ENGINES, METHODS, QUANTIZE_MODES, STRATEGIES, STUDENT_FAMILIES,
                             load_config, with_overrides)
from pipeline import runs, tflog
from pipeline.errors import PipelineError, environment_error, stage_of


class Group(click.Group):
    """Every command's TensorFlow chatter goes to a log file (pipeline/tflog.py). Every failure is one line on
    stderr: a PipelineError, a bad option and a machine failure (disk full, read-only, out of memory) exit with
    status 2; Ctrl-C and any other exception (naming the stage, the exception and the log file that holds its
    traceback) with status 1. Tracebacks on the terminal only with --debug."""

    def parse_args(self, ctx, args):
        with one_line_usage_errors(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx):
        debug = ctx.params.get("debug")
        try:
            with one_line_usage_errors(ctx), tflog.capture(tflog.default_path()):
                return super().invoke(ctx)
        except PipelineError as e:
            if debug:
                raise
            click.echo(f"error: {e}", err=True)  # the capture has ended: this is the terminal's stderr
            sys.exit(2)
        except KeyboardInterrupt:
            if debug:
                raise
            click.echo("error: Interrupted. Finished stages and the last complete epoch are kept: rerun the same "
                       "command to resume.", err=True)
            sys.exit(1)
        except tflog.EXPECTED:
            raise
        except Exception as e:  # noqa: BLE001 - a bug or a library failure tinykd did not foresee: still one line
            if debug:
                raise
            known = environment_error(e)  # disk full, read-only, out of memory: the user's to fix, exit status 2
            click.echo(f"error: {known or unexpected_failure(e)}", err=True)
            sys.exit(2 if known else 1)


@contextlib.contextmanager
def one_line_usage_errors(ctx):
    """A bad option or command is one line too (click's default prints the usage, a blank line and the error)."""
    try:
        yield
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else ctx.command_path
        click.echo(f"error: {e.format_message()} See '{where} --help'.", err=True)
        sys.exit(2)


def unexpected_failure(e: Exception) -> str:
    """The one line for an exception that is not a PipelineError: the stage, the exception, where the traceback is."""
    text = " ".join(str(e).split())
    reason = f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__
    where = f"the {stage_of(e)} stage" if stage_of(e) else "tinykd"
    log = tflog.log_of(e)
    trace = f"The traceback is in {log}; rerun with --debug to see it here." if log else "Rerun with --debug."
    return f"{where} failed: {reason}. {trace}"


@click.group(cls=Group, name="tinykd")
@click.version_option(__version__, prog_name="tinykd")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
def cli(debug):
    """Knowledge distillation for microcontrollers: distill, quantize, deploy, validate."""
    if os.environ.get("TINYKD_CPU_DEVICES"):  # only then must TensorFlow be set up before the command runs
        from pipeline.train import configure_devices
        configure_devices()


# CLI option -> (config section, field). Each option overrides that field of the --config file.
OVERRIDES = {
    "run_name": ("run", "name"), "seed": ("run", "seed"),
    "dataset": ("data", "dataset"), "layout": ("data", "layout"), "limit": ("data", "limit"),
    "unlabeled": ("data", "unlabeled"), "label_fraction": ("data", "label_fraction"), "folds": ("teacher", "folds"),
    "teacher_path": ("teacher", "path"), "teacher_epochs": ("teacher", "epochs"), "unsafe": ("teacher", "unsafe"),
    "family": ("student", "family"), "width": ("student", "width"), "depth": ("student", "depth"),
    "method": ("distill", "method"), "temperature": ("distill", "temperature"), "alpha": ("distill", "alpha"),
    "epochs": ("distill", "epochs"), "batch_size": ("distill", "batch_size"), "augment": ("distill", "augment"),
    "strategy": ("distill", "strategy"),
}


def config_options(command):
    """Options shared by every stage command; `command` receives the resolved Config and the other options."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file."),
        click.option("--run", "run_name", help="Run folder name under models/ (default: the data set's name)."),
        click.option("--seed", type=int, help="Seed for splits, weights, shuffling (default 0)."),
        click.option("--force", is_flag=True, help="Rerun stages even when their inputs are unchanged."),
        click.option("--dataset", help="digits | fashion_mnist | FILE.npz | image folder."),
        click.option("--layout", type=click.Choice(["auto", "image", "series"]), help="How rank-2 .npz samples read."),
        click.option("--limit", type=int, help="Train on at most N samples (0 = all)."),
        click.option("--unlabeled", help="A .npz of unlabeled samples (x_unlabeled): the teacher labels them softly."),
        click.option("--label-fraction", type=float, help="Students keep only this stratified share of the labels."),
        click.option("--folds", type=int, help="Cross-fitted teachers (each sample's targets from one that never "
                                               "saw it); 1 = one teacher."),
        click.option("--teacher", "teacher_path", help="Your teacher: .keras, .h5 or SavedModel folder."),
        click.option("--teacher-epochs", type=int, help="Epochs of the built-in teacher."),
        click.option("--unsafe", is_flag=True, default=None, help="Allow Lambda layers (their code runs) in --teacher."),
        click.option("--student", "family", type=click.Choice(STUDENT_FAMILIES), help="Student family."),
        click.option("--width", type=int, help="Student width (filters of the first block)."),
        click.option("--depth", type=int, help="Student depth (blocks)."),
        click.option("--method", type=click.Choice(METHODS), help="Distillation loss; none = hard labels only."),
        click.option("--temperature", "-T", type=float, help="Softmax temperature T > 0."),
        click.option("--alpha", type=float, help="Weight of the soft-target term, in [0, 1]."),
        click.option("--epochs", type=int, help="Student training epochs."),
        click.option("--batch-size", type=int, help="Student batch size."),
        click.option("--augment/--no-augment", default=None, help="Random shifts; the teacher then runs online."),
        click.option("--strategy", type=click.Choice(STRATEGIES), help="tf.distribute strategy."),
    ]

    @functools.wraps(command)
    def wrapper(config_path, **given):
        overrides: dict[str, dict] = {}
        for option, (section, name) in OVERRIDES.items():
            overrides.setdefault(section, {})[name] = given.pop(option)
        cfg = load_config(config_path, overrides)
        with runs.locked(cfg.run_dir), tflog.capture(cfg.run_dir / tflog.LOG_NAME):
            return command(cfg, **given)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _percent(metrics) -> str:
    return f"{100 * metrics['accuracy']:6.2f}%" if metrics else "      -"


def print_distill_summary(result: dict) -> None:
    from pipeline.report import share_of_teacher
    from pipeline.report_sections import kd_gain_pp
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
    from pipeline.distill import distill as run_distill
    print_distill_summary(run_distill(cfg, force=force, log=click.echo))


@cli.command()
@config_options
@click.option("--mode", type=click.Choice(QUANTIZE_MODES), help="qat (fine-tune with the teacher) or ptq.")
@click.option("--representative-samples", type=int, help="Training samples that calibrate the int8 ranges.")
@click.option("--qat-epochs", type=int, help="Quantization-aware fine-tuning epochs.")
def quantize(cfg, force, mode, representative_samples, qat_epochs):
    """Make the int8 model (student_int8.tflite) and score it on TFLite Micro beside the float student."""
    from pipeline.quantize import quantize as run_quantize
    cfg = with_overrides(cfg, "quantize", mode=mode, representative_samples=representative_samples,
                         qat_epochs=qat_epochs)
    print_quantize_summary(run_quantize(cfg, force=force, log=click.echo))
    click.echo(f"run folder: {cfg.run_dir}")


def print_quantize_summary(m: dict) -> None:
    click.echo(f"\n{m['mode'].upper()} int8 on TFLite Micro: {100 * m['int8_accuracy']:.2f}% "
               f"(float student {100 * m['float_accuracy']:.2f}%, {-m['drop_pp']:+.2f} pp); "
               f"{m['model_bytes']:,} bytes, arena {m['arena_minimum']:,} bytes")


@cli.command()
@config_options
@click.option("--board", type=click.Choice(BOARD_CHOICES), help="Budget to check: nano33ble, esp32 or qemu-cm4.")
@click.option("--stand-in", type=click.Choice(BOARD_CHOICES[:2]), help="Board whose budget qemu-cm4 enforces.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="Export this .tflite instead.")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: <run>/export).")
@click.option("--library", is_flag=True, help="Write the model as a C library for your firmware instead (AOT engine).")
@click.option("--format", "library_format", type=click.Choice(["arduino", "platformio", "cmake", "all"]),
              default="all", show_default=True, help="--library: the package layout(s).")
@click.option("--name", "library_name", help="--library: the C name of the model (default: the run's name).")
def export(cfg, force, board, stand_in, model_path, out, library, library_format, library_name):
    """Write the C array, op resolver, I/O and arena headers; fail first if the model does not fit the board.
    With --library: the model as a CMake C library (NAME_preprocess / NAME_invoke / NAME_argmax) with a host example."""
    if library:
        from pathlib import Path

        from pipeline.errors import PipelineError
        from pipeline.library import check_name, default_name, write_library
        name = check_name(library_name or default_name(cfg.run_dir.name))
        formats = ["arduino", "platformio", "cmake"] if library_format == "all" else [library_format]
        if out and len(formats) > 1:
            raise PipelineError("--out takes one library format, not all three.", "Add --format cmake (or arduino, "
                                "platformio), or leave out --out for models/RUN/library/FORMAT/NAME.")
        for fmt in formats:
            folder = write_library(cfg.run_dir, Path(out) if out else cfg.run_dir / "library" / fmt / name, name, fmt)
            how = {"arduino": f"Arduino IDE: Sketch > Include Library > Add .ZIP Library > {folder}.zip",
                   "platformio": f"lib_deps = file://{folder.resolve()}",
                   "cmake": f"add_subdirectory({folder}) and target_link_libraries(app PRIVATE {name})"}[fmt]
            click.echo(f"library {name} ({fmt}): {folder}  ({how})")
        return
    from pipeline.export import export as run_export
    cfg = with_overrides(cfg, "export", board=board, stand_in=stand_in)
    m = run_export(cfg, model=model_path, out=out, force=force, log=click.echo)
    click.echo(f"{', '.join(m['files'])} in {m['folder']}")


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--no-arena", is_flag=True, help="Skip measuring the TFLite Micro arena (~2 s).")
def inspect(model, as_json, no_arena):
    """Ops, tensors, shapes, quantization, parameters, MACs per layer and arena of a .tflite file."""
    import json

    from pipeline.inspect_tflite import format_report, inspect_model
    info = inspect_model(model, arena=not no_arena)
    click.echo(json.dumps(info, indent=2) if as_json else format_report(info))


@cli.command()
@config_options
@click.option("--board", type=click.Choice(BOARD_CHOICES[:2]),
              help="Board whose flash/RAM budget the firmware must fit (default nano33ble).")
@click.option("--engine", type=click.Choice(ENGINES), help="aot (default; emulator or board) | tflm (board only).")
@click.option("--port", help="Validate the board on this serial port (e.g. /dev/ttyACM0) instead of QEMU.")
@click.option("--flash", is_flag=True, default=None, help="With --port: upload the firmware first (PlatformIO).")
@click.option("--allow-remote", is_flag=True, default=None, help="Let --port be a socket:// URL to another host.")
@click.option("--validate-limit", type=int, help="Validate the first N test samples only (default 2000; 0 = all).")
@click.option("--mode", type=click.Choice(QUANTIZE_MODES), help="qat (fine-tune with the teacher) or ptq.")
def run(cfg, force, board, engine, port, flash, allow_remote, validate_limit, mode):
    """The whole pipeline: data -> teacher -> student -> int8 -> export -> AOT C -> firmware -> QEMU (or --port)
    validation -> report. Ends with the final table; every stage is skipped when unchanged."""
    from pipeline.pipeline_run import run_all
    from pipeline.report import load_manifest, summary_table
    cfg = with_overrides(cfg, "export", board=board)
    cfg = with_overrides(cfg, "quantize", mode=mode)
    cfg = with_overrides(cfg, "device", engine=engine, port=port, flash=flash, allow_remote=allow_remote,
                         limit=validate_limit)
    run_all(cfg, force=force, log=click.echo)
    click.echo("\n" + summary_table(load_manifest(cfg.run_dir)))


@cli.command()
@click.argument("run_name", required=False)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file (its run root).")
def report(run_name, config_path):
    """Regenerate models/RUN/report.md and report.html from the run's manifest (RUN: a name or a path)."""
    from pathlib import Path

    from pipeline.report import load_manifest, summary_table, write_report
    from pipeline.compare import run_folder
    cfg = load_config(config_path)
    run_dir = run_folder(run_name, cfg.run.root) if run_name else cfg.run_dir
    for path in write_report(run_dir):
        click.echo(f"wrote {path}")
    click.echo("\n" + summary_table(load_manifest(run_dir)))


@cli.command("runs")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file (its run root).")
def runs_command(config_path):
    """List the run folders under the run root with their headline figures (from each run.json)."""
    from pipeline.compare import list_runs, row, text_table
    from pipeline.report import load_manifest
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

    from pipeline.compare import compare as compare_runs, write_html
    cfg = load_config(config_path)
    result = compare_runs(list(run_names), cfg.run.root)
    click.echo(result["table"])
    click.echo(f"\nwrote {write_html(result, Path(out) if out else Path(cfg.run.root) / 'compare.html')}")


@cli.command("compile")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for model.h/.c.")
def compile_cmd(model, out_dir):
    """Compile an int8 .tflite into plain C99 (model.h, model.c) for the AOT engine."""
    from pipeline.compiler import compile_model
    compiled = compile_model(model)
    for path in compiled.write(out_dir):
        click.echo(f"wrote {path}")
    click.echo(f"{len(compiled.ops)} ops; arena {compiled.arena_bytes:,} bytes; constant data "
               f"{compiled.weight_bytes:,} bytes; sha256 {compiled.sha256[:16]}")


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--samples", default=200, show_default=True, type=int, help="Random int8 inputs to compare.")
@click.option("--run", "run_name", help="Also compare on the test set of run folder models/RUN (or a path).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(model, samples, run_name, seed, as_json):
    """Compare the AOT-compiled model with the TFLite Micro runtime, element by element; exit 1 on any mismatch."""
    import json
    from pathlib import Path

    from pipeline.compiler.verify import verify as run_verify
    run_dir = None
    if run_name:
        run_dir = Path(run_name) if Path(run_name).is_dir() else Path("models") / run_name
        if not run_dir.is_dir():
            raise PipelineError(f"Run folder {run_name!r} not found (looked in {run_dir}).",
                                "Give a name under models/ or a path.")
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


from pipeline import cli_device  # noqa: E402,F401  (registers build, emulate, validate, flash)


def main():
    cli(prog_name="tinykd")


if __name__ == "__main__":  # python -m pipeline.cli: run the package's module, where every command is registered
    from pipeline.cli import main as package_main
    package_main()

