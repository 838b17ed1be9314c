"""The C kernels of firmware/lib/tinykd_kernels as the compiler sees them: the function, whether it has a
Cortex-M4 DSP path, how much arena scratch a call needs (the library's *_scratch_size(), mirrored in pack.py and
checked by tests/test_scratch_sizes.py) and whether it may write its output exactly over its input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pipeline.compiler import pack


@dataclass(frozen=True)
class Kernel:
    name: str                                   # C function
    dsp: bool = False                           # SMLAD / SXTAB16 / SMMULR inner loops on Cortex-M4
    scratch: Callable[..., int] | None = None   # bytes of arena scratch from the call's geometry
    in_place: bool = False                      # may write exactly over its (dying) input


CONV = Kernel("tk_conv2d_s8")
CONV_FAST = Kernel("tk_conv2d_fast_s8", dsp=True, scratch=pack.conv_scratch_bytes)
CONV_FAST8 = Kernel("tk_conv2d_fast8_s8", dsp=True, scratch=pack.conv_scratch_bytes)  # int8 weights
CONV_FAST8_TILES = Kernel("tk_conv2d_fast8_tiles_s8", dsp=True, scratch=pack.conv8_tiles_scratch_bytes)  # 4 pixels
CONV_NARROW = Kernel("tk_conv2d_narrow_s8", dsp=True)  # 1x1 over 8 input channels
DEPTHWISE = Kernel("tk_depthwise_conv2d_s8")
DEPTHWISE_FAST = Kernel("tk_depthwise_conv2d_fast_s8", dsp=True)
DEPTHWISE_3X3 = Kernel("tk_depthwise_conv2d_3x3_fast_s8", dsp=True, scratch=pack.dw3x3_scratch_bytes, in_place=True)
FULLY_CONNECTED = Kernel("tk_fully_connected_s8")
FULLY_CONNECTED_FAST = Kernel("tk_fully_connected_fast_s8", dsp=True, scratch=pack.fc_scratch_bytes)
FULLY_CONNECTED_FAST8 = Kernel("tk_fully_connected_fast8_s8", dsp=True, scratch=pack.fc_scratch_bytes)  # int8 weights
TRANSPOSE_CONV = Kernel("tk_transpose_conv2d_s8", scratch=lambda elements: 4 * elements)  # int32 accumulators
MAX_POOL = Kernel("tk_max_pool2d_s8", dsp=True)  # channels in fours: SSUB8 + SEL per 4 channels
AVG_POOL = Kernel("tk_avg_pool2d_s8", dsp=True)
MEAN_HW = Kernel("tk_mean_hw_s8", dsp=True)  # channels in fours, <= 256 pixels: SXTAB16 sums
REDUCE = Kernel("tk_reduce_s8")
ADD = Kernel("tk_add_s8", dsp=True)
BINARY = Kernel("tk_binary_s8")                  # broadcasting ADD, SUB, MUL, MAXIMUM, MINIMUM, PRELU
SOFTMAX = Kernel("tk_softmax_s8")
LOGISTIC = Kernel("tk_logistic_s8")
TANH = Kernel("tk_tanh_s8")
RELU = Kernel("tk_relu_s8")
LEAKY_RELU = Kernel("tk_leaky_relu_s8")
HARD_SWISH = Kernel("tk_hard_swish_s8")
REQUANTIZE = Kernel("tk_requantize_s8")
DEQUANTIZE = Kernel("tk_dequantize_s8")
RESHAPE = Kernel("tk_reshape_s8")
PAD = Kernel("tk_pad_s8")
CONCATENATION = Kernel("tk_concatenation_s8")
STRIDED_COPY = Kernel("tk_strided_copy_s8")      # slices, splits, transposes, batch <-> space
RESIZE_NEAREST = Kernel("tk_resize_nearest_s8")
