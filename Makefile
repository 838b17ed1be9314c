# tinykd — two commands do everything:  make run   (main job on the default)   make test   (the test suite)
# make check: the fast tier of the suite (no training, TensorFlow conversion, QEMU or long builds): ~20 s of CPU.
# Both install what is missing first (apt packages, then a pinned virtualenv); when all is there they skip it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# python3-venv: the virtualenv; dataset-fashion-mnist: the benchmark data set; g++: compiles generated C in tests.
# gcc-arm-none-eabi + libnewlib-arm-none-eabi: Cortex-M4 firmware for the emulator (C only: no libstdc++, 1.5 GB);
# qemu-system-arm: runs it on the mps2-an386 board (tinykd emulate / validate --emulator qemu, tinykd run).
# clang + libclang-rt-14-dev: libFuzzer with ASan/UBSan for the firmware's protocol parser (make fuzz, tests).
# chromium: headless, renders report.html in the tests to check that every plot loads.
# cmake: builds the CMake package of `tinykd export --library` in the tests (users building it need it too).
# clang-format-14: the C style of firmware/ (.clang-format), checked by tests/test_c_style.py.
# espeak-ng: the speech synthesiser of the keyword-spotting data set (tinykd data kws).
APT_PACKAGES := python3-venv dataset-fashion-mnist g++ gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm \
                clang libclang-rt-14-dev chromium cmake clang-format-14 espeak-ng
FUZZ_SECONDS ?= 600
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_USE_LEGACY_KERAS := 1

.PHONY: run test check install apt bench fuzz reliability clean
run: install
	$(BIN)/tinykd run

# Two workers (pytest-xdist), one per core of CI: 12 min instead of 20 on a 2-core machine, because half the suite
# waits on QEMU, compilers and subprocesses rather than computing.
test: install
	$(BIN)/python -m pytest -n 2

# Tests marked slow (pyproject.toml; tests/conftest.py marks every test that needs a trained run) are left out.
check: install
	$(BIN)/python -m pytest -m "not slow"

# Every benchmark (long: not part of `make test`), each writing bench/results/<name>.json; then SUMMARY.md and the
# README's table from those JSON files. The device bench measures the digits run that run_time.py keeps.
BENCH_PY = PYTHONPATH=$(CURDIR) $(BIN)/python
bench: install
	$(BENCH_PY) bench/kd_quality.py
	$(BENCH_PY) bench/train_speed.py
	$(BENCH_PY) bench/quantize.py
	$(BENCH_PY) bench/run_time.py --keep models/bench-run
	$(BENCH_PY) bench/run_time.py --dataset fashion_mnist
	$(BENCH_PY) bench/sensor.py
	$(BENCH_PY) bench/ship.py
	$(BENCH_PY) bench/device.py --run-dir models/bench-run
	$(BENCH_PY) bench/memory.py
	$(BENCH_PY) bench/kernels.py
	$(BENCH_PY) bench/reliability.py
	$(BENCH_PY) bench/fuzz.py --seconds $(FUZZ_SECONDS)
	$(BENCH_PY) bench/frontend.py
	$(BENCH_PY) bench/kws.py
	$(BENCH_PY) bench/kws_link.py models/kws-bench
	$(BIN)/python bench/summary.py --readme

# Long libFuzzer run on the firmware's protocol parser and request handler; prints the execution count and
# writes bench/results/fuzz.json (make test runs it for 20 s).
fuzz: install
	$(BIN)/python bench/fuzz.py --seconds $(FUZZ_SECONDS)

# 10,000 samples through a fault-injecting link (1% of frames damaged): bench/results/reliability.json.
reliability: install
	$(BIN)/python bench/reliability.py

install: apt $(STAMP)

# Installs only the Debian packages that are missing; needs root (or sudo) only when something is missing.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    echo "installing Debian packages:" $$missing; \
	    $$sudo apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): requirements.lock pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	# sktime only for the real sensor data files its wheel ships (tests/sensor_sets.py reads them itself): no deps
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps sktime==1.2.0
	@touch $@

clean:
	rm -rf $(VENV) build .pytest_cache
