"""The model on a device: the compile/build/flash/validate stages (stages.py), firmware builds (build.py),
flashing (flash.py), emulators (emulator.py), the serial link and its protocol (link.py,
protocol.py), the validation session (session.py, golden.py, validation.py), the Cortex-M4 latency estimate
(cycles.py, m4_timing.py, latency.py), the Arduino library export (library.py), the keyword model's
feature->input table (audio_input.py) and the fault-injecting link
(faults.py)."""
