/* Elementwise functions and activations: one kernel pair per backend, the math in
 * ops/scalar_math.h. */
#include <math.h>

#include "ops/ops.h"

static int unary_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                          cg_tensor **grads) {
    const cg_tensor *x = node->inputs[0];
    grads[0] = cg_empty_like(x);
    if (!grads[0]) return -1;
    return cg_tensor_backend(x)->unary_backward((cg_unary_op)node->params.ints[0],
                                                node->params.reals, x, out, g, grads[0]);
}

static const cg_op_def unary_ops[CG_UNARY_COUNT] = {
    [CG_UNARY_NEG] = {"neg", unary_backward},
    [CG_UNARY_EXP] = {"exp", unary_backward},
    [CG_UNARY_LOG] = {"log", unary_backward},
    [CG_UNARY_SQRT] = {"sqrt", unary_backward},
    [CG_UNARY_ABS] = {"abs", unary_backward},
    [CG_UNARY_CLAMP] = {"clamp", unary_backward},
    [CG_UNARY_SIGMOID] = {"sigmoid", unary_backward},
    [CG_UNARY_TANH] = {"tanh", unary_backward},
    [CG_UNARY_RELU] = {"relu", unary_backward},
    [CG_UNARY_LEAKY_RELU] = {"leaky_relu", unary_backward},
    [CG_UNARY_ELU] = {"elu", unary_backward},
    [CG_UNARY_GELU] = {"gelu", unary_backward},
    [CG_UNARY_SOFTPLUS] = {"softplus", unary_backward},
    [CG_UNARY_ADD_SCALAR] = {"add_scalar", unary_backward},
    [CG_UNARY_MUL_SCALAR] = {"mul_scalar", unary_backward},
    [CG_UNARY_POW_SCALAR] = {"pow_scalar", unary_backward},
};

static cg_tensor *unary(cg_unary_op op, const cg_tensor *x, double p0, double p1) {
    if (!x) return NULL;
    if (!cg_require_float(unary_ops[op].name, x)) return NULL;
    const double params[2] = {p0, p1};
    cg_tensor *out = cg_empty_like(x);
    if (!out || cg_tensor_backend(x)->unary(op, params, x, out) != 0) return cg_kernel_failed(out);
    if (cg_needs_grad((cg_tensor *const[]){(cg_tensor *)x}, 1)) {
        cg_node *node =
            cg_node_attach(out, &unary_ops[op], (cg_tensor *const[]){(cg_tensor *)x}, 1);
        if (!node) return cg_kernel_failed(out);
        node->params.ints[0] = op;
        node->params.reals[0] = p0;
        node->params.reals[1] = p1;
    }
    return out;
}

cg_tensor *cg_neg(const cg_tensor *x) { return unary(CG_UNARY_NEG, x, 0, 0); }
cg_tensor *cg_exp(const cg_tensor *x) { return unary(CG_UNARY_EXP, x, 0, 0); }
cg_tensor *cg_log(const cg_tensor *x) { return unary(CG_UNARY_LOG, x, 0, 0); }
cg_tensor *cg_sqrt(const cg_tensor *x) { return unary(CG_UNARY_SQRT, x, 0, 0); }
cg_tensor *cg_abs(const cg_tensor *x) { return unary(CG_UNARY_ABS, x, 0, 0); }
cg_tensor *cg_sigmoid(const cg_tensor *x) { return unary(CG_UNARY_SIGMOID, x, 0, 0); }
cg_tensor *cg_tanh(const cg_tensor *x) { return unary(CG_UNARY_TANH, x, 0, 0); }
cg_tensor *cg_relu(const cg_tensor *x) { return unary(CG_UNARY_RELU, x, 0, 0); }
cg_tensor *cg_gelu(const cg_tensor *x) { return unary(CG_UNARY_GELU, x, 0, 0); }
cg_tensor *cg_softplus(const cg_tensor *x) { return unary(CG_UNARY_SOFTPLUS, x, 0, 0); }
cg_tensor *cg_leaky_relu(const cg_tensor *x, double negative_slope) {
    return unary(CG_UNARY_LEAKY_RELU, x, negative_slope, 0);
}
cg_tensor *cg_elu(const cg_tensor *x, double alpha) { return unary(CG_UNARY_ELU, x, alpha, 0); }
cg_tensor *cg_add_scalar(const cg_tensor *a, double b) {
    return unary(CG_UNARY_ADD_SCALAR, a, b, 0);
}
cg_tensor *cg_mul_scalar(const cg_tensor *a, double b) {
    return unary(CG_UNARY_MUL_SCALAR, a, b, 0);
}
cg_tensor *cg_pow_scalar(const cg_tensor *a, double exponent) {
    return unary(CG_UNARY_POW_SCALAR, a, exponent, 0);
}

cg_tensor *cg_clamp(const cg_tensor *x, double min, double max) {
    if (x && min > max) {
        cg_error_set("clamp: min %g is greater than max %g", min, max);
        return NULL;
    }
    return unary(CG_UNARY_CLAMP, x, min, max);
}
