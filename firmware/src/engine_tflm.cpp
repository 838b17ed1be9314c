/* TFLM engine adapter (PlatformIO envs *_tflm only; TFLM arrives through lib_deps): runs the export stage's C
 * array of the int8 .tflite with the TFLite Micro interpreter behind engine.h.
 *
 * Contract of the exported model_data.h (export stage):
 *   extern const unsigned char tk_model_data[];   extern const unsigned int tk_model_data_len;   (16-aligned)
 *   #define TK_MODEL_SHA256 "<64 hex>"            #define TK_MODEL_ARENA_BYTES <TFLM arena, with margin>
 *   #define TK_MODEL_OP_COUNT <n>                 #define TK_MODEL_ADD_OPS(resolver) (resolver).AddConv2D(); ...
 * Not compiled in tinykd's CI (TFLM's C++ sources come only from PlatformIO's registry). */
#include <string.h>

#if defined(ARDUINO_ARCH_ESP32)
#include <TensorFlowLite_ESP32.h>
#else
#include <TensorFlowLite.h>
#endif
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "engine.h"
#include "model_data.h"

namespace {
alignas(16) uint8_t arena[TK_MODEL_ARENA_BYTES];
tflite::MicroMutableOpResolver<TK_MODEL_OP_COUNT> resolver;
tflite::MicroInterpreter *interpreter = nullptr;
tk_engine_info_t info;

void describe(const TfLiteTensor *tensor, tk_tensor_info_t *out) {
    out->rank = (uint8_t)(tensor->dims->size < TK_ENGINE_MAX_DIMS ? tensor->dims->size : TK_ENGINE_MAX_DIMS);
    for (int i = 0; i < out->rank; ++i) out->dims[i] = (uint16_t)tensor->dims->data[i];
    out->bytes = (uint32_t)tensor->bytes;
    out->scale = tensor->params.scale;
    out->zero_point = tensor->params.zero_point;
}
}  // namespace

extern "C" int tk_engine_init(void) {
    if (interpreter != nullptr) return 0;
    const tflite::Model *model = tflite::GetModel(tk_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) return 1;
    TK_MODEL_ADD_OPS(resolver);
#if defined(ARDUINO_ARCH_ESP32) /* the ESP32 library's older TFLM still takes an error reporter */
    static tflite::MicroErrorReporter reporter;
    static tflite::MicroInterpreter instance(model, resolver, arena, sizeof arena, &reporter);
#else
    static tflite::MicroInterpreter instance(model, resolver, arena, sizeof arena);
#endif
    if (instance.AllocateTensors() != kTfLiteOk) return 2;
    interpreter = &instance;
    info.name = "tflm";
    info.model_sha256 = TK_MODEL_SHA256;
    describe(interpreter->input(0), &info.input);
    describe(interpreter->output(0), &info.output);
    info.arena_bytes = (uint32_t)interpreter->arena_used_bytes();
    info.weight_bytes = tk_model_data_len;
    return 0;
}

extern "C" const tk_engine_info_t *tk_engine_info(void) { return &info; }

extern "C" int tk_engine_invoke(const int8_t *input, int8_t *output) {
    if (interpreter == nullptr) return 1;
    memcpy(interpreter->input(0)->data.int8, input, info.input.bytes);
    if (interpreter->Invoke() != kTfLiteOk) return 2;
    memcpy(output, interpreter->output(0)->data.int8, info.output.bytes);
    return 0;
}
