/* TFLM engine adapter (PlatformIO envs *_tflm only; TFLM arrives through lib_deps): runs the export stage's C
 * array of the int8 .tflite with the TFLite Micro interpreter behind engine.h.
 *
 * Contract: exactly what `tinykd export` writes (pipeline/templates/model_*.j2), nothing renamed:
 *   model_data.h   extern const unsigned char g_model[];  extern const unsigned int g_model_len;  (16-aligned)
 *                  #define TINYKD_MODEL_SHA256 "<64 hex>"
 *   model_ops.h    tinykd::ModelOpResolver (MicroMutableOpResolver<kModelOpCount>), tinykd::RegisterModelOps()
 *   model_arena.h  #define TINYKD_ARENA_SIZE <TFLM arena, with margin>
 * tests/test_board_builds.py compiles this file against a real export and stand-in TFLM headers.
 * Not built in tinykd's CI (TFLM's C++ sources come only from PlatformIO's registry). */
#include <string.h>

#if defined(ARDUINO_ARCH_ESP32)
#include <TensorFlowLite_ESP32.h>
#include "tensorflow/lite/micro/micro_error_reporter.h"
#else
#include <TensorFlowLite.h>
#endif
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "engine.h"
#include "model_arena.h"
#include "model_data.h"
#include "model_ops.h"

namespace {
alignas(16) uint8_t arena[TINYKD_ARENA_SIZE];
tinykd::ModelOpResolver resolver;
tflite::MicroInterpreter *interpreter = nullptr;
tk_engine_info_t info;

void describe(const TfLiteTensor *tensor, tk_tensor_info_t *out)
{
    out->rank = (uint8_t)(tensor->dims->size < TK_ENGINE_MAX_DIMS ? tensor->dims->size : TK_ENGINE_MAX_DIMS);
    for (int i = 0; i < out->rank; ++i) out->dims[i] = (uint16_t)tensor->dims->data[i];
    out->bytes = (uint32_t)tensor->bytes;
    out->scale = tensor->params.scale;
    out->zero_point = tensor->params.zero_point;
}
} // namespace

extern "C" int tk_engine_init(void)
{
    if (interpreter != nullptr) return 0;
    const tflite::Model *model = tflite::GetModel(g_model);
    if (model->version() != TFLITE_SCHEMA_VERSION) return 1;
    if (tinykd::RegisterModelOps(resolver) != kTfLiteOk) return 3;
#if defined(ARDUINO_ARCH_ESP32) /* the ESP32 library's older TFLM still takes an error reporter */
    static tflite::MicroErrorReporter reporter;
    static tflite::MicroInterpreter instance(model, resolver, arena, sizeof arena, &reporter);
#else
    static tflite::MicroInterpreter instance(model, resolver, arena, sizeof arena);
#endif
    if (instance.AllocateTensors() != kTfLiteOk) return 2;
    interpreter = &instance;
    info.name = "tflm";
    info.model_sha256 = TINYKD_MODEL_SHA256;
    describe(interpreter->input(0), &info.input);
    describe(interpreter->output(0), &info.output);
    info.arena_bytes = (uint32_t)interpreter->arena_used_bytes();
    info.weight_bytes = g_model_len;
    return 0;
}

extern "C" const tk_engine_info_t *tk_engine_info(void) { return &info; }

extern "C" int tk_engine_invoke(const int8_t *input, int8_t *output)
{
    if (interpreter == nullptr) return 1;
    memcpy(interpreter->input(0)->data.int8, input, info.input.bytes);
    if (interpreter->Invoke() != kTfLiteOk) return 2;
    memcpy(output, interpreter->output(0)->data.int8, info.output.bytes);
    return 0;
}
