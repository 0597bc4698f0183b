/* Matrix products. Every form (1-D, 2-D, broadcast batches) is brought by differentiable views to
 * one primitive: a product of 3-D batches, whose backward is two more such products. */
#include "ops/ops.h"

static cg_tensor *batched_matmul(const cg_tensor *a, const cg_tensor *b);

/* True when x's matrices are dense along dim inner and their lines along it lie at least a line's
 * length apart along dim outer: the layout the kernels (and BLAS) take. Broadcast lines (stride
 * 0) are not. */
static bool dense_along(const cg_tensor *x, int inner, int outer) {
    const int64_t length = x->shape[inner] > 1 ? x->shape[inner] : 1;
    return (x->strides[inner] == 1 || x->shape[inner] == 1) &&
           (x->shape[outer] == 1 || x->strides[outer] >= length);
}

/* left @ right laid out like operand: a column-major operand (a transposed weight) gets its
 * gradient as the transpose of right^T @ left^T, so that the gradient reaching the weight is
 * row-major like the weight and is used without a copy. */
static cg_tensor *gradient_like(const cg_tensor *operand, const cg_tensor *left,
                                const cg_tensor *right) {
    if (dense_along(operand, 2, 1) || !dense_along(operand, 1, 2))
        return batched_matmul(left, right);
    return cg_transpose(batched_matmul(cg_transpose(right, 1, 2), cg_transpose(left, 1, 2)), 1, 2);
}

static int batched_matmul_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                                   cg_tensor **grads) {
    (void)out;
    cg_tensor *a = node->inputs[0], *b = node->inputs[1];
    if (a->requires_grad) grads[0] = gradient_like(a, g, cg_transpose(b, 1, 2));
    if (b->requires_grad) grads[1] = gradient_like(b, cg_transpose(a, 1, 2), g);
    return (!a->requires_grad || grads[0]) && (!b->requires_grad || grads[1]) ? 0 : -1;
}

static const cg_op_def batched_matmul_op = {"matmul", batched_matmul_backward};

cg_tensor *cg_matrix_ready(const cg_tensor *x) {
    if (!x) return NULL;
    const int rows = x->ndim - 2, columns = x->ndim - 1;
    return dense_along(x, columns, rows) || dense_along(x, rows, columns) ? cg_alias(x)
                                                                          : cg_contiguous(x);
}

static cg_tensor *batched_matmul(const cg_tensor *a, const cg_tensor *b) {
    if (!a || !b) return NULL;
    cg_scope_begin();
    cg_tensor *ar = cg_matrix_ready(a), *br = cg_matrix_ready(b);
    cg_tensor *out = NULL;
    if (ar && br) {
        const int64_t shape[3] = {a->shape[0], a->shape[1], b->shape[2]};
        out = cg_new_like_shape(a, 3, shape, a->dtype);
        if (out && cg_tensor_backend(a)->matmul(ar, br, out) != 0) out = NULL;
    }
    cg_tensor *inputs[2] = {ar, br};
    if (out && cg_needs_grad(inputs, 2) && !cg_node_attach(out, &batched_matmul_op, inputs, 2))
        out = NULL;
    out = cg_keep(out);
    cg_scope_end();
    return out;
}

/* x with its leading (batch) dims expanded to batch and merged into one. */
static cg_tensor *as_batches(const cg_tensor *x, int batch_ndim, const int64_t *batch) {
    cg_shape full = {.ndim = batch_ndim + 2};
    int64_t count = 1;
    for (int d = 0; d < batch_ndim; d++) {
        full.dims[d] = batch[d];
        count *= batch[d];
    }
    full.dims[batch_ndim] = x->shape[x->ndim - 2];
    full.dims[batch_ndim + 1] = x->shape[x->ndim - 1];
    cg_tensor *expanded = cg_expand(x, full);
    if (batch_ndim == 0) return cg_unsqueeze(expanded, 0);
    if (batch_ndim == 1) return expanded;
    return cg_reshape(expanded, CG_SHAPE(count, full.dims[batch_ndim], full.dims[batch_ndim + 1]));
}

cg_tensor *cg_matmul(const cg_tensor *a, const cg_tensor *b) {
    if (!a || !b) return NULL;
    if (!cg_require_same_kind("matmul", a, b) || !cg_require_float("matmul", a)) return NULL;
    if (a->ndim == 0 || b->ndim == 0) {
        cg_error_set("matmul: operands need at least 1 dim, got %s and %s", cg_shape_text(a),
                     cg_shape_text(b));
        return NULL;
    }
    cg_scope_begin();
    /* Vectors become matrices (a row on the left, a column on the right), dropped again at the
     * end. */
    cg_tensor *am = a->ndim == 1 ? cg_unsqueeze(a, 0) : cg_alias(a);
    cg_tensor *bm = b->ndim == 1 ? cg_unsqueeze(b, 1) : cg_alias(b);
    cg_tensor *out = NULL;
    int batch_ndim = 0;
    int64_t batch[CG_MAX_DIMS];
    const int64_t k_a = am ? am->shape[am->ndim - 1] : 0, k_b = bm ? bm->shape[bm->ndim - 2] : 0;
    if (am && bm && k_a != k_b) {
        cg_error_set("matmul: inner dims differ: %s @ %s", cg_shape_text(a), cg_shape_text(b));
    } else if (am && bm &&
               cg_broadcast_shapes("matmul", am->ndim - 2, am->shape, bm->ndim - 2, bm->shape,
                                   &batch_ndim, batch)) {
        cg_tensor *product =
            batched_matmul(as_batches(am, batch_ndim, batch), as_batches(bm, batch_ndim, batch));
        cg_shape shape = {.ndim = 0};
        for (int d = 0; d < batch_ndim; d++)
            shape.dims[shape.ndim++] = batch[d];
        if (a->ndim > 1) shape.dims[shape.ndim++] = am->shape[am->ndim - 2];
        if (b->ndim > 1) shape.dims[shape.ndim++] = bm->shape[bm->ndim - 1];
        out = cg_reshape(product, shape);
    } else if (am && bm) {
        cg_error_set("matmul: the batch dims of %s and %s do not broadcast", cg_shape_text(a),
                     cg_shape_text(b));
    }
    out = cg_keep(out);
    cg_scope_end();
    return out;
}
