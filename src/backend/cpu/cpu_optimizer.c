#include <math.h>
#include <tgmath.h>

#include "backend/cpu/cpu_kernels.h"
#include "ops/optimizer_math.h"

/* The optimizer kernels: one pass over a parameter per step, with the element arithmetic of
 * ops/optimizer_math.h. */

#define SUM_OF_SQUARES_ROWS(T)                                                                     \
    do {                                                                                           \
        const T *xs = cg_tensor_data(x);                                                           \
        while (cg_strided_loop_next(&loop)) {                                                      \
            const T *row = xs + loop.offsets[0];                                                   \
            for (int64_t i = 0; i < n; i++)                                                        \
                total += (double)row[i * sx] * (double)row[i * sx];                                \
        }                                                                                          \
    } while (0)

int cg_cpu_sum_of_squares(const cg_tensor *x, double *result) {
    cg_strided_loop loop;
    cg_cpu_loop_over(&loop, x, 1, (const cg_tensor *[]){x});
    const int64_t n = cg_strided_row_length(&loop), sx = cg_strided_row_stride(&loop, 0);
    double total = 0;
    CG_CPU_FLOAT_DISPATCH(x->dtype, SUM_OF_SQUARES_ROWS);
    *result = total;
    return 0;
}

/* Runs ELEMENT over every row; rows where every operand is dense get a unit-stride loop the
 * compiler can vectorise. */
#define UPDATE_ROWS(T, ELEMENT)                                                                    \
    do {                                                                                           \
        const cg_update_scalars_##T s = cg_update_scalars_##T##_from(update);                      \
        T *ps = cg_tensor_data(param), *as = cg_tensor_data(a), *bs = cg_tensor_data(b);           \
        const T *gs = cg_tensor_data(grad);                                                        \
        const bool unit = sp == 1 && sg == 1 && sa == 1 && sb == 1;                                \
        while (cg_strided_loop_next(&loop)) {                                                      \
            T *pr = ps + loop.offsets[0], *ar = as + loop.offsets[2], *br = bs + loop.offsets[3];  \
            const T *gr = gs + loop.offsets[1];                                                    \
            if (unit) {                                                                            \
                for (int64_t i = 0; i < n; i++)                                                    \
                    pr[i] = ELEMENT##_##T(&s, pr[i], gr[i], &ar[i], &br[i]);                       \
            } else {                                                                               \
                for (int64_t i = 0; i < n; i++)                                                    \
                    pr[i * sp] =                                                                   \
                        ELEMENT##_##T(&s, pr[i * sp], gr[i * sg], &ar[i * sa], &br[i * sb]);       \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define SGD_ROWS(T) UPDATE_ROWS(T, cg_sgd_element)
#define ADAM_ROWS(T) UPDATE_ROWS(T, cg_adam_element)
#define RMSPROP_ROWS(T) UPDATE_ROWS(T, cg_rmsprop_element)

int cg_cpu_optimizer_update(const cg_optimizer_update *update, cg_tensor *param,
                            const cg_tensor *grad, cg_tensor *const *state) {
    /* A rule without some state gets param in its place; the rule never touches that slot. */
    cg_tensor *a = state[0] ? state[0] : param, *b = state[1] ? state[1] : param;
    cg_strided_loop loop;
    cg_cpu_loop_over(&loop, param, 4, (const cg_tensor *[]){param, grad, a, b});
    const int64_t n = cg_strided_row_length(&loop);
    const int64_t sp = cg_strided_row_stride(&loop, 0), sg = cg_strided_row_stride(&loop, 1);
    const int64_t sa = cg_strided_row_stride(&loop, 2), sb = cg_strided_row_stride(&loop, 3);
    switch (update->rule) {
    case CG_UPDATE_SGD: CG_CPU_FLOAT_DISPATCH(param->dtype, SGD_ROWS); break;
    case CG_UPDATE_ADAM: CG_CPU_FLOAT_DISPATCH(param->dtype, ADAM_ROWS); break;
    case CG_UPDATE_RMSPROP: CG_CPU_FLOAT_DISPATCH(param->dtype, RMSPROP_ROWS); break;
    }
    return 0;
}
