"""The one place that imports Keras: always Keras 2 (tf_keras), never Keras 3.

tfmot's quantize_model rejects Keras 3 models, so TF_USE_LEGACY_KERAS must be set before TensorFlow is first
imported (pipeline/__init__.py does it) and every module takes `keras` from here.
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["keras", "tf"]
