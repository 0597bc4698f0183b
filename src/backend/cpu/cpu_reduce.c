#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/alloc.h"
#include "ops/line_math.h"

/* Reductions accumulate in double whatever the dtype, so float32 sums keep their precision. */
int cg_cpu_reduce(cg_reduce_op op, const cg_tensor *x, cg_tensor *out) {
    const int64_t out_numel = cg_shape_numel(out->ndim, out->shape);
    double *acc = cg_alloc(sizeof(double) * (size_t)(out_numel ? out_numel : 1));
    if (!acc) return -1;
    const double start = op == CG_REDUCE_SUM ? 0.0 : (op == CG_REDUCE_MAX ? -INFINITY : INFINITY);
    for (int64_t i = 0; i < out_numel; i++)
        acc[i] = start;

    int64_t acc_strides[CG_MAX_DIMS];
    cg_contiguous_strides(out->ndim, out->shape, acc_strides);
    for (int d = 0; d < x->ndim; d++)
        if (out->shape[d] == 1) acc_strides[d] = 0;
    cg_strided_loop loop;
    cg_strided_loop_init(&loop, x->ndim, x->shape, 2, (const int64_t *[]){x->strides, acc_strides});
    const int64_t n = cg_strided_row_length(&loop);
    const int64_t sx = cg_strided_row_stride(&loop, 0), sa = cg_strided_row_stride(&loop, 1);
#define REDUCE_ROWS(T)                                                                             \
    do {                                                                                           \
        const T *xs = cg_tensor_data(x);                                                           \
        while (cg_strided_loop_next(&loop)) {                                                      \
            const T *xr = xs + loop.offsets[0];                                                    \
            double *ar = acc + loop.offsets[1];                                                    \
            for (int64_t i = 0; i < n; i++) {                                                      \
                double v = (double)xr[i * sx], *a = &ar[i * sa];                                   \
                if (op == CG_REDUCE_SUM)                                                           \
                    *a += v;                                                                       \
                else if (isnan(v) || (op == CG_REDUCE_MAX ? v > *a : v < *a))                      \
                    *a = isnan(*a) ? *a : v;                                                       \
            }                                                                                      \
        }                                                                                          \
        T *os = cg_tensor_data(out);                                                               \
        for (int64_t i = 0; i < out_numel; i++)                                                    \
            os[i] = CG_CPU_CONVERT(T, acc[i]);                                                     \
    } while (0)
    CG_CPU_ANY_DISPATCH(x->dtype, REDUCE_ROWS);
#undef REDUCE_ROWS
    cg_free(acc, sizeof(double) * (size_t)(out_numel ? out_numel : 1));
    return 0;
}

/* Walks every position of x with dim collapsed to size 1, handing fn-like loops the base offset
 * of each line along dim. operands[0] must be x-shaped. */
static void lines_along(cg_strided_loop *loop, const cg_tensor *x, int dim, int count,
                        const cg_tensor *const *operands) {
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[dim] = 1;
    const int64_t *strides[CG_LOOP_MAX_OPERANDS];
    for (int k = 0; k < count; k++)
        strides[k] = operands[k]->strides;
    cg_strided_loop_init(loop, x->ndim, shape, count, strides);
}

int cg_cpu_arg_reduce(const cg_tensor *x, int dim, bool is_max, cg_tensor *out) {
    cg_strided_loop loop;
    lines_along(&loop, x, dim, 2, (const cg_tensor *[]){x, out});
    const int64_t n = cg_strided_row_length(&loop), length = x->shape[dim];
    const int64_t sx = cg_strided_row_stride(&loop, 0), so = cg_strided_row_stride(&loop, 1);
    const int64_t step = x->strides[dim];
    int64_t *os = cg_tensor_data(out);
#define ARG_ROWS(T)                                                                                \
    do {                                                                                           \
        const T *xs = cg_tensor_data(x);                                                           \
        while (cg_strided_loop_next(&loop))                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                os[loop.offsets[1] + i * so] =                                                     \
                    CG_ARG_EXTREMUM_LINE(xs + loop.offsets[0] + i * sx, step, length, is_max);     \
    } while (0)
    CG_CPU_ANY_DISPATCH(x->dtype, ARG_ROWS);
#undef ARG_ROWS
    return 0;
}

int cg_cpu_softmax(const cg_tensor *x, int dim, bool take_log, cg_tensor *out) {
    cg_strided_loop loop;
    lines_along(&loop, x, dim, 2, (const cg_tensor *[]){x, out});
    const int64_t n = cg_strided_row_length(&loop), length = x->shape[dim];
    const int64_t sx = cg_strided_row_stride(&loop, 0), so = cg_strided_row_stride(&loop, 1);
    const int64_t xstep = x->strides[dim], ostep = out->strides[dim];
#define SOFTMAX_ROWS(T)                                                                            \
    do {                                                                                           \
        const T *xs = cg_tensor_data(x);                                                           \
        T *os = cg_tensor_data(out);                                                               \
        while (cg_strided_loop_next(&loop))                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                CG_SOFTMAX_LINE(xs + loop.offsets[0] + i * sx, xstep,                              \
                                os + loop.offsets[1] + i * so, ostep, length, take_log);           \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(x->dtype, SOFTMAX_ROWS);
#undef SOFTMAX_ROWS
    return 0;
}

int cg_cpu_softmax_backward(const cg_tensor *y, const cg_tensor *grad_out, int dim, bool take_log,
                            cg_tensor *grad_x) {
    cg_strided_loop loop;
    lines_along(&loop, y, dim, 3, (const cg_tensor *[]){y, grad_out, grad_x});
    const int64_t n = cg_strided_row_length(&loop), length = y->shape[dim];
    const int64_t sy = cg_strided_row_stride(&loop, 0), sg = cg_strided_row_stride(&loop, 1);
    const int64_t sx = cg_strided_row_stride(&loop, 2);
    const int64_t ystep = y->strides[dim], gstep = grad_out->strides[dim];
    const int64_t xstep = grad_x->strides[dim];
#define SOFTMAX_BACKWARD_ROWS(T)                                                                   \
    do {                                                                                           \
        const T *ys = cg_tensor_data(y), *gs = cg_tensor_data(grad_out);                           \
        T *xs = cg_tensor_data(grad_x);                                                            \
        while (cg_strided_loop_next(&loop))                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                CG_SOFTMAX_BACKWARD_LINE(ys + loop.offsets[0] + i * sy, ystep,                     \
                                         gs + loop.offsets[1] + i * sg, gstep,                     \
                                         xs + loop.offsets[2] + i * sx, xstep, length, take_log);  \
    } while (0)
    CG_CPU_FLOAT_DISPATCH(y->dtype, SOFTMAX_BACKWARD_ROWS);
#undef SOFTMAX_BACKWARD_ROWS
    return 0;
}
