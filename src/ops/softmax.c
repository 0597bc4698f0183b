/* Softmax and log-softmax along one dim: one kernel pair per backend, the backward rule reading
 * the forward output instead of the input. */
#include "ops/ops.h"

static int softmax_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                            cg_tensor **grads) {
    grads[0] = cg_empty_like(node->inputs[0]);
    if (!grads[0]) return -1;
    return cg_tensor_backend(out)->softmax_backward(out, g, (int)node->params.ints[0],
                                                    node->params.ints[1] != 0, grads[0]);
}

static const cg_op_def softmax_op = {"softmax", softmax_backward};
static const cg_op_def log_softmax_op = {"log_softmax", softmax_backward};

static cg_tensor *softmax(const cg_op_def *def, bool take_log, const cg_tensor *x, int dim) {
    if (!x) return NULL;
    if (!cg_require_float(def->name, x)) return NULL;
    const int d = cg_normalize_dim(def->name, dim, x->ndim);
    if (d < 0) return NULL;
    cg_tensor *out = cg_empty_like(x);
    if (!out || cg_tensor_backend(x)->softmax(x, d, take_log, out) != 0)
        return cg_kernel_failed(out);
    cg_tensor *inputs[1] = {(cg_tensor *)x};
    if (cg_needs_grad(inputs, 1)) {
        cg_node *node = cg_node_attach(out, def, inputs, 1);
        if (!node) return cg_kernel_failed(out);
        node->params.ints[0] = d;
        node->params.ints[1] = take_log;
    }
    return out;
}

cg_tensor *cg_softmax(const cg_tensor *x, int dim) { return softmax(&softmax_op, false, x, dim); }

cg_tensor *cg_log_softmax(const cg_tensor *x, int dim) {
    return softmax(&log_softmax_op, true, x, dim);
}
