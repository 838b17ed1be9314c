"""The audio front end on the host: firmware/lib/tinykd_frontend compiled with the system gcc into a shared library
at first use (cached by the SHA-256 of its sources under ~/.cache/tinykd), called through ctypes.

`features(pcm)` turns clips of 16,000 int16 samples into (49, 40) int8 log-mel features: the same C, the same
bits, as the firmware computes on the device (tests/test_frontend_qemu.py checks it in QEMU).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from pipeline.audio.frontend_tables import FRONTEND_DIR, FrontendParams
from pipeline.errors import PipelineError

PARAMS = FrontendParams()
SOURCES = ("tk_frontend.c", "tk_frontend.h", "tk_frontend_tables.h")
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fPIC", "-shared"]
_LIBRARIES: dict[str, ctypes.CDLL] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinykd"


def sources_hash() -> str:
    digest = hashlib.sha256(" ".join(CFLAGS).encode())
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + (FRONTEND_DIR / name).read_bytes())
    return digest.hexdigest()[:16]


def library() -> ctypes.CDLL:
    """The front end as a host shared library, compiled once per source version."""
    key = sources_hash()
    if key in _LIBRARIES:
        return _LIBRARIES[key]
    path = cache_dir() / f"libtk_frontend-{key}.so"
    if not path.is_file():
        if shutil.which("gcc") is None:
            raise PipelineError("'gcc' is not installed: the audio front end is compiled for the host with it.",
                                "Install it: apt-get install gcc.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        result = subprocess.run(["gcc", *CFLAGS, f"-I{FRONTEND_DIR}", str(FRONTEND_DIR / "tk_frontend.c"), "-o",
                                 str(tmp)], capture_output=True, text=True)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise PipelineError(f"The audio front end did not compile: {result.stderr.strip()[:600]}",
                                f"Check {FRONTEND_DIR}.")
        tmp.replace(path)
    lib = ctypes.CDLL(str(path))
    lib.tk_frontend_clip_s16.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_void_p]
    lib.tk_frontend_clip_s16.restype = ctypes.c_int
    lib.tk_frontend_scratch_size.restype = ctypes.c_int32
    _LIBRARIES[key] = lib
    return lib


def check_clips(pcm: np.ndarray, what: str = "audio") -> np.ndarray:
    """(n, 16000) int16 from one clip or a batch; PipelineError naming what is wrong otherwise."""
    pcm = np.asarray(pcm)
    if pcm.ndim == 1:
        pcm = pcm[None]
    if pcm.ndim != 2 or pcm.shape[1] != PARAMS.clip_samples:
        raise PipelineError(f"The {what} has clips of shape {pcm.shape[1:]} ({pcm.shape[-1] if pcm.ndim else 0} "
                            f"samples); the front end takes {PARAMS.clip_samples} samples (1 s at "
                            f"{PARAMS.sample_rate} Hz).", f"Pad or cut every clip to {PARAMS.clip_samples} samples.")
    if pcm.dtype != np.int16:
        if not np.issubdtype(pcm.dtype, np.integer) or pcm.size and (pcm.min() < -32768 or pcm.max() > 32767):
            raise PipelineError(f"The {what} has dtype {pcm.dtype}; the front end reads int16 samples.",
                                "Convert it: np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16).")
        pcm = pcm.astype(np.int16)
    return np.ascontiguousarray(pcm)


def features(pcm: np.ndarray, log_mel: bool = False, what: str = "audio"):
    """(n, 49, 40) int8 features of (n, 16000) or (16000,) int16 clips; with `log_mel`, also the (n, 49, 40)
    int32 Q12 log2 energies before quantization (INT32_MIN for a band without energy)."""
    pcm = check_clips(pcm, what)
    lib = library()
    shape = (len(pcm), PARAMS.frames, PARAMS.mel_bands)
    out = np.zeros(shape, np.int8)
    levels = np.zeros(shape, np.int32) if log_mel else None
    scratch = np.zeros(lib.tk_frontend_scratch_size() // 4, np.int32)
    for i in range(len(pcm)):
        status = lib.tk_frontend_clip_s16(pcm[i].ctypes.data, PARAMS.clip_samples, scratch.ctypes.data,
                                          out[i].ctypes.data, levels[i].ctypes.data if log_mel else None)
        if status != 0:
            raise PipelineError(f"tk_frontend_clip_s16 returned {status} on clip {i}.",
                                "This is a bug in the front end; please report it.")
    return (out, levels) if log_mel else out
