/* Elementwise binary arithmetic with broadcasting, where, and the in-place updates. */
#include <math.h>

#include "ops/ops.h"

/* Backward rules run inside the engine's per-node scope with grad off: temporaries need no
 * release. */
#define GRAD_TO(input, expr) cg_sum_to_shape((expr), (input)->ndim, (input)->shape)

static int add_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                        cg_tensor **grads) {
    (void)out;
    grads[0] = GRAD_TO(node->inputs[0], g);
    grads[1] = GRAD_TO(node->inputs[1], g);
    return grads[0] && grads[1] ? 0 : -1;
}

static int sub_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                        cg_tensor **grads) {
    (void)out;
    grads[0] = GRAD_TO(node->inputs[0], g);
    grads[1] = GRAD_TO(node->inputs[1], cg_neg(g));
    return grads[0] && grads[1] ? 0 : -1;
}

static int mul_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                        cg_tensor **grads) {
    (void)out;
    cg_tensor *a = node->inputs[0], *b = node->inputs[1];
    grads[0] = GRAD_TO(a, cg_mul(g, b));
    grads[1] = GRAD_TO(b, cg_mul(g, a));
    return grads[0] && grads[1] ? 0 : -1;
}

static int div_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                        cg_tensor **grads) {
    cg_tensor *a = node->inputs[0], *b = node->inputs[1];
    grads[0] = GRAD_TO(a, cg_div(g, b));
    grads[1] = GRAD_TO(b, cg_neg(cg_div(cg_mul(g, out), b)));
    return grads[0] && grads[1] ? 0 : -1;
}

static int pow_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                        cg_tensor **grads) {
    cg_tensor *a = node->inputs[0], *b = node->inputs[1];
    /* d/da a^b = b a^(b-1); d/db a^b = a^b log a, taken as 0 where a <= 0 (as PyTorch does at 0).
     */
    grads[0] = GRAD_TO(a, cg_mul(g, cg_mul(b, cg_pow(a, cg_add_scalar(b, -1.0)))));
    cg_tensor *zero = cg_zeros_like(a), *positive = cg_gt(a, zero);
    cg_tensor *log_a = cg_where(positive, cg_log(cg_where(positive, a, cg_ones_like(a))), zero);
    grads[1] = GRAD_TO(b, cg_mul(g, cg_mul(out, log_a)));
    return grads[0] && grads[1] ? 0 : -1;
}

/* max/min send the gradient to the chosen operand and split it evenly on ties. */
static int extremum_backward(const cg_node *node, const cg_tensor *g, cg_tensor **grads,
                             cg_tensor *(*a_wins)(const cg_tensor *, const cg_tensor *)) {
    cg_tensor *a = node->inputs[0], *b = node->inputs[1];
    cg_tensor *share_a = cg_add(a_wins(a, b), cg_mul_scalar(cg_eq(a, b), 0.5));
    grads[0] = GRAD_TO(a, cg_mul(g, share_a));
    grads[1] = GRAD_TO(b, cg_mul(g, cg_add_scalar(cg_neg(share_a), 1.0)));
    return grads[0] && grads[1] ? 0 : -1;
}

static int maximum_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                            cg_tensor **grads) {
    (void)out;
    return extremum_backward(node, g, grads, cg_gt);
}

static int minimum_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                            cg_tensor **grads) {
    (void)out;
    return extremum_backward(node, g, grads, cg_lt);
}

static const cg_op_def add_op = {"add", add_backward};
static const cg_op_def sub_op = {"sub", sub_backward};
static const cg_op_def mul_op = {"mul", mul_backward};
static const cg_op_def div_op = {"div", div_backward};
static const cg_op_def pow_op = {"pow", pow_backward};
static const cg_op_def maximum_op = {"maximum", maximum_backward};
static const cg_op_def minimum_op = {"minimum", minimum_backward};

/* def is NULL for the comparisons, which record no graph. */
static cg_tensor *binary(const char *name, cg_binary_op op, const cg_op_def *def,
                         const cg_tensor *a, const cg_tensor *b) {
    if (!a || !b) return NULL;
    if (!cg_require_same_kind(name, a, b)) return NULL;
    if ((op == CG_BINARY_DIV || op == CG_BINARY_POW) && !cg_require_float(name, a)) return NULL;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    if (!cg_broadcast_shapes(name, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape)) return NULL;
    cg_tensor *out = cg_new_like_shape(a, ndim, shape, a->dtype);
    cg_tensor *av = out ? cg_broadcast_view(a, ndim, shape) : NULL;
    cg_tensor *bv = av ? cg_broadcast_view(b, ndim, shape) : NULL;
    int status = bv ? cg_tensor_backend(out)->binary(op, av, bv, out) : -1;
    cg_release(av);
    cg_release(bv);
    if (status != 0) return cg_kernel_failed(out);
    cg_tensor *inputs[2] = {(cg_tensor *)a, (cg_tensor *)b};
    if (def && cg_dtype_is_float(a->dtype) && cg_needs_grad(inputs, 2) &&
        !cg_node_attach(out, def, inputs, 2))
        return cg_kernel_failed(out);
    return out;
}

cg_tensor *cg_add(const cg_tensor *a, const cg_tensor *b) {
    return binary("add", CG_BINARY_ADD, &add_op, a, b);
}
cg_tensor *cg_sub(const cg_tensor *a, const cg_tensor *b) {
    return binary("sub", CG_BINARY_SUB, &sub_op, a, b);
}
cg_tensor *cg_mul(const cg_tensor *a, const cg_tensor *b) {
    return binary("mul", CG_BINARY_MUL, &mul_op, a, b);
}
cg_tensor *cg_div(const cg_tensor *a, const cg_tensor *b) {
    return binary("div", CG_BINARY_DIV, &div_op, a, b);
}
cg_tensor *cg_pow(const cg_tensor *a, const cg_tensor *b) {
    return binary("pow", CG_BINARY_POW, &pow_op, a, b);
}
cg_tensor *cg_maximum(const cg_tensor *a, const cg_tensor *b) {
    return binary("maximum", CG_BINARY_MAXIMUM, &maximum_op, a, b);
}
cg_tensor *cg_minimum(const cg_tensor *a, const cg_tensor *b) {
    return binary("minimum", CG_BINARY_MINIMUM, &minimum_op, a, b);
}
cg_tensor *cg_eq(const cg_tensor *a, const cg_tensor *b) {
    return binary("eq", CG_BINARY_EQ, NULL, a, b);
}
cg_tensor *cg_ne(const cg_tensor *a, const cg_tensor *b) {
    return binary("ne", CG_BINARY_NE, NULL, a, b);
}
cg_tensor *cg_lt(const cg_tensor *a, const cg_tensor *b) {
    return binary("lt", CG_BINARY_LT, NULL, a, b);
}
cg_tensor *cg_le(const cg_tensor *a, const cg_tensor *b) {
    return binary("le", CG_BINARY_LE, NULL, a, b);
}
cg_tensor *cg_gt(const cg_tensor *a, const cg_tensor *b) {
    return binary("gt", CG_BINARY_GT, NULL, a, b);
}
cg_tensor *cg_ge(const cg_tensor *a, const cg_tensor *b) {
    return binary("ge", CG_BINARY_GE, NULL, a, b);
}

/* ----- where ----- */

static int where_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                          cg_tensor **grads) {
    (void)out;
    cg_tensor *cond = node->saved[0], *zero = cg_zeros_like(g);
    grads[0] = GRAD_TO(node->inputs[0], cg_where(cond, g, zero));
    grads[1] = GRAD_TO(node->inputs[1], cg_where(cond, zero, g));
    return grads[0] && grads[1] ? 0 : -1;
}

static const cg_op_def where_op = {"where", where_backward};

cg_tensor *cg_where(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b) {
    if (!cond || !a || !b) return NULL;
    if (!cg_require_same_kind("where", a, b)) return NULL;
    if (!cg_device_equal(cond->storage->device, a->storage->device)) {
        char dc[32], da[32];
        cg_error_set("where: the condition is on %s but the operands are on %s",
                     cg_device_name(cond->storage->device, dc, sizeof dc),
                     cg_device_name(a->storage->device, da, sizeof da));
        return NULL;
    }
    /* The operands' shape and the final one live apart: cg_broadcast_shapes writes its output
     * while still reading its inputs. */
    int ab_ndim, ndim;
    int64_t ab_shape[CG_MAX_DIMS], shape[CG_MAX_DIMS];
    if (!cg_broadcast_shapes("where", a->ndim, a->shape, b->ndim, b->shape, &ab_ndim, ab_shape) ||
        !cg_broadcast_shapes("where", cond->ndim, cond->shape, ab_ndim, ab_shape, &ndim, shape))
        return NULL;
    /* The kernel reads the condition in the operands' dtype. */
    cg_tensor *typed_cond = cond->dtype == a->dtype ? cg_alias(cond) : cg_to_dtype(cond, a->dtype);
    cg_tensor *out = typed_cond ? cg_new_like_shape(a, ndim, shape, a->dtype) : NULL;
    cg_tensor *cv = out ? cg_broadcast_view(typed_cond, ndim, shape) : NULL;
    cg_tensor *av = cv ? cg_broadcast_view(a, ndim, shape) : NULL;
    cg_tensor *bv = av ? cg_broadcast_view(b, ndim, shape) : NULL;
    int status = bv ? cg_tensor_backend(out)->where(cv, av, bv, out) : -1;
    cg_release(av);
    cg_release(bv);
    cg_tensor *inputs[2] = {(cg_tensor *)a, (cg_tensor *)b};
    if (status == 0 && cg_dtype_is_float(a->dtype) && cg_needs_grad(inputs, 2)) {
        cg_node *node = cg_node_attach(out, &where_op, inputs, 2);
        if (node)
            cg_node_save(node, cv);
        else
            status = -1;
    }
    cg_release(cv);
    cg_release(typed_cond);
    return status == 0 ? out : cg_kernel_failed(out);
}

/* ----- in-place updates ----- */

int cg_add_scaled_(cg_tensor *dst, const cg_tensor *src, double scale) {
    if (!dst || !src) return -1;
    if (!cg_require_same_kind("add_scaled_", dst, src) || !cg_require_float("add_scaled_", dst))
        return -1;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    if (!cg_broadcast_shapes("add_scaled_", dst->ndim, dst->shape, src->ndim, src->shape, &ndim,
                             shape))
        return -1;
    if (ndim != dst->ndim || cg_shape_numel(ndim, shape) != cg_numel(dst)) {
        cg_error_set("add_scaled_: %s does not broadcast to the destination's shape %s",
                     cg_shape_text(src), cg_shape_text(dst));
        return -1;
    }
    const bool previous = cg_set_grad_enabled(false);
    cg_scope_begin();
    cg_tensor *scaled = scale == 1.0 ? cg_alias(src) : cg_mul_scalar(src, scale);
    cg_tensor *view = scaled ? cg_broadcast_view(scaled, dst->ndim, dst->shape) : NULL;
    int status = view ? cg_tensor_backend(dst)->binary(CG_BINARY_ADD, dst, view, dst) : -1;
    cg_scope_end();
    cg_set_grad_enabled(previous);
    return status;
}

int cg_copy_(cg_tensor *dst, const cg_tensor *src) {
    if (!dst || !src) return -1;
    char da[32], db[32];
    if (!cg_device_equal(dst->storage->device, src->storage->device)) {
        cg_error_set("copy_: source on %s, destination on %s",
                     cg_device_name(src->storage->device, da, sizeof da),
                     cg_device_name(dst->storage->device, db, sizeof db));
        return -1;
    }
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    if (!cg_broadcast_shapes("copy_", dst->ndim, dst->shape, src->ndim, src->shape, &ndim, shape))
        return -1;
    if (ndim != dst->ndim || cg_shape_numel(ndim, shape) != cg_numel(dst)) {
        cg_error_set("copy_: %s does not broadcast to the destination's shape %s",
                     cg_shape_text(src), cg_shape_text(dst));
        return -1;
    }
    cg_scope_begin();
    cg_tensor *view = cg_broadcast_view(src, dst->ndim, dst->shape);
    int status = view ? cg_tensor_backend(dst)->copy(dst, view) : -1;
    cg_scope_end();
    return status;
}

int cg_fill_(cg_tensor *t, double value) {
    if (!t) return -1;
    return cg_tensor_backend(t)->fill(t, value);
}
