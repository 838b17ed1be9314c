/* AOT engine adapter: exposes the generated model.h/model.c (the contract below) through engine.h.
 *
 * Contract of the generated model.h (pipeline/compiler writes it; tests/fixtures/fixture_model is a test double):
 *   TK_MODEL_SHA256 "<64 hex>", TK_MODEL_{INPUT,OUTPUT}_DIMS_COUNT n, TK_MODEL_{INPUT,OUTPUT}_DIMS {..},
 *   TK_MODEL_{INPUT,OUTPUT}_BYTES, TK_MODEL_{INPUT,OUTPUT}_SCALE, TK_MODEL_{INPUT,OUTPUT}_ZERO_POINT,
 *   TK_MODEL_ARENA_BYTES, TK_MODEL_WEIGHT_BYTES, TK_MODEL_OUTPUT_TYPE (int8_t, or float after a final DEQUANTIZE),
 *   int tk_model_invoke(const int8_t *input, TK_MODEL_OUTPUT_TYPE *output).
 */
#include "engine.h"
#include "model.h"
#include "tk_protocol.h"

#if TK_MODEL_INPUT_DIMS_COUNT > TK_ENGINE_MAX_DIMS || TK_MODEL_OUTPUT_DIMS_COUNT > TK_ENGINE_MAX_DIMS
#error "model tensor rank exceeds TK_ENGINE_MAX_DIMS"
#endif
#if TK_MODEL_INPUT_BYTES > TK_PROTO_MAX_PAYLOAD || TK_MODEL_OUTPUT_BYTES + 8 > TK_PROTO_MAX_PAYLOAD
#error "model input/output does not fit in one frame: raise TK_PROTO_MAX_PAYLOAD"
#endif

static const tk_engine_info_t aot_info = {
    .name = "aot",
    .model_sha256 = TK_MODEL_SHA256,
    .input = {.rank = TK_MODEL_INPUT_DIMS_COUNT,
              .dims = TK_MODEL_INPUT_DIMS,
              .bytes = TK_MODEL_INPUT_BYTES,
              .scale = TK_MODEL_INPUT_SCALE,
              .zero_point = TK_MODEL_INPUT_ZERO_POINT},
    .output = {.rank = TK_MODEL_OUTPUT_DIMS_COUNT,
               .dims = TK_MODEL_OUTPUT_DIMS,
               .bytes = TK_MODEL_OUTPUT_BYTES,
               .scale = TK_MODEL_OUTPUT_SCALE,
               .zero_point = TK_MODEL_OUTPUT_ZERO_POINT},
    .arena_bytes = TK_MODEL_ARENA_BYTES,
    .weight_bytes = TK_MODEL_WEIGHT_BYTES,
};

int tk_engine_init(void) { return 0; }

const tk_engine_info_t *tk_engine_info(void) { return &aot_info; }

#ifdef TK_MODEL_OUTPUT_FLOAT
#include <string.h>

/* A float output (final DEQUANTIZE) lands in an aligned buffer first: the reply bytes may be unaligned. */
int tk_engine_invoke(const int8_t *input, int8_t *output)
{
    static float values[TK_MODEL_OUTPUT_BYTES / sizeof(float)];
    const int status = tk_model_invoke(input, values);
    memcpy(output, values, sizeof values);
    return status;
}
#else
int tk_engine_invoke(const int8_t *input, int8_t *output) { return tk_model_invoke(input, output); }
#endif
