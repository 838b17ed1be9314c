/* Engine seam: the app runs a model only through these functions, so the AOT engine (engine_aot.c, over the
 * generated model.h) and the TFLM engine (engine_tflm.cpp, PlatformIO boards only) are interchangeable. */
#ifndef TK_ENGINE_H
#define TK_ENGINE_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

#define TK_ENGINE_MAX_DIMS 6 /* tensors of higher rank are refused at compile time */

/* Shape and quantization of one int8 tensor: real = scale * (q - zero_point). */
typedef struct {
    uint8_t rank;                      /* number of dims used in `dims` */
    uint16_t dims[TK_ENGINE_MAX_DIMS]; /* e.g. {1, 8, 8, 1} */
    uint32_t bytes;                    /* int8 elements = product of dims */
    float scale;                       /* quantization scale */
    int32_t zero_point;                /* quantization zero point, in [-128, 127] */
} tk_tensor_info_t;

typedef struct {
    const char *name;         /* "aot" | "tflm" */
    const char *model_sha256; /* 64 hex chars of the .tflite the engine was built from */
    tk_tensor_info_t input;   /* model input */
    tk_tensor_info_t output;  /* model output */
    uint32_t arena_bytes;     /* activation memory the engine uses */
    uint32_t weight_bytes;    /* constant model data in flash */
} tk_engine_info_t;

/* Prepares the engine (TFLM: allocates tensors). Returns 0 on success. */
int tk_engine_init(void);

/* Description of the model; valid after tk_engine_init. */
const tk_engine_info_t *tk_engine_info(void);

/* input: info()->input.bytes int8 values; output: info()->output.bytes int8 values. Returns 0 on success. */
int tk_engine_invoke(const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TK_ENGINE_H */
