/* Dropout: a random keep-mask from this thread's generator, scaled so the expected output equals
 * the input. The node keeps the scaled mask, so backward needs no new random numbers. */
#include "core/rng.h"
#include "ops/ops.h"

static int dropout_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                            cg_tensor **grads) {
    (void)out;
    grads[0] = cg_mul(g, node->saved[0]);
    return grads[0] ? 0 : -1;
}

static const cg_op_def dropout_op = {"dropout", dropout_backward};

/* 1/(1-p) where a uniform draw lands at or above p, 0 elsewhere; shape, dtype and device of x. */
static cg_tensor *scaled_keep_mask(const cg_tensor *x, double p) {
    cg_tensor *shifted = cg_empty_like(x);
    if (!shifted) return NULL;
    uint64_t key;
    const uint64_t counter = cg_rng_reserve((uint64_t)cg_numel(x), &key);
    /* Uniform in [-p, 1-p): the element is kept when the draw is not negative. */
    if (cg_tensor_backend(x)->random(shifted, CG_RANDOM_UNIFORM, key, counter, -p, 1.0 - p) != 0)
        return cg_kernel_failed(shifted);
    return cg_mul_scalar(cg_ge(shifted, cg_zeros_like(shifted)), 1.0 / (1.0 - p));
}

cg_tensor *cg_dropout(const cg_tensor *x, double p, bool training) {
    if (!x) return NULL;
    if (!(p >= 0.0 && p < 1.0)) {
        cg_error_set("dropout: p must be in [0, 1), got %g", p);
        return NULL;
    }
    if (!cg_require_float("dropout", x)) return NULL;
    if (!training || p == 0.0) return cg_alias(x);
    cg_tensor *inputs[1] = {(cg_tensor *)x};
    const bool record = cg_needs_grad(inputs, 1);
    const bool previous = cg_set_grad_enabled(false);
    cg_scope_begin();
    cg_tensor *mask = scaled_keep_mask(x, p);
    cg_tensor *out = cg_keep(cg_mul(x, mask));
    if (out && record) {
        cg_node *node = cg_node_attach(out, &dropout_op, inputs, 1);
        if (node)
            cg_node_save(node, mask);
        else
            out = cg_kernel_failed(out);
    }
    cg_scope_end();
    cg_set_grad_enabled(previous);
    return out;
}
