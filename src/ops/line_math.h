/* The arithmetic of the ops that work along one line of a tensor (softmax, log-softmax and their
 * gradient, argmax and argmin), written once for every backend: a backend walks the lines, these
 * functions do one line given its elements' step. Softmax sums in double, whatever the dtype. */
#ifndef CG_OPS_LINE_MATH_H
#define CG_OPS_LINE_MATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/rng.h"

/* Softmax (or log-softmax) of in[k * in_step] into out[k * out_step], k < length; and the
 * gradient dx from the forward output y and grad_out g: dx = y (g - sum(g y)) for softmax,
 * dx = g - exp(y) sum(g) for log-softmax. */
#define CG_DEFINE_SOFTMAX_LINE(T, SUFFIX)                                                          \
    CG_HOST_DEVICE static inline void cg_softmax_line_##SUFFIX(                                    \
        const T *in, int64_t in_step, T *out, int64_t out_step, int64_t length, bool take_log) {   \
        double max = -INFINITY, sum = 0;                                                           \
        for (int64_t k = 0; k < length; k++)                                                       \
            if ((double)in[k * in_step] > max) max = (double)in[k * in_step];                      \
        for (int64_t k = 0; k < length; k++)                                                       \
            sum += exp((double)in[k * in_step] - max);                                             \
        const double log_sum = log(sum);                                                           \
        for (int64_t k = 0; k < length; k++) {                                                     \
            const double shifted = (double)in[k * in_step] - max;                                  \
            out[k * out_step] = (T)(take_log ? shifted - log_sum : exp(shifted) / sum);            \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    CG_HOST_DEVICE static inline void cg_softmax_backward_line_##SUFFIX(                           \
        const T *y, int64_t y_step, const T *g, int64_t g_step, T *dx, int64_t dx_step,            \
        int64_t length, bool take_log) {                                                           \
        double dot = 0;                                                                            \
        for (int64_t k = 0; k < length; k++)                                                       \
            dot += (double)g[k * g_step] * (take_log ? 1.0 : (double)y[k * y_step]);               \
        for (int64_t k = 0; k < length; k++) {                                                     \
            const double yv = (double)y[k * y_step], gv = (double)g[k * g_step];                   \
            dx[k * dx_step] = (T)(take_log ? gv - exp(yv) * dot : yv * (gv - dot));                \
        }                                                                                          \
    }

/* The index of the first largest (is_max) or smallest element of line[k * step], k < length; a
 * NaN wins, the first one. */
#define CG_DEFINE_ARG_EXTREMUM_LINE(T, SUFFIX)                                                     \
    CG_HOST_DEVICE static inline int64_t cg_arg_extremum_line_##SUFFIX(                            \
        const T *line, int64_t step, int64_t length, bool is_max) {                                \
        int64_t best = 0;                                                                          \
        for (int64_t k = 1; k < length; k++) {                                                     \
            const T v = line[k * step], b = line[best * step];                                     \
            if (b != b) break;                                                                     \
            if (v != v || (is_max ? v > b : v < b)) best = k;                                      \
        }                                                                                          \
        return best;                                                                               \
    }

CG_DEFINE_SOFTMAX_LINE(float, f32)
CG_DEFINE_SOFTMAX_LINE(double, f64)
CG_DEFINE_ARG_EXTREMUM_LINE(float, f32)
CG_DEFINE_ARG_EXTREMUM_LINE(double, f64)
CG_DEFINE_ARG_EXTREMUM_LINE(int32_t, i32)
CG_DEFINE_ARG_EXTREMUM_LINE(int64_t, i64)
CG_DEFINE_ARG_EXTREMUM_LINE(uint8_t, u8)

#if !defined(__CUDACC__)
#define CG_SOFTMAX_LINE(in, ...)                                                                   \
    _Generic((in), const float *: cg_softmax_line_f32, const double *: cg_softmax_line_f64)(     \
        in, __VA_ARGS__)
#define CG_SOFTMAX_BACKWARD_LINE(y, ...)                                                           \
    _Generic((y), const float *: cg_softmax_backward_line_f32,                                    \
             const double *: cg_softmax_backward_line_f64)(y, __VA_ARGS__)
#define CG_ARG_EXTREMUM_LINE(line, ...)                                                            \
    _Generic((line), const float *: cg_arg_extremum_line_f32,                                     \
             const double *: cg_arg_extremum_line_f64, const int32_t *: cg_arg_extremum_line_i32, \
             const int64_t *: cg_arg_extremum_line_i64,                                           \
             const uint8_t *: cg_arg_extremum_line_u8)(line, __VA_ARGS__)
#endif

#endif
