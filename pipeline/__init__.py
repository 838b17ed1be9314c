"""tinykd: knowledge distillation for microcontrollers.

Stages (each a module with one public function, each a `tinykd` command):
data -> teacher -> distill -> quantize -> export -> build -> flash -> validate -> report.
"""
import os

# Keras 2 everywhere: tfmot rejects Keras 3 models. This must happen before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
