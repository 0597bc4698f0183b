/* The byte-to-float conversion of batch assembly. Converting a byte to double and multiplying
 * are exact or correctly rounded in every vector width, and so is the final rounding to float,
 * so one loop serves all: the compiler vectorises it for the baseline (SSE2) and, in a second
 * copy compiled for AVX2 (the target attribute), eight floats a step, chosen at run time. A
 * table of the 256 values gives the same floats but costs a load per byte.
 *
 * For the scales data sets use (1/255 for image bytes) a float division by the float nearest
 * 1/scale gives the same 256 floats as the double product, with half the instructions (no
 * widening to double and back): a call checks the 256 values first, a fraction of a
 * microsecond, and divides only when all of them agree. */
#include "io/byte_scaling.h"

#include <math.h>
#include <stdbool.h>

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE __attribute__((always_inline)) static inline
#else
#define ALWAYS_INLINE static inline
#endif

/* A scale as the loops apply it: by a division when that gives the same floats. */
typedef struct {
    double scale;
    bool by_division;
    float divisor;
} byte_scaling;

static byte_scaling prepare_scaling(double scale) {
    byte_scaling scaling = {.scale = scale, .divisor = (float)(1.0 / scale)};
    scaling.by_division = isfinite(scaling.divisor) && scaling.divisor != 0;
    for (int byte = 0; byte < 256 && scaling.by_division; byte++)
        scaling.by_division = (float)byte / scaling.divisor == (float)((double)byte * scale);
    return scaling;
}

ALWAYS_INLINE void scale_loop(const uint8_t *restrict bytes, int64_t count,
                              const byte_scaling *scaling, float *restrict out) {
    if (scaling->by_division) {
        const float divisor = scaling->divisor;
        for (int64_t i = 0; i < count; i++)
            out[i] = (float)bytes[i] / divisor;
    } else {
        const double scale = scaling->scale;
        for (int64_t i = 0; i < count; i++)
            out[i] = (float)((double)bytes[i] * scale);
    }
}

static void scale_baseline(const uint8_t *bytes, int64_t count, const byte_scaling *scaling,
                           float *out) {
    scale_loop(bytes, count, scaling, out);
}

void cg_scale_bytes_baseline(const uint8_t *bytes, int64_t count, double scale, float *out) {
    const byte_scaling scaling = prepare_scaling(scale);
    scale_baseline(bytes, count, &scaling, out);
}

typedef void scale_fn(const uint8_t *bytes, int64_t count, const byte_scaling *scaling, float *out);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

__attribute__((target("avx2"))) static void scale_avx2(const uint8_t *bytes, int64_t count,
                                                       const byte_scaling *scaling, float *out) {
    scale_loop(bytes, count, scaling, out);
}

static scale_fn *scale_for_this_cpu(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? scale_avx2 : scale_baseline;
}

#else

static scale_fn *scale_for_this_cpu(void) { return scale_baseline; }

#endif

void cg_scale_bytes(const uint8_t *bytes, int64_t count, double scale, float *out) {
    const byte_scaling scaling = prepare_scaling(scale);
    scale_for_this_cpu()(bytes, count, &scaling, out);
}

void cg_gather_scaled_bytes(const uint8_t *bytes, int64_t width, const int64_t *rows, int64_t count,
                            double scale, float *out) {
    const byte_scaling scaling = prepare_scaling(scale);
    scale_fn *scale_row = scale_for_this_cpu();
    for (int64_t i = 0; i < count; i++)
        scale_row(bytes + rows[i] * width, width, &scaling, out + i * width);
}
