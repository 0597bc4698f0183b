#include <math.h>
#include <tgmath.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/error.h"
#include "ops/scalar_math.h"

/* Each kernel picks the op once per row and runs a tight loop over it; the scalar math shared
 * with other backends lives in ops/scalar_math.h. */

#define UNARY_ROW(T)                                                                               \
    do {                                                                                           \
        const T *xs = cg_tensor_data(x);                                                           \
        T *os = cg_tensor_data(out);                                                               \
        const T p0 = (T)params[0], p1 = (T)params[1];                                              \
        while (cg_strided_loop_next(&loop)) {                                                      \
            const T *xr = xs + loop.offsets[0];                                                    \
            T *orow = os + loop.offsets[1];                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                orow[i * so] = CG_UNARY_FORWARD(T, op, xr[i * sx], p0, p1);                        \
        }                                                                                          \
    } while (0)

int cg_cpu_unary(cg_unary_op op, const double *params, const cg_tensor *x, cg_tensor *out) {
    cg_strided_loop loop;
    cg_cpu_loop_over(&loop, x, 2, (const cg_tensor *[]){x, out});
    const int64_t n = cg_strided_row_length(&loop);
    const int64_t sx = cg_strided_row_stride(&loop, 0), so = cg_strided_row_stride(&loop, 1);
    CG_CPU_FLOAT_DISPATCH(x->dtype, UNARY_ROW);
    return 0;
}

#define UNARY_BACKWARD_ROW(T)                                                                      \
    do {                                                                                           \
        const T *xs = cg_tensor_data(x), *ys = cg_tensor_data(y), *gs = cg_tensor_data(grad_out);  \
        T *os = cg_tensor_data(grad_x);                                                            \
        const T p0 = (T)params[0], p1 = (T)params[1];                                              \
        while (cg_strided_loop_next(&loop)) {                                                      \
            const T *xr = xs + loop.offsets[0], *yr = ys + loop.offsets[1];                        \
            const T *gr = gs + loop.offsets[2];                                                    \
            T *orow = os + loop.offsets[3];                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                orow[i * so] = gr[i * sg] * CG_UNARY_DERIVATIVE(T, op, xr[i * sx], yr[i * sy],     \
                                                                 p0, p1);                          \
        }                                                                                          \
    } while (0)

int cg_cpu_unary_backward(cg_unary_op op, const double *params, const cg_tensor *x,
                          const cg_tensor *y, const cg_tensor *grad_out, cg_tensor *grad_x) {
    cg_strided_loop loop;
    cg_cpu_loop_over(&loop, x, 4, (const cg_tensor *[]){x, y, grad_out, grad_x});
    const int64_t n = cg_strided_row_length(&loop);
    const int64_t sx = cg_strided_row_stride(&loop, 0), sy = cg_strided_row_stride(&loop, 1);
    const int64_t sg = cg_strided_row_stride(&loop, 2), so = cg_strided_row_stride(&loop, 3);
    CG_CPU_FLOAT_DISPATCH(x->dtype, UNARY_BACKWARD_ROW);
    return 0;
}

#define BINARY_ROW(T)                                                                              \
    do {                                                                                           \
        const T *as = cg_tensor_data(a), *bs = cg_tensor_data(b);                                  \
        T *os = cg_tensor_data(out);                                                               \
        while (cg_strided_loop_next(&loop)) {                                                      \
            const T *ar = as + loop.offsets[0], *br = bs + loop.offsets[1];                        \
            T *orow = os + loop.offsets[2];                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                orow[i * so] = CG_BINARY_FORWARD(T, op, ar[i * sa], br[i * sb]);                   \
        }                                                                                          \
    } while (0)

int cg_cpu_binary(cg_binary_op op, const cg_tensor *a, const cg_tensor *b, cg_tensor *out) {
    cg_strided_loop loop;
    cg_cpu_loop_over(&loop, out, 3, (const cg_tensor *[]){a, b, out});
    const int64_t n = cg_strided_row_length(&loop);
    const int64_t sa = cg_strided_row_stride(&loop, 0), sb = cg_strided_row_stride(&loop, 1);
    const int64_t so = cg_strided_row_stride(&loop, 2);
    CG_CPU_ANY_DISPATCH(a->dtype, BINARY_ROW);
    return 0;
}

#define WHERE_ROW(T)                                                                               \
    do {                                                                                           \
        const T *cs = cg_tensor_data(cond), *as = cg_tensor_data(a), *bs = cg_tensor_data(b);      \
        T *os = cg_tensor_data(out);                                                               \
        while (cg_strided_loop_next(&loop)) {                                                      \
            const T *cr = cs + loop.offsets[0], *ar = as + loop.offsets[1];                        \
            const T *br = bs + loop.offsets[2];                                                    \
            T *orow = os + loop.offsets[3];                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                orow[i * so] = cr[i * sc] != 0 ? ar[i * sa] : br[i * sb];                          \
        }                                                                                          \
    } while (0)

int cg_cpu_where(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b, cg_tensor *out) {
    cg_strided_loop loop;
    cg_cpu_loop_over(&loop, out, 4, (const cg_tensor *[]){cond, a, b, out});
    const int64_t n = cg_strided_row_length(&loop);
    const int64_t sc = cg_strided_row_stride(&loop, 0), sa = cg_strided_row_stride(&loop, 1);
    const int64_t sb = cg_strided_row_stride(&loop, 2), so = cg_strided_row_stride(&loop, 3);
    CG_CPU_ANY_DISPATCH(a->dtype, WHERE_ROW);
    return 0;
}
