"""The scratch sizes the compiler plans (pipeline/compiler/pack.py) are the kernel library's own
*_scratch_size() functions, called through ctypes on the host build of the library."""
import ctypes
import shutil
import subprocess

import pytest

from pipeline.compiler import pack
from pipeline.compiler.hostbuild import kernel_archive

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


class Dims(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int32), ("h", ctypes.c_int32), ("w", ctypes.c_int32), ("c", ctypes.c_int32)]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    library = tmp_path_factory.mktemp("kernels") / "libkernels.so"
    subprocess.run(["gcc", "-shared", "-o", str(library), "-Wl,--whole-archive", str(kernel_archive()),
                    "-Wl,--no-whole-archive"], check=True)
    lib = ctypes.CDLL(str(library))
    for name in ("tk_conv2d_fast_scratch_size", "tk_conv2d_fast8_tiles_scratch_size",
                 "tk_depthwise_conv2d_3x3_fast_scratch_size", "tk_fully_connected_fast_scratch_size"):
        getattr(lib, name).restype = ctypes.c_int32
    return lib


@pytest.mark.parametrize("kh, kw, channels",  # (3, 3, 3), (3, 2, 1), (5, 3, 3): flat taps (pack.flat_taps)
                         [(3, 3, 3), (1, 1, 64), (10, 4, 1), (5, 2, 6), (3, 3, 16), (3, 2, 1), (5, 3, 3)])
def test_conv_scratch_matches_the_library(kernels, kh, kw, channels):
    x, f = Dims(1, 12, 9, channels), Dims(8, kh, kw, channels)
    assert kernels.tk_conv2d_fast_scratch_size(ctypes.byref(x), ctypes.byref(f)) == \
        pack.conv_scratch_bytes(kh, kw, channels)


@pytest.mark.parametrize("kh, kw, channels, pixels",  # no tiles: 3x3x3 (28 taps), 260 and 40 taps, 3 pixels
                         [(1, 1, 16, 42), (1, 1, 256, 42), (1, 1, 128, 36), (3, 3, 3, 100), (1, 1, 260, 40),
                          (1, 1, 40, 40), (1, 1, 64, 3), (3, 3, 16, 9), (1, 1, 16, 4000)])
def test_conv8_tiles_scratch_matches_the_library(kernels, kh, kw, channels, pixels):
    x, f = Dims(1, pixels, 1, channels), Dims(8, kh, kw, channels)
    assert kernels.tk_conv2d_fast8_tiles_scratch_size(ctypes.byref(x), ctypes.byref(f)) == \
        pack.conv8_tiles_scratch_bytes(kh, kw, channels, pixels)


def test_conv8_tiles_scratch_holds_a_chunk_of_tiles():
    """The tiles' columns come after the three of tk_conv2d_fast_s8: one tile per 4 input pixels (8 bytes per tap
    and tile) up to pack.CONV8_TILES_MAX bytes, none where the taps do not come in groups of 16 (40) or
    for fewer than 4 pixels."""
    extra = [pack.conv8_tiles_scratch_bytes(1, 1, c, p) - pack.conv_scratch_bytes(1, 1, c)
             for c, p in ((128, 36), (256, 42), (16, 4000), (40, 40), (64, 3))]
    assert extra == [9 * 8 * 128, 5 * 8 * 256, pack.CONV8_TILES_MAX, 0, 0]


@pytest.mark.parametrize("h, w, channels", [(25, 5, 64), (2, 6, 4), (7, 5, 8), (48, 48, 8), (1, 1, 4), (24, 20, 22),
                                             (3, 3, 1), (21, 40, 8), (9, 400, 4)])
def test_depthwise_3x3_scratch_matches_the_library(kernels, h, w, channels):
    x = Dims(1, h, w, channels)
    expected = pack.dw3x3_scratch_bytes(h, w, channels)
    assert kernels.tk_depthwise_conv2d_3x3_fast_scratch_size(ctypes.byref(x)) == expected


def test_depthwise_3x3_planes_stop_growing_with_the_height():
    """Past pack.DW3X3_PLANES_MAX the planes hold a band of blocks: a 10x taller input needs no more scratch, and the
    bands' planes stay within the cap (48 columns: 2 blocks of 2,400 bytes and the one more)."""
    assert pack.dw3x3_scratch_bytes(480, 48, 8) == pack.dw3x3_scratch_bytes(48, 48, 8)
    assert pack.dw3x3_scratch_bytes(48, 48, 8) - 4 * 2 * 48 <= pack.DW3X3_PLANES_MAX
    assert pack.dw3x3_scratch_bytes(8, 48, 8) == 4 * (4 * 2 * 50 * 3 + 2 * 48)  # under the cap: all (2) blocks


@pytest.mark.parametrize("depth", [1, 4, 63, 64, 250])
def test_fully_connected_scratch_matches_the_library(kernels, depth):
    assert kernels.tk_fully_connected_fast_scratch_size(depth) == pack.fc_scratch_bytes(depth)
