/* The byte-to-float conversion of batch assembly. Converting a byte to double and multiplying
 * are exact or correctly rounded in every vector width, and so is the final rounding to float,
 * so one loop serves all: the compiler vectorises it for the baseline (SSE2) and, in a second
 * copy compiled for AVX2 (the target attribute), eight floats a step, chosen at run time. A
 * table of the 256 values gives the same floats but costs a load per byte. */
#include "io/byte_scaling.h"

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE __attribute__((always_inline)) static inline
#else
#define ALWAYS_INLINE static inline
#endif

ALWAYS_INLINE void scale_loop(const uint8_t *restrict bytes, int64_t count, double scale,
                              float *restrict out) {
    for (int64_t i = 0; i < count; i++)
        out[i] = (float)((double)bytes[i] * scale);
}

void cg_scale_bytes_baseline(const uint8_t *bytes, int64_t count, double scale, float *out) {
    scale_loop(bytes, count, scale, out);
}

typedef void scale_fn(const uint8_t *bytes, int64_t count, double scale, float *out);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

__attribute__((target("avx2"))) static void scale_avx2(const uint8_t *bytes, int64_t count,
                                                       double scale, float *out) {
    scale_loop(bytes, count, scale, out);
}

static scale_fn *scale_for_this_cpu(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? scale_avx2 : cg_scale_bytes_baseline;
}

#else

static scale_fn *scale_for_this_cpu(void) { return cg_scale_bytes_baseline; }

#endif

void cg_scale_bytes(const uint8_t *bytes, int64_t count, double scale, float *out) {
    scale_for_this_cpu()(bytes, count, scale, out);
}

void cg_gather_scaled_bytes(const uint8_t *bytes, int64_t width, const int64_t *rows, int64_t count,
                            double scale, float *out) {
    scale_fn *scale_row = scale_for_this_cpu();
    for (int64_t i = 0; i < count; i++)
        scale_row(bytes + rows[i] * width, width, scale, out + i * width);
}
