/* The arithmetic of one optimizer step on one element, written once for every backend (see
 * cg_optimizer_update in backend/backend.h). The update's scalars are converted to the element
 * type once per call, so float32 parameters are updated in float arithmetic only, and the order of
 * operations is PyTorch's, so float64 results agree with torch.optim to rounding. */
#ifndef CG_OPS_OPTIMIZER_MATH_H
#define CG_OPS_OPTIMIZER_MATH_H

#include <math.h>
#include <stdbool.h>
#if !defined(__CUDACC__)
#include <tgmath.h>
#endif

#include "backend/backend.h"
#include "core/rng.h"

/* Per element type T: the scalars of an update in T (cg_update_scalars_T and its constructor)
 * and one element function per rule, returning the new parameter value; state a and b are the
 * rule's state[0] and state[1]. */
#define CG_DEFINE_OPTIMIZER_MATH(T)                                                                \
    typedef struct {                                                                               \
        T grad_scale, weight_decay, param_scale, negative_learning_rate, momentum;                 \
        T beta1, one_minus_beta1, beta2, one_minus_beta2, negative_step_size;                      \
        T bias_correction2_sqrt, rho, one_minus_rho, epsilon;                                      \
        bool decays, has_momentum, nesterov;                                                       \
    } cg_update_scalars_##T;                                                                       \
                                                                                                   \
    static inline cg_update_scalars_##T cg_update_scalars_##T##_from(                              \
        const cg_optimizer_update *u) {                                                            \
        cg_update_scalars_##T s;                                                                   \
        s.grad_scale = (T)u->grad_scale;                                                           \
        s.weight_decay = (T)u->weight_decay;                                                       \
        s.param_scale = (T)u->param_scale;                                                         \
        s.negative_learning_rate = (T)-u->learning_rate;                                           \
        s.momentum = (T)u->momentum;                                                               \
        s.beta1 = (T)u->beta1;                                                                     \
        s.one_minus_beta1 = (T)(1 - u->beta1);                                                     \
        s.beta2 = (T)u->beta2;                                                                     \
        s.one_minus_beta2 = (T)(1 - u->beta2);                                                     \
        s.negative_step_size = (T)-u->step_size;                                                   \
        s.bias_correction2_sqrt = (T)u->bias_correction2_sqrt;                                     \
        s.rho = (T)u->rho;                                                                         \
        s.one_minus_rho = (T)(1 - u->rho);                                                         \
        s.epsilon = (T)u->epsilon;                                                                 \
        s.decays = u->weight_decay != 0;                                                           \
        s.has_momentum = u->momentum > 0;                                                          \
        s.nesterov = u->nesterov;                                                                  \
        return s;                                                                                  \
    }                                                                                              \
                                                                                                   \
    /* The gradient as the rule sees it: clipped, plus the L2 penalty of the unscaled p. */        \
    CG_HOST_DEVICE static inline T cg_effective_grad_##T(const cg_update_scalars_##T *s, T p,      \
                                                         T grad) {                                 \
        T g = grad * s->grad_scale;                                                                \
        return s->decays ? g + s->weight_decay * p : g;                                            \
    }                                                                                              \
                                                                                                   \
    CG_HOST_DEVICE static inline T cg_sgd_element_##T(const cg_update_scalars_##T *s, T p, T grad, \
                                                      T *a, T *b) {                                \
        (void)b;                                                                                   \
        T g = cg_effective_grad_##T(s, p, grad);                                                   \
        p = p * s->param_scale;                                                                    \
        if (s->has_momentum) {                                                                     \
            *a = *a * s->momentum + g;                                                             \
            g = s->nesterov ? g + s->momentum * *a : *a;                                           \
        }                                                                                          \
        return p + s->negative_learning_rate * g;                                                  \
    }                                                                                              \
                                                                                                   \
    CG_HOST_DEVICE static inline T cg_adam_element_##T(const cg_update_scalars_##T *s, T p,        \
                                                       T grad, T *a, T *b) {                       \
        const T g = cg_effective_grad_##T(s, p, grad);                                             \
        p = p * s->param_scale;                                                                    \
        *a = *a * s->beta1 + s->one_minus_beta1 * g;                                               \
        *b = *b * s->beta2 + s->one_minus_beta2 * g * g;                                           \
        const T denominator = sqrt(*b) / s->bias_correction2_sqrt + s->epsilon;                    \
        return p + s->negative_step_size * *a / denominator;                                       \
    }                                                                                              \
                                                                                                   \
    CG_HOST_DEVICE static inline T cg_rmsprop_element_##T(const cg_update_scalars_##T *s, T p,     \
                                                          T grad, T *a, T *b) {                    \
        const T g = cg_effective_grad_##T(s, p, grad);                                             \
        p = p * s->param_scale;                                                                    \
        *a = *a * s->rho + s->one_minus_rho * g * g;                                               \
        const T average = sqrt(*a) + s->epsilon;                                                   \
        if (!s->has_momentum) return p + s->negative_learning_rate * g / average;                  \
        *b = *b * s->momentum + g / average;                                                       \
        return p + s->negative_learning_rate * *b;                                                 \
    }

CG_DEFINE_OPTIMIZER_MATH(float)
CG_DEFINE_OPTIMIZER_MATH(double)

#endif
