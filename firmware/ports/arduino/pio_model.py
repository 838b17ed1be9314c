"""PlatformIO extra script (pre): adds the tinykd model folder (and the AOT kernels) to the firmware build.

The folder is TINYKD_MODEL_DIR (set by `tinykd flash`) or the env's `custom_model_dir` (relative to the project).
AOT envs need model.h + model.c; TFLM envs (-DTK_ENGINE_TFLM) need model_data.h + model_data.cc.
"""
import os

Import("env")  # noqa: F821  (SCons injects `env`)

project = env.subst("$PROJECT_DIR")  # noqa: F821
model_dir = os.environ.get("TINYKD_MODEL_DIR") or env.GetProjectOption("custom_model_dir")  # noqa: F821
model_dir = os.path.normpath(os.path.join(project, model_dir))
flags = env.GetProjectOption("build_flags")  # noqa: F821
tflm = "-DTK_ENGINE_TFLM" in (" ".join(flags) if isinstance(flags, list) else flags)
needed = ("model_data.h", "model_data.cc") if tflm else ("model.h", "model.c")
missing = [name for name in needed if not os.path.isfile(os.path.join(model_dir, name))]
if missing:
    print(f"error: model folder '{model_dir}' has no {' or '.join(missing)}. Run `tinykd export` first, "
          "or set TINYKD_MODEL_DIR.")
    env.Exit(1)  # noqa: F821

env.Append(CPPPATH=[model_dir])  # noqa: F821
env.BuildSources(os.path.join("$BUILD_DIR", "tinykd_model"), model_dir)  # noqa: F821
kernels = os.path.join(project, "firmware", "lib", "tinykd_kernels")
if not tflm and os.path.isdir(kernels):
    env.Append(CPPPATH=[kernels, os.path.join(kernels, "include")])  # noqa: F821
    env.BuildSources(os.path.join("$BUILD_DIR", "tinykd_kernels"), kernels)  # noqa: F821
