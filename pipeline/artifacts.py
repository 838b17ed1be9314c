"""The names of a run folder's artifacts, written once: the stage that makes a file and every reader use these.

    models/<run>/
      run.json             MANIFEST        config, versions, SHA-256 of every artifact, each stage's metrics
      teacher.keras        TEACHER         the teacher (trained or the user's), and its logits on the training set
      student.keras        STUDENT         the distilled student (float); baseline.keras: the hard-label student
      student_int8.tflite  MODEL_INT8      the int8 model: the single source of truth for both engines
      golden.npz           GOLDEN          int8 test inputs, TFLM's outputs for them, labels (quantize stage)
      misclassified.npz    MISCLASSIFIED   the first test samples the int8 model gets wrong (quantize, for the report)
      audio_clips.npz      AUDIO_CLIPS     keyword data: one test clip's features per class (quantize, for the report)
      export/              EXPORT          C array, op resolver, I/O and arena headers (export stage, TFLM engine)
      aot/                 AOT             model.h, model.c (compile stage, AOT engine)
      firmware/            FIRMWARE        firmware.elf for QEMU, its map and link script (build stage)
      report.md, .html     REPORTS         the report (report stage)
"""
MANIFEST = "run.json"
TEACHER = "teacher.keras"
TEACHER_LOGITS = "teacher_logits.npy"
STUDENT = "student.keras"
BASELINE = "baseline.keras"
MODEL_INT8 = "student_int8.tflite"
GOLDEN = "golden.npz"
MISCLASSIFIED = "misclassified.npz"
AUDIO_CLIPS = "audio_clips.npz"
QAT_WEIGHTS = "student_qat_weights.h5"  # fine-tuned fake-quant weights (qat), legacy HDF5: loads by topology
EXPORT = "export"
AOT = "aot"
AOT_FILES = ("model.h", "model.c")  # what the compile stage writes into AOT, and what a build needs
FIRMWARE = "firmware"
FIRMWARE_ELF = "firmware.elf"  # inside FIRMWARE
LIBRARY = "library"  # `tinykd export --library`: library/<format>/<name>/
RENODE_LOG = "renode.log"
REPORTS = ("report.md", "report.html")
