#include <math.h>
#include <tgmath.h>

#include "backend/cpu/cpu_kernels.h"

/* The optimizer kernels: one pass over a parameter per step. The update's scalars are converted to
 * the element type once per call, so float32 parameters are updated in float arithmetic only. The
 * element functions follow the order of operations of PyTorch's optimizers, so float64 results
 * agree with torch.optim to rounding. */

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

#define DEFINE_UPDATE_ELEMENTS(T)                                                                  \
    typedef struct {                                                                               \
        T grad_scale, weight_decay, param_scale, negative_learning_rate, momentum;                 \
        T beta1, one_minus_beta1, beta2, one_minus_beta2, negative_step_size;                      \
        T bias_correction2_sqrt, rho, one_minus_rho, epsilon;                                      \
        bool decays, has_momentum, nesterov;                                                       \
    } update_scalars_##T;                                                                          \
                                                                                                   \
    static update_scalars_##T update_scalars_##T##_from(const cg_optimizer_update *u) {            \
        return (update_scalars_##T){                                                               \
            .grad_scale = (T)u->grad_scale,                                                        \
            .weight_decay = (T)u->weight_decay,                                                    \
            .param_scale = (T)u->param_scale,                                                      \
            .negative_learning_rate = (T)-u->learning_rate,                                        \
            .momentum = (T)u->momentum,                                                            \
            .beta1 = (T)u->beta1,                                                                  \
            .one_minus_beta1 = (T)(1 - u->beta1),                                                  \
            .beta2 = (T)u->beta2,                                                                  \
            .one_minus_beta2 = (T)(1 - u->beta2),                                                  \
            .negative_step_size = (T)-u->step_size,                                                \
            .bias_correction2_sqrt = (T)u->bias_correction2_sqrt,                                  \
            .rho = (T)u->rho,                                                                      \
            .one_minus_rho = (T)(1 - u->rho),                                                      \
            .epsilon = (T)u->epsilon,                                                              \
            .decays = u->weight_decay != 0,                                                        \
            .has_momentum = u->momentum > 0,                                                       \
            .nesterov = u->nesterov,                                                               \
        };                                                                                         \
    }                                                                                              \
                                                                                                   \
    /* The gradient as the rule sees it: clipped, plus the L2 penalty of the unscaled p. */        \
    static inline T effective_grad_##T(const update_scalars_##T *s, T p, T grad) {                 \
        T g = grad * s->grad_scale;                                                                \
        return s->decays ? g + s->weight_decay * p : g;                                            \
    }                                                                                              \
                                                                                                   \
    /* Each returns the new p; state a and b are the rule's state[0] and state[1]. */              \
    static inline T sgd_element_##T(const update_scalars_##T *s, T p, T grad, T *a, T *b) {        \
        (void)b;                                                                                   \
        T g = effective_grad_##T(s, p, grad);                                                      \
        p = p * s->param_scale;                                                                    \
        if (s->has_momentum) {                                                                     \
            *a = *a * s->momentum + g;                                                             \
            g = s->nesterov ? g + s->momentum * *a : *a;                                           \
        }                                                                                          \
        return p + s->negative_learning_rate * g;                                                  \
    }                                                                                              \
                                                                                                   \
    static inline T adam_element_##T(const update_scalars_##T *s, T p, T grad, T *a, T *b) {       \
        const T g = effective_grad_##T(s, p, grad);                                                \
        p = p * s->param_scale;                                                                    \
        *a = *a * s->beta1 + s->one_minus_beta1 * g;                                               \
        *b = *b * s->beta2 + s->one_minus_beta2 * g * g;                                           \
        const T denominator = sqrt(*b) / s->bias_correction2_sqrt + s->epsilon;                    \
        return p + s->negative_step_size * *a / denominator;                                       \
    }                                                                                              \
                                                                                                   \
    static inline T rmsprop_element_##T(const update_scalars_##T *s, T p, T grad, T *a, T *b) {    \
        const T g = effective_grad_##T(s, p, grad);                                                \
        p = p * s->param_scale;                                                                    \
        *a = *a * s->rho + s->one_minus_rho * g * g;                                               \
        const T average = sqrt(*a) + s->epsilon;                                                   \
        if (!s->has_momentum) return p + s->negative_learning_rate * g / average;                  \
        *b = *b * s->momentum + g / average;                                                       \
        return p + s->negative_learning_rate * *b;                                                 \
    }

DEFINE_UPDATE_ELEMENTS(float)
DEFINE_UPDATE_ELEMENTS(double)

/* Runs ELEMENT over every row; rows where every operand is dense get a unit-stride loop the
 * compiler can vectorise. */
#define UPDATE_ROWS(T, ELEMENT)                                                                    \
    do {                                                                                           \
        const update_scalars_##T s = update_scalars_##T##_from(update);                            \
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

#define SGD_ROWS(T) UPDATE_ROWS(T, sgd_element)
#define ADAM_ROWS(T) UPDATE_ROWS(T, adam_element)
#define RMSPROP_ROWS(T) UPDATE_ROWS(T, rmsprop_element)

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
