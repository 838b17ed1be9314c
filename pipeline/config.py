"""Settings: one frozen dataclass per stage, read from a TOML file and overridden by CLI options.

Every field is commented; values are checked when the dataclass is made, so a bad value in a TOML file and a bad
CLI option fail alike: one PipelineError naming the value and what is allowed. `configs/default.toml` is the
example file, with a reason beside each value.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

METHODS = ("hinton", "lskd", "dkd", "dist", "none")
# The KD settings each method's loss reads (losses.make_loss): what a stage trained with that loss depends on.
METHOD_FIELDS = {"hinton": ("temperature", "alpha"), "lskd": ("temperature", "alpha"),
                 "dkd": ("temperature", "dkd_alpha", "dkd_beta", "dkd_warmup"),
                 "dist": ("temperature", "dist_beta", "dist_gamma"), "none": ()}
KD_WEIGHTS = {"soft": (1.0, 0.3), "sharp": (4.0, 0.9)}  # auto (T, alpha) by targets: kd/sizing.py
MAX_FOLDS = 10  # cross-fitting past this costs more teacher training than it gains in target quality
STRATEGIES = ("none", "mirrored", "multiworker")
SHIP = ("best", "distilled")  # distill.ship: which student goes on to int8 (pipeline/kd/ship.py)
STUDENT_FAMILIES = ("conv", "dsconv", "dense")
LAYOUTS = ("auto", "image", "series", "spectrogram")
QUANTIZE_MODES = ("qat", "ptq")
BOARD_CHOICES = ("nano33ble", "esp32", "qemu-cm4")
# Widths past these are typos, not models: a 256-filter first block already makes a student of millions of
# parameters (over any MCU's flash); refusing them early beats an out-of-memory error minutes into training.
MAX_STUDENT_WIDTH = 256
MAX_TEACHER_WIDTH = 1024


# The CLI option that sets each setting (on the stage commands and `tinykd run`; tests/test_hostile_inputs.py
# checks that each exists). Hints are made from this table and the defaults below, never typed by hand.
OPTIONS = {
    "run.name": "--run", "run.seed": "--seed", "data.dataset": "--dataset", "data.layout": "--layout",
    "data.limit": "--limit", "data.unlabeled": "--unlabeled", "data.label_fraction": "--label-fraction",
    "teacher.folds": "--folds", "teacher.path": "--teacher", "teacher.epochs": "--teacher-epochs",
    "teacher.unsafe": "--unsafe", "student.family": "--student", "student.width": "--width", "student.depth": "--depth",
    "distill.method": "--method", "distill.temperature": "--temperature", "distill.alpha": "--alpha",
    "distill.epochs": "--epochs", "distill.batch_size": "--batch-size", "distill.augment": "--augment",
    "distill.strategy": "--strategy", "distill.ship": "--ship", "quantize.mode": "--mode",
    "quantize.representative_samples": "--representative-samples", "quantize.qat_epochs": "--qat-epochs",
    "export.board": "--board", "device.engine": "--engine", "device.port": "--port",
    "device.flash": "--flash", "device.allow_remote": "--allow-remote", "device.limit": "--validate-limit",
}


def hint(key: str, value: Any = None) -> str:
    """How to set `key` ("section.field") to `value` (default: its default): `Use --depth 3.`, or the line to
    write in the config file when no option sets it."""
    section, name = key.split(".")
    if value is None:
        value = next(f.default for f in dataclasses.fields(SECTIONS[section]) if f.name == name)
    if key in OPTIONS and not isinstance(value, bool) and value != "":  # flags and empty strings read as TOML
        return f"Use {OPTIONS[key]} {value}."
    return f"Set {name} = {_toml(value)} under [{section}] in your --config file."


def _toml(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else \
        f'"{value}"' if isinstance(value, str) else repr(value)


def _check(ok: bool, key: str, value: Any, allowed: str, example: Any = None) -> None:
    if not ok:
        raise PipelineError(f"{key}={value!r} is not allowed: {allowed}.", hint(key, example))


def _choice(key: str, value: str, options: tuple[str, ...]) -> None:
    _check(value in options, key, value, "choose one of " + ", ".join(options), options[0])


@dataclass(frozen=True)
class RunConfig:
    name: str = ""  # run folder name under `root`; empty = the data set's name (models/digits)
    root: str = "models"  # where run folders live
    seed: int = 0  # one seed for splits, initial weights, shuffling and augmentation: runs are bit-reproducible

    def __post_init__(self):
        _check("/" not in self.name and self.name not in (".", ".."), "run.name", self.name,
               "a plain folder name", "my-experiment")
        _check(isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed < 2 ** 32,
               "run.seed", self.seed, "it must be an integer in [0, 2^32)")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "digits"  # digits | fashion_mnist | a .npz file | an image folder (one sub-folder per class)
    # how a .npz sample of rank 2 is read: auto/image (H x W), series (T x C) or spectrogram (time x frequency:
    # SpecAugment when training); auto reads the features of `tinykd data features` as spectrograms
    layout: str = "auto"
    val_fraction: float = 0.1  # share of the training data held out to pick the best checkpoint
    test_fraction: float = 0.2  # share held out as the test set when the data has no test split of its own
    limit: int = 0  # train on at most this many samples (0 = all): for quick experiments and tests
    # a .npz of unlabeled samples (x_unlabeled, shaped like x_train): a transfer set on which only the teacher's
    # soft targets train the student. The data .npz may carry x_unlabeled itself.
    unlabeled: str = ""
    # keep the labels of only this stratified share of the training samples for the students (the rest join the
    # transfer set unlabeled); the teacher still learns from all of them. For benchmarks: what KD does with few labels
    label_fraction: float = 1.0

    def __post_init__(self):
        _choice("data.layout", self.layout, LAYOUTS)
        _check(0.0 < self.val_fraction < 0.5, "data.val_fraction", self.val_fraction, "it must be in (0, 0.5)")
        _check(0.0 < self.test_fraction < 0.5, "data.test_fraction", self.test_fraction,
               "it must be in (0, 0.5)")
        _check(self.limit >= 0, "data.limit", self.limit, "it must be >= 0 (0 = all)")
        _check(0.0 < self.label_fraction <= 1.0, "data.label_fraction", self.label_fraction,
               "it must be in (0, 1] (1 = every label)", 0.1)


@dataclass(frozen=True)
class TeacherConfig:
    path: str = ""  # your own teacher (.keras, .h5 or SavedModel folder, tf_keras); empty = train the built-in one
    unsafe: bool = False  # allow Lambda layers in your teacher: their Python code runs on load (trusted files only)
    width: int = 0  # filters of the built-in teacher's first block, doubling per block; 0 = auto (kd/sizing.py)
    epochs: int = 0  # training epochs of the built-in teacher; 0 = auto: sized to the data (pipeline/kd/sizing.py)
    batch_size: int = 64  # training batch size of the built-in teacher
    learning_rate: float = 2e-3  # Adam learning rate of the built-in teacher
    weight_decay: float = 0.05  # AdamW's decoupled weight decay of the built-in teacher (0 = plain Adam)
    augment: bool = True  # random shifts (pad and crop) of the built-in teacher's inputs: images and series
    flip: bool = False  # also mirror images left-right: only for data whose mirror images keep their class
    # K-fold cross-fitting: K teachers learn all but one fold each and give the soft targets of the fold they did not
    # see; their average is the teacher. 1 = one teacher, in-sample targets (soft with shifts and weight decay; on
    # Fashion-MNIST 92.1% vs 91.3% test, and the best student on validation: bench/results/fm_kd_defaults.json)
    folds: int = 1

    def __post_init__(self):
        _check(0 <= self.width <= MAX_TEACHER_WIDTH, "teacher.width", self.width,
               f"it must be in [1, {MAX_TEACHER_WIDTH}], or 0 = auto")
        _check(self.epochs >= 0, "teacher.epochs", self.epochs, "it must be >= 1, or 0 = auto")
        _check(self.batch_size >= 1, "teacher.batch_size", self.batch_size, "it must be >= 1")
        _check(self.learning_rate > 0, "teacher.learning_rate", self.learning_rate, "it must be > 0")
        _check(0 <= self.weight_decay < 1, "teacher.weight_decay", self.weight_decay, "it must be in [0, 1)")
        _check(1 <= self.folds <= MAX_FOLDS, "teacher.folds", self.folds, f"it must be in [1, {MAX_FOLDS}]")


@dataclass(frozen=True)
class StudentConfig:
    family: str = "dsconv"  # conv (plain 3x3 convs) | dsconv (depthwise-separable) | dense (MLP)
    width: int = 8  # filters of the first block (or units of the first dense layer); later blocks double it
    depth: int = 3  # number of blocks; each block but the last halves the spatial size

    def __post_init__(self):
        _choice("student.family", self.family, STUDENT_FAMILIES)
        _check(1 <= self.width <= MAX_STUDENT_WIDTH, "student.width", self.width,
               f"it must be in [1, {MAX_STUDENT_WIDTH}] (a wider student cannot fit a microcontroller)")
        _check(1 <= self.depth <= 8, "student.depth", self.depth, "it must be in [1, 8]")


@dataclass(frozen=True)
class DistillConfig:
    # hinton (Hinton et al. 2015) | lskd (Hinton on standardized logits, Sun et al. 2024) | dkd (Zhao et al. 2022)
    # | dist (Huang et al. 2022) | none
    method: str = "hinton"
    temperature: float = 0.0  # softens both distributions (T > 1: more "dark knowledge"); 0 = auto (kd/sizing.py)
    alpha: float = -1.0  # hinton: weight of the soft targets, (1 - alpha) of the labels; -1 = auto (kd/sizing.py)
    dkd_alpha: float = 1.0  # dkd: weight of target-class KD (paper: 1)
    dkd_beta: float = 8.0  # dkd: weight of non-target-class KD (paper: 8 on CIFAR-100)
    dkd_warmup: int = 0  # dkd: epochs over which its KD terms ramp up linearly from 0 (paper: 20 of 240)
    dist_beta: float = 2.0  # dist: weight of the inter-class (per-sample) relation term (paper: 2 on CIFAR)
    dist_gamma: float = 2.0  # dist: weight of the intra-class (per-class, across the batch) relation term
    epochs: int = 0  # student training epochs (the same for the baseline, so the comparison is fair); 0 = auto
    batch_size: int = 64  # global batch size (split across replicas under a strategy)
    learning_rate: float = 5e-3  # Adam learning rate, cosine-decayed to zero over the run
    augment: bool = False  # random shifts of the input; then the teacher runs on every augmented batch
    baseline: bool = True  # also train the same student on hard labels only (method none) for comparison
    strategy: str = "none"  # none | mirrored (all local devices) | multiworker (hosts from TF_CONFIG)
    # which student is quantized and exported: best (the distilled one, unless the baseline beats it on the
    # validation split) | distilled (always the distilled one)
    ship: str = "best"

    def __post_init__(self):
        _choice("distill.method", self.method, METHODS)
        _choice("distill.ship", self.ship, SHIP)
        _choice("distill.strategy", self.strategy, STRATEGIES)
        _check(self.temperature >= 0, "distill.temperature", self.temperature, "it must be > 0, or 0 = auto", 4.0)
        _check(0.0 <= self.alpha <= 1.0 or self.alpha == -1, "distill.alpha", self.alpha,
               "it must be in [0, 1], or -1 = auto", 0.9)
        for name in ("dkd_alpha", "dkd_beta", "dist_beta", "dist_gamma"):
            _check(getattr(self, name) >= 0, f"distill.{name}", getattr(self, name), "it must be >= 0")
        _check(self.epochs >= 0, "distill.epochs", self.epochs, "it must be >= 1, or 0 = auto")
        _check(self.dkd_warmup >= 0, "distill.dkd_warmup", self.dkd_warmup, "it must be >= 0 (0 = none)")
        _check(self.batch_size >= 1, "distill.batch_size", self.batch_size, "it must be >= 1")
        _check(self.learning_rate > 0, "distill.learning_rate", self.learning_rate, "it must be > 0")


@dataclass(frozen=True)
class QuantizeConfig:
    mode: str = "qat"  # qat (quantization-aware fine-tuning with the distillation loss) | ptq (post-training only)
    representative_samples: int = 300  # training samples that calibrate activation ranges (PTQ; and QAT's I/O)
    qat_epochs: int = 0  # fine-tuning epochs of the fake-quantized student (qat only); 0 = auto
    qat_learning_rate: float = 3e-4  # Adam learning rate of the fine-tuning, cosine-decayed to zero (qat only)
    qat_batch_size: int = 64  # fine-tuning batch size (qat only)

    def __post_init__(self):
        _choice("quantize.mode", self.mode, QUANTIZE_MODES)
        _check(1 <= self.representative_samples <= 100_000, "quantize.representative_samples",
               self.representative_samples, "it must be in [1, 100000]")
        _check(self.qat_epochs >= 0, "quantize.qat_epochs", self.qat_epochs, "it must be >= 1, or 0 = auto")
        _check(self.qat_learning_rate > 0, "quantize.qat_learning_rate", self.qat_learning_rate, "it must be > 0")
        _check(self.qat_batch_size >= 1, "quantize.qat_batch_size", self.qat_batch_size, "it must be >= 1")


# How the AOT compiler picks each layer's kernel and weight layout (pipeline/compiler/policy.py): the default first.
OPTIMIZE = ("balanced", "speed", "size")


@dataclass(frozen=True)
class ExportConfig:
    board: str = "nano33ble"  # nano33ble | esp32 | qemu-cm4: the budget (flash, RAM) the export must fit
    stand_in: str = "nano33ble"  # qemu-cm4 only: the board whose budget the emulator enforces
    arena_margin: float = 0.10  # added to the measured minimum arena (share of it, at least 256 bytes)
    # AOT compiler, per layer: balanced (int8 weights wherever they run fast) | speed (fewest instructions) |
    # size (fewest bytes of weights)
    optimize: str = OPTIMIZE[0]

    def __post_init__(self):
        _choice("export.board", self.board, BOARD_CHOICES)
        _choice("export.optimize", self.optimize, OPTIMIZE)
        _choice("export.stand_in", self.stand_in, BOARD_CHOICES[:2])
        _check(0.0 <= self.arena_margin <= 1.0, "export.arena_margin", self.arena_margin, "it must be in [0, 1]")


ENGINES = ("aot", "tflm")


@dataclass(frozen=True)
class DeviceConfig:
    engine: str = "aot"  # aot (tinykd's C99 engine: emulator and boards) | tflm (TFLite Micro: boards via PlatformIO)
    port: str = ""  # pyserial URL of a real device (/dev/ttyACM0); empty = build for QEMU and validate there
    flash: bool = False  # with port: build and upload the firmware with PlatformIO before validating
    allow_remote: bool = False  # let port be a socket:// or rfc2217:// URL to another host (default: this one only)
    # validate the first N test samples only (0 = the whole test set). QEMU's UART takes ~20 KB/s, so 10,000 28x28
    # images take ~7 min; 2,000 prove bit-exactness in ~2 min. Host int8 accuracy always covers the whole test set.
    limit: int = 2000
    timeout: float = 2.0  # seconds to wait for one reply from the device

    def __post_init__(self):
        _choice("device.engine", self.engine, ENGINES)
        _check(self.limit >= 0, "device.limit", self.limit, "it must be >= 0 (0 = all)")
        _check(self.timeout > 0, "device.timeout", self.timeout, "it must be > 0")
        if self.flash and not self.port:
            raise PipelineError("device.flash=True needs a port to flash.", "Add --port /dev/ttyACM0 (your board).")
        if self.port:  # the same check as the --port options of validate and flash, for run and config files
            from pipeline.serial_url import check_port
            # PlatformIO uploads to a serial device, not a URL
            check_port(self.port, urls=not self.flash, remote=self.allow_remote)


SECTIONS = {"run": RunConfig, "data": DataConfig, "teacher": TeacherConfig, "student": StudentConfig,
            "distill": DistillConfig, "quantize": QuantizeConfig, "export": ExportConfig,
            "device": DeviceConfig}


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)

    @property
    def run_dir(self) -> Path:
        name = self.run.name or Path(self.data.dataset).stem.replace(".", "_")
        return Path(self.run.root) / name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _section(cls, section: str, values: dict):
    allowed = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in allowed:
            raise PipelineError(f"Unknown setting '{section}.{key}'.",
                                f"Settings of [{section}]: {', '.join(allowed)}.")
        expected = type(allowed[key].default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise PipelineError(f"Setting '{section}.{key}' = {value!r} has the wrong type: it must be "
                                f"{_TYPE_NAMES[expected]}.", hint(f"{section}.{key}"))
    return cls(**values)


def with_overrides(cfg: Config, section: str, **values: Any) -> Config:
    """A copy of `cfg` with some fields of one section replaced (None values ignored), validated again."""
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return cfg
    merged = {**dataclasses.asdict(getattr(cfg, section)), **values}
    return dataclasses.replace(cfg, **{section: _section(SECTIONS[section], section, merged)})


def load_config(path: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Defaults, then the TOML file, then `overrides` ({section: {field: value}}, None values ignored)."""
    merged: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    if path is not None:
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except OSError as e:
            raise PipelineError(f"Cannot read config file '{path}': {e.strerror}.", "Check the --config path.")
        except UnicodeDecodeError as e:
            raise PipelineError(f"Config file '{path}' is not UTF-8 text (byte {e.start}).",
                                "Save it as UTF-8 TOML.") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PipelineError(f"Config file '{path}' is not valid TOML: {e}.", "Fix the file.")
        for section, values in data.items():
            if section not in SECTIONS or not isinstance(values, dict):
                raise PipelineError(f"Unknown section [{section}] in '{path}'.",
                                    f"Sections: {', '.join(SECTIONS)}.")
            merged[section].update(values)
    for section, values in (overrides or {}).items():
        merged[section].update({k: v for k, v in values.items() if v is not None})
    return Config(**{name: _section(cls, name, merged[name]) for name, cls in SECTIONS.items()})
