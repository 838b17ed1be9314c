"""The int8 model: post-training or quantization-aware quantization (quantize.py), the TFLite Micro reference
runtime (tflm.py), reading .tflite files (tflite_file.py), `tinykd inspect` (inspect_tflite.py) and the TFLM C array
export (export.py, carray.py)."""
