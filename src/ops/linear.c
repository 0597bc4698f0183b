/* The fully connected op y = activation(x weight^T + bias) (PyTorch's linear) as one node: the
 * product writes y, the epilogue adds the bias and applies the activation in one pass over it,
 * and the backward rule takes the activation's derivative from y. A layer therefore keeps one
 * tensor of its output's size, where a product, an add and an activation kept three. */
#include "ops/epilogue.h"
#include "ops/ops.h"

/* Where the node keeps its epilogue's op (params.ints). */
enum { SAVED_EPILOGUE = 0 };

/* g = dy * act'(y) once, then dx = g weight, dweight = g^T x (row-major like the weight, so the
 * optimizer takes it without a copy) and dbias = the column sums of g. */
static int linear_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                           cg_tensor **grads) {
    cg_tensor *x = node->inputs[0], *weight = node->inputs[1];
    cg_tensor *bias = node->input_count == 3 ? node->inputs[2] : NULL;
    cg_tensor *grad = cg_epilogue_gradient(node, SAVED_EPILOGUE, out, g);
    if (!grad) return -1;
    if (x->requires_grad && !(grads[0] = cg_matmul(grad, weight))) return -1;
    if (weight->requires_grad && !(grads[1] = cg_matmul(cg_transpose(grad, 0, 1), x))) return -1;
    if (bias && bias->requires_grad && !(grads[2] = cg_sum(grad, CG_DIMS(0), false))) return -1;
    return 0;
}

static const cg_op_def linear_op = {"linear", linear_backward};

static bool check_linear_operands(const cg_tensor *x, const cg_tensor *weight,
                                  const cg_tensor *bias, cg_activation activation) {
    if (!cg_require_same_kind("linear", x, weight) || !cg_require_float("linear", x)) return false;
    if (weight->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != weight->shape[1]) {
        cg_error_set("linear: weight %s must be (out, in), in being the last size of input %s",
                     cg_shape_text(weight), cg_shape_text(x));
        return false;
    }
    if (bias && !cg_require_same_kind("linear", x, bias)) return false;
    if (bias && (bias->ndim != 1 || bias->shape[0] != weight->shape[0])) {
        cg_error_set("linear: bias %s must be 1-D with one value per output (%lld)",
                     cg_shape_text(bias), (long long)weight->shape[0]);
        return false;
    }
    if ((unsigned)activation >= CG_ACTIVATION_COUNT) {
        cg_error_set("linear: unknown activation %d", (int)activation);
        return false;
    }
    return true;
}

/* out = x weight^T through the backend's batched product, on views of one matrix each that
 * record nothing: the node of linear stands for the whole op. */
static int product(const cg_tensor *x, const cg_tensor *weight, cg_tensor *out) {
    const int64_t rows = x->shape[0], in = x->shape[1], features = weight->shape[0];
    cg_tensor *left =
        cg_tensor_new_view(x, 3, (const int64_t[]){1, rows, in},
                           (const int64_t[]){0, x->strides[0], x->strides[1]}, x->offset);
    cg_tensor *right = cg_tensor_new_view(
        weight, 3, (const int64_t[]){1, in, features},
        (const int64_t[]){0, weight->strides[1], weight->strides[0]}, weight->offset);
    cg_tensor *product = cg_tensor_new_view(out, 3, (const int64_t[]){1, rows, features},
                                            (const int64_t[]){0, features, 1}, out->offset);
    if (!left || !right || !product) return -1;
    return cg_tensor_backend(x)->matmul(left, right, product);
}

cg_tensor *cg_linear(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                     cg_activation activation) {
    if (!x || !weight) return NULL;
    if (!check_linear_operands(x, weight, bias, activation)) return NULL;
    const int64_t in = weight->shape[1], features = weight->shape[0];
    const int64_t rows = cg_shape_numel(x->ndim - 1, x->shape);
    cg_epilogue epilogue;
    const bool fused = cg_epilogue_of(activation, &epilogue);
    cg_scope_begin();
    cg_tensor *inputs[3] = {cg_matrix_ready(x->ndim == 2 ? x : cg_reshape(x, CG_SHAPE(rows, in))),
                            cg_matrix_ready(weight), bias ? cg_contiguous(bias) : NULL};
    const int count = bias ? 3 : 2;
    cg_tensor *out = NULL;
    if (inputs[0] && inputs[1] && (!bias || inputs[2])) {
        out = cg_new_like_shape(x, 2, (const int64_t[]){rows, features}, x->dtype);
        if (out && (product(inputs[0], inputs[1], out) != 0 ||
                    cg_epilogue_apply(&epilogue, out, inputs[2], features, 1) != 0))
            out = NULL;
    }
    if (out && cg_needs_grad(inputs, count)) {
        cg_node *node = cg_node_attach(out, &linear_op, inputs, count);
        if (node)
            cg_epilogue_save(node, SAVED_EPILOGUE, &epilogue);
        else
            out = NULL;
    }
    if (out && !fused) out = cg_activate(out, activation);
    if (out && x->ndim != 2) {
        cg_shape shape = {.ndim = x->ndim};
        for (int d = 0; d < x->ndim - 1; d++)
            shape.dims[d] = x->shape[d];
        shape.dims[x->ndim - 1] = features;
        out = cg_reshape(out, shape);
    }
    out = cg_keep(out);
    cg_scope_end();
    return out;
}
