/* Activations fused into the op that computes their input: the mapping to unary ops, the
 * forward kernel call, and the gradient taken from the op's output. */
#include "ops/epilogue.h"

#include "ops/ops.h"

bool cg_epilogue_of(cg_activation activation, cg_epilogue *epilogue) {
    *epilogue = (cg_epilogue){.op = CG_UNARY_IDENTITY};
    switch (activation) {
    case CG_ACTIVATION_NONE: return true;
    case CG_ACTIVATION_RELU: epilogue->op = CG_UNARY_RELU; return true;
    case CG_ACTIVATION_SIGMOID: epilogue->op = CG_UNARY_SIGMOID; return true;
    case CG_ACTIVATION_TANH: epilogue->op = CG_UNARY_TANH; return true;
    /* A positive slope keeps the sign of x, so y > 0 tells where x > 0. */
    case CG_ACTIVATION_LEAKY_RELU:
        epilogue->op = CG_UNARY_LEAKY_RELU;
        epilogue->params[0] = CG_LEAKY_RELU_SLOPE;
        return true;
    default: return false;
    }
}

int cg_epilogue_apply(const cg_epilogue *epilogue, cg_tensor *out, const cg_tensor *bias,
                      int64_t channels, int64_t inner) {
    if (!bias && epilogue->op == CG_UNARY_IDENTITY) return 0;
    return cg_tensor_backend(out)->bias_activation(out, bias, channels, inner, epilogue->op,
                                                   epilogue->params);
}

void cg_epilogue_save(cg_node *node, int slot, const cg_epilogue *epilogue) {
    node->params.ints[slot] = epilogue->op;
    node->params.reals[0] = epilogue->params[0];
    node->params.reals[1] = epilogue->params[1];
}

/* Every fused op's derivative reads its input only through the sign of x, which y shares (relu,
 * leaky_relu), or reads y alone (sigmoid, tanh), so the unary kernel is given y for x. A
 * grad_out that only the engine holds is overwritten: the largest layer's gradient is then made
 * once, not twice, at the point of the backward pass where memory peaks. */
cg_tensor *cg_epilogue_gradient(const cg_node *node, int slot, const cg_tensor *out,
                                const cg_tensor *grad_out) {
    const cg_unary_op op = (cg_unary_op)node->params.ints[slot];
    if (op == CG_UNARY_IDENTITY) return cg_alias(grad_out);
    const bool in_place = cg_gradient_unshared(grad_out);
    cg_tensor *grad = in_place ? (cg_tensor *)grad_out : cg_empty_like(out);
    if (!grad || cg_tensor_backend(out)->unary_backward(op, node->params.reals, out, out, grad_out,
                                                        grad) != 0)
        return NULL;
    return in_place ? cg_alias(grad) : grad;
}
