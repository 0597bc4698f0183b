/* Activations fused into the op that computes their input (cg_linear, cg_conv2d): the backend's
 * bias_activation kernel applies them to the op's fresh output, and the op's backward rule
 * differentiates them from that output, so the pre-activation tensor is never made. */
#ifndef CG_OPS_EPILOGUE_H
#define CG_OPS_EPILOGUE_H

#include "autograd/node.h"
#include "backend/backend.h"
#include "core/tensor.h"

/* PyTorch's and Keras's default negative slope, used by CG_ACTIVATION_LEAKY_RELU. */
#define CG_LEAKY_RELU_SLOPE 0.01

/* An activation as the unary op of an epilogue. */
typedef struct {
    cg_unary_op op; /* CG_UNARY_IDENTITY for none, or one whose derivative follows from y */
    double params[2];
} cg_epilogue;

/* The epilogue of activation; false (no error) for those whose derivative needs their input
 * (softmax, gelu), which the op applies as an op of its own after the epilogue of none. */
bool cg_epilogue_of(cg_activation activation, cg_epilogue *epilogue);

/* out = epilogue(out + bias) in place over out (contiguous, rows x channels x inner), bias one
 * value per channel or NULL; nothing to do, and 0, for none without a bias. 0 or -1. */
int cg_epilogue_apply(const cg_epilogue *epilogue, cg_tensor *out, const cg_tensor *bias,
                      int64_t channels, int64_t inner);

/* Records the epilogue in node: params.ints[slot] and params.reals[0..1]. */
void cg_epilogue_save(cg_node *node, int slot, const cg_epilogue *epilogue);

/* The gradient reaching the epilogue's input, grad_out * op'(out), from the node that saved it
 * at slot and its output; grad_out itself (a new reference) for none. NULL on error. */
cg_tensor *cg_epilogue_gradient(const cg_node *node, int slot, const cg_tensor *out,
                                const cg_tensor *grad_out);

#endif
