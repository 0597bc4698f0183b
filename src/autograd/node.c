#include "autograd/node.h"

#include <string.h>

#include "autograd/anomaly.h"
#include "core/alloc.h"
#include "core/error.h"
#include "ops/ops.h"

bool cg_needs_grad(cg_tensor *const *inputs, int count) {
    if (!cg_is_grad_enabled()) return false;
    for (int i = 0; i < count; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

cg_node *cg_node_attach(cg_tensor *output, const cg_op_def *op, cg_tensor *const *inputs,
                        int count) {
    /* Every op that records a graph passes here with its finished output. */
    if (!cg_anomaly_check_output(output, op, inputs, count)) return NULL;
    cg_node *node = cg_alloc_zeroed(sizeof *node);
    if (!node) return NULL;
    node->op = op;
    node->input_count = count;
    for (int i = 0; i < count; i++)
        node->inputs[i] = cg_tensor_incref(inputs[i]);
    output->grad_fn = node;
    output->requires_grad = true;
    return node;
}

void cg_node_save(cg_node *node, cg_tensor *t) {
    node->saved[node->saved_count++] = cg_tensor_incref(t);
}

void cg_node_free(cg_node *node) {
    if (!node) return;
    for (int i = 0; i < node->input_count; i++)
        cg_tensor_decref(node->inputs[i]);
    for (int i = 0; i < node->saved_count; i++)
        cg_tensor_decref(node->saved[i]);
    cg_free(node, sizeof *node);
}

cg_tensor *cg_sum_to_shape(const cg_tensor *grad, int ndim, const int64_t *shape) {
    if (!grad) return NULL;
    const int lead = grad->ndim - ndim;
    cg_dims dims = {.count = 0};
    for (int d = 0; d < grad->ndim; d++)
        if (d < lead || (shape[d - lead] == 1 && grad->shape[d] != 1)) dims.dims[dims.count++] = d;
    if (dims.count == 0) return cg_alias(grad);
    cg_shape target = {.ndim = ndim};
    memcpy(target.dims, shape, sizeof(int64_t) * (size_t)ndim);
    cg_tensor *summed = cg_sum(grad, dims, true);
    cg_tensor *reshaped = cg_reshape(summed, target);
    cg_release(summed);
    return reshaped;
}
