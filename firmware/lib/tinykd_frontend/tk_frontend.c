/* tk_frontend.c: the fixed-point audio front end; the design, scalings and error bounds are in tk_frontend.h. */
#include "tk_frontend.h"

#include <stddef.h>

#include "tk_frontend_tables.h"

#define FFT_HALF (TK_FE_FFT / 2)    /* 256: points of the complex FFT */
#define FFT_QUARTER (TK_FE_FFT / 4) /* 128: the cosine table's last index (pi / 2) */
#define BLOCK_TOP_BIT 28            /* block scaling puts max |y| in [2^28, 2^29) */
/* L = log2 E - (2 s + LOG_OFFSET): |X|^2 carries 2 (15 window bits - 9 FFT halvings) = 12 bits */
#define LOG_OFFSET (2 * (15 - 9))

/* Leading zero bits of a non-zero 32-bit value. */
static int clz32(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_clz(x);
#else
    int n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/* Index of the highest set bit of a non-zero 64-bit value. */
static int top_bit64(uint64_t x)
{
    uint32_t high = (uint32_t)(x >> 32);
    return high ? 63 - clz32(high) : 31 - clz32((uint32_t)x);
}

/* cos and sin of 2 pi k / TK_FE_FFT in Q31, k in [0, TK_FE_FFT / 2], from the quarter-wave table (cos pi is
 * -(2^31 - 1), like cos 0). int32: every product with a sample is one 32 x 32 -> 64-bit multiply (SMULL). */
static void twiddle(int k, int32_t *cos_q31, int32_t *sin_q31)
{
    if (k <= FFT_QUARTER) {
        *cos_q31 = tk_fe_cos_q31[k];
        *sin_q31 = tk_fe_cos_q31[FFT_QUARTER - k];
    } else {
        *cos_q31 = -tk_fe_cos_q31[FFT_HALF - k];
        *sin_q31 = tk_fe_cos_q31[k - FFT_QUARTER];
    }
}

/* Subtract the rounded mean, apply the Hann window, block-scale into `z` (TK_FE_FFT int32: the real samples, then
 * zeros). Returns the block shift s (the samples were multiplied by 2^s), or a value < -64 for a constant frame. */
static int window_and_scale(const int16_t *frame, int32_t *z)
{
    int32_t sum = 0; /* |sum| <= 480 * 32768 < 2^24 */
    for (int n = 0; n < TK_FE_FRAME; ++n) sum += frame[n];
    const int32_t mean = sum >= 0 ? (sum + TK_FE_FRAME / 2) / TK_FE_FRAME : -((-sum + TK_FE_FRAME / 2) / TK_FE_FRAME);
    uint32_t peak = 0;
    for (int n = 0; n < TK_FE_FRAME; ++n) {
        const int32_t y = (frame[n] - mean) * (int32_t)tk_fe_hann_q15[n]; /* |y| <= 65535 * 32767 < 2^31 */
        z[n] = y;
        const uint32_t magnitude = y < 0 ? (uint32_t)(-(int64_t)y) : (uint32_t)y;
        peak = magnitude > peak ? magnitude : peak;
    }
    for (int n = TK_FE_FRAME; n < TK_FE_FFT; ++n) z[n] = 0;
    if (peak == 0) return -128;
    const int shift = clz32(peak) - (31 - BLOCK_TOP_BIT); /* max |y| 2^shift in [2^28, 2^29) */
    if (shift > 0) {
        for (int n = 0; n < TK_FE_FRAME; ++n) z[n] = (int32_t)((uint32_t)z[n] << shift);
    } else if (shift < 0) {
        const int32_t half = 1 << (-shift - 1);
        for (int n = 0; n < TK_FE_FRAME; ++n) z[n] = (z[n] + half) >> -shift;
    }
    return shift;
}

/* 256-point complex FFT in place on interleaved (re, im) int32, every butterfly halved: Z = DFT(z) / 256. */
static void fft_halving(int32_t *z)
{
    for (int i = 1, j = 0; i < FFT_HALF; ++i) { /* bit-reversal permutation */
        int bit = FFT_HALF >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j |= bit;
        if (i < j) {
            const int32_t re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
    }
    for (int span = 1; span < FFT_HALF; span <<= 1) { /* butterflies of 2 * span points */
        const int step = TK_FE_FFT / (2 * span);      /* twiddle k = j * step: angle 2 pi j / (2 span) */
        for (int j = 0; j < span; ++j) {
            const int64_t round = 1LL << 31;
            int32_t c, s;
            twiddle(j * step, &c, &s);
            for (int top = j; top < FFT_HALF; top += 2 * span) {
                int32_t *a = z + 2 * top, *b = z + 2 * (top + span);
                /* t = W b / 2 with W = c - i s in Q31: the rounded high word of a 64-bit sum of products
                 * (|W b| 2^31 < 2^61.5) */
                const int32_t t_re = (int32_t)(((int64_t)c * b[0] + (int64_t)s * b[1] + round) >> 32);
                const int32_t t_im = (int32_t)(((int64_t)c * b[1] - (int64_t)s * b[0] + round) >> 32);
                const int32_t h_re = (a[0] + 1) >> 1, h_im = (a[1] + 1) >> 1; /* a / 2, rounded */
                a[0] = h_re + t_re;                                           /* (a + W b) / 2 */
                a[1] = h_im + t_im;
                b[0] = h_re - t_re; /* (a - W b) / 2 */
                b[1] = h_im - t_im;
            }
        }
    }
}

/* Bin k (0..256) of the real FFT from the complex one: X[k] / 2 = (E + W^k O) / 2 with
 * 2E = Z[k] + conj Z[256 - k] and 2O = -i (Z[k] - conj Z[256 - k]); returns its power |X / 2|^2 < 2^58. */
static uint64_t bin_power(const int32_t *z, int k)
{
    const int32_t *zk = z + 2 * (k % FFT_HALF), *zn = z + 2 * ((FFT_HALF - k) % FFT_HALF);
    const int64_t e_re = (int64_t)zk[0] + zn[0], e_im = (int64_t)zk[1] - zn[1];
    /* |Z| < 2^30: the sums and differences of two fit int32 */
    const int32_t b_re = zk[0] - zn[0], b_im = zk[1] + zn[1];
    int32_t c, s;
    twiddle(k, &c, &s);
    /* W (2O) = (c - i s)(b_im - i b_re); |.| <= |B| 2^31 < 2^62 */
    const int64_t wo_re = (int64_t)c * b_im - (int64_t)s * b_re, wo_im = -(int64_t)c * b_re - (int64_t)s * b_im;
    const int64_t round = 1LL << 32;
    const int64_t x_re = (e_re * 2147483648LL + wo_re + round) >> 33; /* (2E + W 2O) / 4 = X / 2, |.| < 2^30 */
    const int64_t x_im = (e_im * 2147483648LL + wo_im + round) >> 33;
    return (uint64_t)(x_re * x_re) + (uint64_t)(x_im * x_im);
}

/* log2(e) in Q12 for e > 0: the leading bit's index, then 13 fraction bits by squaring the mantissa (Q30). */
static int32_t log2_q12(uint64_t e)
{
    const int top = top_bit64(e);
    uint32_t m = (uint32_t)(top >= 30 ? e >> (top - 30) : e << (30 - top)); /* [2^30, 2^31): 1.0 <= m < 2.0 */
    int32_t fraction = 0;
    for (int bit = 12; bit >= 0; --bit) {
        m = (uint32_t)(((uint64_t)m * m) >> 30); /* m^2 < 2^62: the result < 2^32 */
        if (m >= 0x80000000u) {
            m >>= 1;
            fraction |= 1 << bit;
        }
    }
    return (int32_t)top * (1 << TK_FE_LOG_FRAC_BITS) + ((fraction + 1) >> 1);
}

int32_t tk_frontend_scratch_size(void) { return TK_FE_SCRATCH_BYTES; }

tk_fe_status tk_frontend_frame_s16(const int16_t *frame, int32_t *scratch, int8_t *features, int32_t *log_mel_q12)
{
    if (frame == NULL || scratch == NULL || features == NULL) return TK_FE_ERROR_NULL;
    uint64_t energy[TK_FE_MEL_BANDS] = {0};
    const int shift = window_and_scale(frame, scratch);
    if (shift >= -64) {
        fft_halving(scratch);
        for (int i = 0; i < TK_FE_MEL_BINS; ++i) {
            const uint64_t power = bin_power(scratch, TK_FE_MEL_FIRST_BIN + i); /* < 2^58 */
            const int band = tk_fe_mel_band[i];
            const uint64_t weight = tk_fe_mel_weight_q15[i];
            /* power * weight / 2^15 (truncated) without a 73-bit product; the falling side gets the rest */
            const uint64_t rising = (power >> 15) * weight + (((power & 0x7FFFu) * weight) >> 15);
            if (band < TK_FE_MEL_BANDS) energy[band] += rising;
            if (band > 0) energy[band - 1] += power - rising;
        }
    }
    for (int band = 0; band < TK_FE_MEL_BANDS; ++band) {
        int32_t q = TK_FE_ZERO_POINT;
        int32_t level = INT32_MIN;
        if (energy[band] != 0) {
            level = log2_q12(energy[band]) - (2 * shift + LOG_OFFSET) * (1 << TK_FE_LOG_FRAC_BITS);
            /* round(5 L) + zero point; L * 5 < 2^20, >> is a floor */
            q = ((level * TK_FE_STEPS_PER_LOG2 + (1 << (TK_FE_LOG_FRAC_BITS - 1))) >> TK_FE_LOG_FRAC_BITS) +
                TK_FE_ZERO_POINT;
            q = q < -128 ? -128 : (q > 127 ? 127 : q);
        }
        features[band] = (int8_t)q;
        if (log_mel_q12 != NULL) log_mel_q12[band] = level;
    }
    return TK_FE_OK;
}

tk_fe_status tk_frontend_clip_s16(const int16_t *pcm, int32_t num_samples, int32_t *scratch, int8_t *features,
                                  int32_t *log_mel_q12)
{
    if (pcm == NULL || scratch == NULL || features == NULL) return TK_FE_ERROR_NULL;
    if (num_samples != TK_FE_CLIP_SAMPLES) return TK_FE_ERROR_LENGTH;
    for (int frame = 0; frame < TK_FE_FRAMES; ++frame) {
        const int offset = frame * TK_FE_MEL_BANDS;
        tk_frontend_frame_s16(pcm + frame * TK_FE_HOP, scratch, features + offset,
                              log_mel_q12 != NULL ? log_mel_q12 + offset : NULL);
    }
    return TK_FE_OK;
}
