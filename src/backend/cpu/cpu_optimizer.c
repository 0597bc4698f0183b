#include <math.h>
#include <tgmath.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/thread_pool.h"
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

/* Runs ELEMENT over every row of strided operands. */
#define UPDATE_ROWS(T, ELEMENT)                                                                    \
    do {                                                                                           \
        const cg_update_scalars_##T s = cg_update_scalars_##T##_from(update);                      \
        T *ps = cg_tensor_data(param), *as = cg_tensor_data(a), *bs = cg_tensor_data(b);           \
        const T *gs = cg_tensor_data(grad);                                                        \
        while (cg_strided_loop_next(&loop)) {                                                      \
            T *pr = ps + loop.offsets[0], *ar = as + loop.offsets[2], *br = bs + loop.offsets[3];  \
            const T *gr = gs + loop.offsets[1];                                                    \
            for (int64_t i = 0; i < n; i++)                                                        \
                pr[i * sp] = ELEMENT##_##T(&s, pr[i * sp], gr[i * sg], &ar[i * sa], &br[i * sb]);  \
        }                                                                                          \
    } while (0)

#define SGD_ROWS(T) UPDATE_ROWS(T, cg_sgd_element)
#define ADAM_ROWS(T) UPDATE_ROWS(T, cg_adam_element)
#define RMSPROP_ROWS(T) UPDATE_ROWS(T, cg_rmsprop_element)

/* Dense operands: elements [begin, end) of every operand, split across threads. */
typedef struct {
    const cg_optimizer_update *update;
    void *param, *a, *b;
    const void *grad;
} dense_update;

/* The operands never overlap (a rule never touches a state slot it lacks, which holds param), so
 * restrict lets the compiler vectorise the loop. */
#define DEFINE_DENSE_UPDATE(T, ELEMENT)                                                            \
    static void ELEMENT##_dense_##T(int64_t begin, int64_t end, void *context) {                   \
        const dense_update *d = context;                                                           \
        const cg_update_scalars_##T s = cg_update_scalars_##T##_from(d->update);                   \
        T *restrict p = (T *)d->param + begin, *restrict a = (T *)d->a + begin;                    \
        T *restrict b = (T *)d->b + begin;                                                         \
        const T *restrict g = (const T *)d->grad + begin;                                          \
        for (int64_t i = 0; i < end - begin; i++)                                                  \
            p[i] = ELEMENT##_##T(&s, p[i], g[i], &a[i], &b[i]);                                    \
    }

DEFINE_DENSE_UPDATE(float, cg_sgd_element)
DEFINE_DENSE_UPDATE(double, cg_sgd_element)
DEFINE_DENSE_UPDATE(float, cg_adam_element)
DEFINE_DENSE_UPDATE(double, cg_adam_element)
DEFINE_DENSE_UPDATE(float, cg_rmsprop_element)
DEFINE_DENSE_UPDATE(double, cg_rmsprop_element)

/* Elements below which a share of the update is not worth a thread. */
enum { DENSE_UPDATE_GRAIN = 1 << 16 };

static void update_dense(const cg_optimizer_update *update, cg_tensor *param, const cg_tensor *grad,
                         cg_tensor *a, cg_tensor *b) {
    dense_update context = {update, cg_tensor_data(param), cg_tensor_data(a), cg_tensor_data(b),
                            cg_tensor_data(grad)};
    static void (*const functions[][2])(int64_t, int64_t, void *) = {
        [CG_UPDATE_SGD] = {cg_sgd_element_dense_float, cg_sgd_element_dense_double},
        [CG_UPDATE_ADAM] = {cg_adam_element_dense_float, cg_adam_element_dense_double},
        [CG_UPDATE_RMSPROP] = {cg_rmsprop_element_dense_float, cg_rmsprop_element_dense_double},
    };
    cg_parallel_for(cg_numel(param), DENSE_UPDATE_GRAIN,
                    functions[update->rule][param->dtype == CG_FLOAT32 ? 0 : 1], &context);
}

int cg_cpu_optimizer_update(const cg_optimizer_update *update, cg_tensor *param,
                            const cg_tensor *grad, cg_tensor *const *state) {
    /* A rule without some state gets param in its place; the rule never touches that slot. */
    cg_tensor *a = state[0] ? state[0] : param, *b = state[1] ? state[1] : param;
    if (cg_tensor_is_contiguous(param) && cg_tensor_is_contiguous(grad) &&
        cg_tensor_is_contiguous(a) && cg_tensor_is_contiguous(b)) {
        update_dense(update, param, grad, a, b);
        return 0;
    }
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
