/*
 * tk_frontend.h: tinykd's audio front end. One C implementation, compiled for the host (a shared library that
 * pipeline/audio/frontend.py calls through ctypes to make the training features) and into the firmware, so the
 * features a model is trained on and the features the device computes are the same function, bit for bit.
 *
 * 1 s of 16 kHz int16 audio -> 49 frames x 40 mel bands of int8 log2 energies, in integer arithmetic only:
 *
 *   framing    480-sample frames (30 ms) every 320 samples (20 ms): 1 + (16000 - 480) / 320 = 49 frames; the
 *              last 160 samples of the clip are not read.
 *   DC         the frame's mean, rounded to an integer (half away from zero), is subtracted: d[n] in
 *              [-65535, 65535] (int32).
 *   window     periodic Hann in Q15 (tk_fe_hann_q15 = round(32767 w[n])): y[n] = d[n] w[n] < 2^31 (int32).
 *   block      y is shifted by s = clz(max |y|) - 3 bits (left, or right with rounding when s < 0) so that
 *   scaling    max |y| lies in [2^28, 2^29): full precision for quiet frames, headroom for the FFT. A frame of
 *              all-equal samples (max |y| = 0) gives the floor feature (TK_FE_ZERO_POINT) in every band.
 *   FFT        the 512-point real FFT of y zero-padded, as a 256-point complex FFT of the even/odd samples
 *              (radix-2, decimation in time, in place, Q31 twiddles) and a split step. Every butterfly halves
 *              its result (a / 2 and W b / 2, each rounded), and so does the split step: X = DFT(y 2^s) / 512.
 *              A butterfly cannot grow the largest complex magnitude, so every intermediate stays below 2^30.5
 *              and every product fits int64 (|.| < 2^63); the output |X| <= sum |y 2^s| / 512 < 2^29.
 *   power      P[k] = Re X[k]^2 + Im X[k]^2 (uint64). By Parseval, sum_k P[k] <= sum_n (y[n] 2^s)^2 / 512 < 2^58.
 *   mel        40 triangular filters, evenly spaced on the HTK mel scale from 60 to 7600 Hz, as one (band, Q15
 *              weight) pair per FFT bin (tk_frontend_tables.h): the bin gives P w / 2^15 (truncated) to the band
 *              whose rising side it is on and the rest, P - P w / 2^15, to the band before. E[m] <= sum_k P[k]
 *              < 2^58 (uint64): no shift, so a band 40 log2 units below the frame's loudest keeps its bits.
 *   log2       log2 E[m] in Q12: the integer part from the leading bit, 13 fraction bits by repeated squaring of
 *              the Q30 mantissa, rounded to 12. Undoing the scalings gives
 *                  L[m] = log2(sum_k |DFT(d w)[k]|^2 W[m][k]) = log2 E[m] - (2 s + 12)     (Q12, int32)
 *              with d in int16 sample units and w the real-valued Hann window (speech and noise: about -10 to 46).
 *   quantize   feature = clamp(round(5 L[m]) - 128, -128, 127): int8 with scale 1/5 (0.6 dB) and zero point
 *              -128, i.e. log2 energies [0, 51) (a full-scale sine reaches ~44). E[m] = 0 gives -128.
 *
 * Error against the float reference of the same design (numpy, tests/audio_reference.py), checked by
 * tests/test_frontend.py on voice-like sweeps, noise, tones, clipping, DC offset and silence, in log2 units (3 dB):
 *   - bands with L >= 10 within 20 units (60 dB) of the frame's loudest band: |L - L_float| <= 0.05, and the int8
 *     features differ by at most 1 step (rounding ties), in at most 1% of them (measured on the 3,000 clips of
 *     `tinykd data kws`: 0.042; 0.76% of all features differ, 0.004% by 2 steps or more);
 *   - bands with L >= 10: |L - L_float| <= 0.5 (bands 100 dB under a full-scale pure tone);
 *   - any band with energy: |L - L_float| <= 5. L = 0 is one LSB squared and the int16 rounding floor sits near
 *     L = 4; the Q15 window's own rounding adds a floor of that order, so bands near it are only roughly right.
 *   Silence and constant frames give -128 in both.
 *
 * Cost (bench/frontend.py -> bench/results/frontend.json; bounded by tests/test_frontend_qemu.py): 4.15 M
 * instructions per 1 s clip on QEMU's Cortex-M4 (arm-none-eabi-gcc -O2; 85 k per frame; a constant clip 0.42 M),
 * 1.4 KB of code and 2.2 KB of tables; TK_FE_SCRATCH_BYTES (2 KB) of scratch from the caller and 424 bytes of
 * stack; no malloc, no floating point.
 *
 * Portable C99 (right shifts of negative values are taken to be arithmetic, as GCC and Clang do on every target
 * tinykd builds for).
 */
#ifndef TK_FRONTEND_H
#define TK_FRONTEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TK_FE_SAMPLE_RATE 16000  /* Hz */
#define TK_FE_CLIP_SAMPLES 16000 /* one clip: 1 s */
#define TK_FE_FRAME 480          /* samples per frame (30 ms) */
#define TK_FE_HOP 320            /* samples between frames (20 ms) */
#define TK_FE_FFT 512            /* FFT length (the frame zero-padded) */
#define TK_FE_FRAMES 49          /* frames per clip: 1 + (TK_FE_CLIP_SAMPLES - TK_FE_FRAME) / TK_FE_HOP */
#define TK_FE_MEL_BANDS 40       /* mel bands per frame */
#define TK_FE_FEATURES (TK_FE_FRAMES * TK_FE_MEL_BANDS) /* int8 features per clip: the model's input */
#define TK_FE_LOG_FRAC_BITS 12                          /* L[m] is log2 in Q12 */
#define TK_FE_STEPS_PER_LOG2 5                          /* int8 feature scale: 1 / 5 log2 unit */
#define TK_FE_ZERO_POINT (-128)                         /* int8 feature zero point: the value of log2 energy 0 */
#define TK_FE_SCRATCH_BYTES (TK_FE_FFT * 4)             /* the caller's scratch: 256 complex int32 */

typedef enum {
    TK_FE_OK = 0,
    TK_FE_ERROR_NULL = -1,   /* a required pointer is NULL */
    TK_FE_ERROR_LENGTH = -2, /* the clip is not TK_FE_CLIP_SAMPLES long */
} tk_fe_status;

/* Bytes of scratch tk_frontend_frame_s16 and tk_frontend_clip_s16 need (TK_FE_SCRATCH_BYTES), int32-aligned. */
int32_t tk_frontend_scratch_size(void);

/* One frame: `frame` holds TK_FE_FRAME samples; writes TK_FE_MEL_BANDS int8 features to `features` and, when
 * `log_mel_q12` is not NULL, the TK_FE_MEL_BANDS log2 energies L[m] in Q12 before quantization (a band with no
 * energy: INT32_MIN). `scratch`: TK_FE_SCRATCH_BYTES, int32-aligned, contents not kept between calls. */
tk_fe_status tk_frontend_frame_s16(const int16_t *frame, int32_t *scratch, int8_t *features, int32_t *log_mel_q12);

/* One clip of `num_samples` == TK_FE_CLIP_SAMPLES samples: TK_FE_FEATURES int8 features, frame-major
 * (features[frame * TK_FE_MEL_BANDS + band]), and optionally as many Q12 log2 energies (NULL: none). */
tk_fe_status tk_frontend_clip_s16(const int16_t *pcm, int32_t num_samples, int32_t *scratch, int8_t *features,
                                  int32_t *log_mel_q12);

#ifdef __cplusplus
}
#endif

#endif /* TK_FRONTEND_H */
