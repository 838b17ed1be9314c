"""tinykd: knowledge distillation for microcontrollers.

Stages (each a module with one public function, each a `tinykd` command), one sub-package per part:
kd/ (data -> teacher -> distill; audio/ beside it makes keyword data and features) -> int8/ (quantize ->
export) -> compiler/ (compile) -> device/ (build -> flash -> validate -> cycles) -> report/ (report); cli/ is the
command line. The modules at this level are what every stage shares: config, errors, runs (the run folder),
artifacts (its file names), paths, targets (boards), progress, metrics, tflog, serial_url. A module imports only
from its own level or below (tests/test_imports.py).
"""
import os

# Keras 2 everywhere: tfmot rejects Keras 3 models. This must happen before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
