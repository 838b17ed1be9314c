"""What every `tinykd` command shares: the group's one-line errors, the settings options, the option types.

The commands live in pipeline/cli/main.py (the ML stages and the run) and pipeline/cli/device.py (the device stages);
both import this module and neither imports the other's module back.
"""
from __future__ import annotations

import contextlib
import functools
import sys

import click

from pipeline import runs, tflog
from pipeline.config import (LAYOUTS, METHODS, OPTIMIZE, QUANTIZE_MODES, SHIP, STRATEGIES, STUDENT_FAMILIES,
                             ExportConfig, load_config, with_overrides)
from pipeline.errors import PipelineError, environment_error, stage_of
from pipeline.paths import run_folder
from pipeline.targets import BOARDS


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


class BoardChoice(click.Choice):
    """--board: a board whose flash and RAM budget the firmware must fit (pipeline/targets.py). `legacy` values
    are still accepted from old scripts but not offered in --help."""

    def __init__(self, legacy: tuple[str, ...] = ()):
        super().__init__([*BOARDS, *legacy])
        self.offered = list(BOARDS)

    def get_metavar(self, param, ctx):
        return f"[{'|'.join(self.offered)}]"


BOARD_HELP = f"Board whose flash/RAM budget the firmware must fit (default: {ExportConfig.board})."
OPTIMIZE_HELP = ("AOT kernels per layer: balanced (int8 weights where they run fast), speed (fewest instructions) "
                 f"or size (fewest weight bytes). Default: {ExportConfig.optimize}.")


def optimize_option(command):
    """--optimize: the AOT compiler's per-layer policy (config key export.optimize)."""
    return click.option("--optimize", type=click.Choice(OPTIMIZE), help=OPTIMIZE_HELP)(command)


def alias(old: str, new: str, **option):
    """A hidden spelling `old` of the option whose parameter is `new`, so old scripts keep working (deprecated:
    README lists the renames). Goes under the command's @click.command, like any option."""
    dest = "alias_" + old.lstrip("-").replace("-", "_")

    def decorate(command):
        @functools.wraps(command)
        def wrapper(*args, **params):
            value = params.pop(dest)
            if value is not None and params.get(new) is None:
                params[new] = value
            return command(*args, **params)
        return click.option(old, dest, hidden=True, default=None, **option)(wrapper)
    return decorate


def run_options(command):
    """--config and --run (a name under the run root, or a run folder's path) for the commands that work on an
    existing run; `command` receives the resolved Config as `cfg` (the hidden --run-dir is the old spelling)."""
    @click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file.")
    @click.option("--run", "run_name", help="Run: a name under the run root (default: the data set's) or a path.")
    @alias("--run-dir", "run_name")
    @functools.wraps(command)
    def wrapper(config_path, run_name, **given):
        cfg = run_config(config_path, run_name)
        with runs.locked(cfg.run_dir), tflog.capture(cfg.run_dir / tflog.LOG_NAME):
            return command(cfg, **given)
    return wrapper


def run_config(config_path: str | None, run_name: str | None):
    """The Config of --config for the existing run `run_name` (a name or a path, the rule of paths.run_folder;
    default: the config's own run); PipelineError when that folder does not exist."""
    cfg = load_config(config_path)
    folder = run_folder(run_name or cfg.run_dir, cfg.run.root).resolve()
    return load_config(config_path, {"run": {"root": str(folder.parent), "name": folder.name}})


# CLI option -> (config section, field). Each option overrides that field of the --config file.
OVERRIDES = {
    "run_name": ("run", "name"), "seed": ("run", "seed"),
    "dataset": ("data", "dataset"), "layout": ("data", "layout"), "limit": ("data", "limit"),
    "unlabeled": ("data", "unlabeled"), "label_fraction": ("data", "label_fraction"), "folds": ("teacher", "folds"),
    "teacher_path": ("teacher", "path"), "teacher_epochs": ("teacher", "epochs"), "unsafe": ("teacher", "unsafe"),
    "family": ("student", "family"), "width": ("student", "width"), "depth": ("student", "depth"),
    "method": ("distill", "method"), "temperature": ("distill", "temperature"), "alpha": ("distill", "alpha"),
    "epochs": ("distill", "epochs"), "batch_size": ("distill", "batch_size"), "augment": ("distill", "augment"),
    "strategy": ("distill", "strategy"), "ship": ("distill", "ship"),
}


def config_options(command):
    """Options shared by every stage command; `command` receives the resolved Config and the other options."""
    options = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings file."),
        click.option("--run", "run_name", help="Run folder name under models/ (default: the data set's name)."),
        click.option("--seed", type=int, help="Seed for splits, weights, shuffling (default 0)."),
        click.option("--force", is_flag=True, help="Rerun stages even when their inputs are unchanged."),
        click.option("--dataset", help="digits | fashion_mnist | FILE.npz | image folder."),
        click.option("--layout", type=click.Choice(list(LAYOUTS)),
                     help="How .npz samples read (auto: `tinykd data features` files are spectrograms)."),
        click.option("--limit", type=int, help="Train on at most N samples (0 = all)."),
        click.option("--unlabeled", help="A .npz of unlabeled samples (x_unlabeled): the teacher labels them softly."),
        click.option("--label-fraction", type=float, help="Students keep only this stratified share of the labels."),
        click.option("--folds", type=int, help="Cross-fitted teachers (each sample's targets from one that never "
                                               "saw it); 1 = one teacher."),
        click.option("--teacher", "teacher_path", help="Your teacher: .keras, .h5 or SavedModel folder."),
        click.option("--teacher-epochs", type=int, help="Epochs of the built-in teacher."),
        click.option("--unsafe", is_flag=True, default=None,
                     help="Allow Lambda layers (their code runs) in --teacher."),
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
        click.option("--ship", type=click.Choice(SHIP), help="Student to quantize: best (the baseline when it beats "
                                                             "the distilled one on validation) | distilled."),
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


# The quantize stage's options, on `tinykd quantize` and `tinykd run`: parameter (the quantize setting it sets) ->
# (flag, click.option's other arguments).
QUANTIZE_OPTIONS = {
    "mode": ("--mode", dict(type=click.Choice(QUANTIZE_MODES), help="qat (fine-tune with the teacher) or ptq.")),
    "representative_samples": ("--representative-samples",
                               dict(type=int, help="Training samples that calibrate the int8 ranges.")),
    "qat_epochs": ("--qat-epochs", dict(type=int, help="Quantization-aware fine-tuning epochs.")),
}


def quantize_options(command):
    """The options of QUANTIZE_OPTIONS; goes under @config_options, and `command` receives the Config with them set."""
    @functools.wraps(command)
    def wrapper(cfg, **given):
        values = {name: given.pop(name) for name in QUANTIZE_OPTIONS}
        return command(with_overrides(cfg, "quantize", **values), **given)

    for name, (flag, settings) in reversed(QUANTIZE_OPTIONS.items()):
        wrapper = click.option(flag, name, **settings)(wrapper)
    return wrapper
