/* Reductions over any set of dims: sum, max and min with their kernels; mean, var and logsumexp
 * composed from them; argmax. */
#include <math.h>
#include <string.h>

#include "ops/ops.h"

/* The shape x has after reducing the dims in mask with keepdim (size 1 there). */
static void kept_shape(const cg_tensor *x, const bool *mask, int64_t *shape) {
    for (int d = 0; d < x->ndim; d++)
        shape[d] = mask[d] ? 1 : x->shape[d];
}

/* The shape x has after reducing the dims in mask without keepdim. */
static cg_shape dropped_shape(const cg_tensor *x, const bool *mask) {
    cg_shape shape = {.ndim = 0};
    for (int d = 0; d < x->ndim; d++)
        if (!mask[d]) shape.dims[shape.ndim++] = x->shape[d];
    return shape;
}

static cg_tensor *drop_reduced_dims(cg_tensor *kept, const bool *mask) {
    cg_tensor *out = cg_reshape(kept, dropped_shape(kept, mask));
    cg_release(kept);
    return out;
}

/* The gradient of a reduction output, brought back to the input's shape by broadcasting. */
static cg_tensor *expand_to_input(const cg_node *node, const cg_tensor *g) {
    const cg_tensor *x = node->inputs[0];
    bool mask[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        mask[d] = node->params.ints[d] != 0;
    cg_shape kept = {.ndim = x->ndim};
    kept_shape(x, mask, kept.dims);
    return cg_expand(cg_reshape(g, kept), cg_tensor_shape(x));
}

static int sum_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                        cg_tensor **grads) {
    (void)out;
    grads[0] = expand_to_input(node, g);
    return grads[0] ? 0 : -1;
}

/* The gradient goes to the elements equal to the extremum, split evenly between ties. */
static int extremum_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                             cg_tensor **grads) {
    const cg_tensor *x = node->inputs[0];
    cg_tensor *chosen = cg_eq(x, expand_to_input(node, out));
    cg_dims dims = {.count = 0};
    for (int d = 0; d < x->ndim; d++)
        if (node->params.ints[d]) dims.dims[dims.count++] = d;
    cg_tensor *ties = cg_sum(chosen, dims, true);
    grads[0] = cg_div(cg_mul(chosen, expand_to_input(node, g)), ties);
    return grads[0] ? 0 : -1;
}

static const cg_op_def sum_op = {"sum", sum_backward};
static const cg_op_def max_op = {"max", extremum_backward};
static const cg_op_def min_op = {"min", extremum_backward};

static cg_tensor *reduce(const char *name, cg_reduce_op op, const cg_op_def *def,
                         const cg_tensor *x, cg_dims dims, bool keepdim) {
    if (!x) return NULL;
    bool mask[CG_MAX_DIMS];
    if (!cg_reduction_mask(name, dims, x->ndim, mask)) return NULL;
    int64_t shape[CG_MAX_DIMS];
    kept_shape(x, mask, shape);
    if (op != CG_REDUCE_SUM) {
        for (int d = 0; d < x->ndim; d++)
            if (mask[d] && x->shape[d] == 0) {
                cg_error_set("%s: cannot reduce the empty dim %d of %s", name, d, cg_shape_text(x));
                return NULL;
            }
    }
    cg_tensor *out = cg_new_like_shape(x, x->ndim, shape, x->dtype);
    if (!out || cg_tensor_backend(x)->reduce(op, x, out) != 0) return cg_kernel_failed(out);
    cg_tensor *inputs[1] = {(cg_tensor *)x};
    if (cg_dtype_is_float(x->dtype) && cg_needs_grad(inputs, 1)) {
        cg_node *node = cg_node_attach(out, def, inputs, 1);
        if (!node) return cg_kernel_failed(out);
        for (int d = 0; d < x->ndim; d++)
            node->params.ints[d] = mask[d];
    }
    return keepdim ? out : drop_reduced_dims(out, mask);
}

cg_tensor *cg_sum(const cg_tensor *x, cg_dims dims, bool keepdim) {
    return reduce("sum", CG_REDUCE_SUM, &sum_op, x, dims, keepdim);
}

cg_tensor *cg_max(const cg_tensor *x, cg_dims dims, bool keepdim) {
    return reduce("max", CG_REDUCE_MAX, &max_op, x, dims, keepdim);
}

cg_tensor *cg_min(const cg_tensor *x, cg_dims dims, bool keepdim) {
    return reduce("min", CG_REDUCE_MIN, &min_op, x, dims, keepdim);
}

/* Number of elements each output of a reduction over dims combines. */
static int64_t reduced_count(const char *op, const cg_tensor *x, cg_dims dims) {
    bool mask[CG_MAX_DIMS];
    if (!cg_reduction_mask(op, dims, x->ndim, mask)) return -1;
    int64_t count = 1;
    for (int d = 0; d < x->ndim; d++)
        if (mask[d]) count *= x->shape[d];
    return count;
}

cg_tensor *cg_mean(const cg_tensor *x, cg_dims dims, bool keepdim) {
    if (!x || !cg_require_float("mean", x)) return NULL;
    const int64_t count = reduced_count("mean", x, dims);
    if (count < 0) return NULL;
    cg_scope_begin();
    cg_tensor *out = cg_keep(cg_mul_scalar(cg_sum(x, dims, keepdim), 1.0 / (double)count));
    cg_scope_end();
    return out;
}

cg_tensor *cg_var(const cg_tensor *x, cg_dims dims, bool unbiased, bool keepdim) {
    if (!x || !cg_require_float("var", x)) return NULL;
    const int64_t count = reduced_count("var", x, dims);
    if (count < 0) return NULL;
    const double divisor = (double)(count - (unbiased ? 1 : 0));
    cg_scope_begin();
    cg_tensor *centered = cg_sub(x, cg_mean(x, dims, true));
    cg_tensor *squares = cg_sum(cg_mul(centered, centered), dims, keepdim);
    cg_tensor *out = cg_keep(cg_mul_scalar(squares, 1.0 / divisor));
    cg_scope_end();
    return out;
}

cg_tensor *cg_logsumexp(const cg_tensor *x, cg_dims dims, bool keepdim) {
    if (!x || !cg_require_float("logsumexp", x)) return NULL;
    bool mask[CG_MAX_DIMS];
    if (!cg_reduction_mask("logsumexp", dims, x->ndim, mask)) return NULL;
    cg_scope_begin();
    /* Shift by the (constant) maximum so exp cannot overflow; an infinite maximum shifts by 0. */
    cg_tensor *peak = cg_detach(cg_max(x, dims, true));
    cg_tensor *finite = peak ? cg_lt(cg_abs(peak), cg_full_on(CG_SCALAR_SHAPE, INFINITY, x->dtype,
                                                              x->storage->device))
                             : NULL;
    cg_tensor *shift = cg_where(finite, peak, cg_zeros_like(peak ? peak : x));
    cg_tensor *total = cg_sum(cg_exp(cg_sub(x, shift)), dims, true);
    cg_tensor *out = cg_add(cg_log(total), shift);
    if (out && !keepdim) out = cg_reshape(out, dropped_shape(x, mask));
    out = cg_keep(out);
    cg_scope_end();
    return out;
}

cg_tensor *cg_argmax(const cg_tensor *x, int dim, bool keepdim) {
    if (!x) return NULL;
    int d = cg_normalize_dim("argmax", dim, x->ndim);
    if (d < 0) return NULL;
    if (x->shape[d] == 0) {
        cg_error_set("argmax: dim %d of %s is empty", dim, cg_shape_text(x));
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = 1;
    cg_tensor *out = cg_new_like_shape(x, x->ndim, shape, CG_INT64);
    if (!out || cg_tensor_backend(x)->arg_reduce(x, d, true, out) != 0)
        return cg_kernel_failed(out);
    if (keepdim) return out;
    bool mask[CG_MAX_DIMS] = {false};
    mask[d] = true;
    return drop_reduced_dims(out, mask);
}
