/* Copies between devices. The copy is an op: its backward rule copies the gradient back to the
 * source device, so a graph may cross devices. */
#include "core/alloc.h"
#include "core/device.h"
#include "ops/ops.h"

/* The elements of dense src into dense dst of the same size on another device; a copy between
 * two GPUs goes through host memory. */
static int transfer(cg_tensor *dst, const cg_tensor *src) {
    const size_t nbytes = (size_t)cg_numel(src) * cg_dtype_size(src->dtype);
    const size_t src_offset = (size_t)src->offset * cg_dtype_size(src->dtype);
    if (src->storage->device.type == CG_DEVICE_CPU)
        return cg_storage_write(dst->storage, 0, cg_tensor_data(src), nbytes);
    if (dst->storage->device.type == CG_DEVICE_CPU)
        return cg_storage_read(src->storage, src_offset, cg_tensor_data(dst), nbytes);
    void *bounce = cg_alloc(nbytes);
    const int status = bounce && cg_storage_read(src->storage, src_offset, bounce, nbytes) == 0 &&
                               cg_storage_write(dst->storage, 0, bounce, nbytes) == 0
                           ? 0
                           : -1;
    cg_free(bounce, nbytes);
    return status;
}

static int to_device_backward(const cg_node *node, const cg_tensor *out, const cg_tensor *g,
                              cg_tensor **grads) {
    (void)out;
    const cg_device source = {(cg_device_type)node->params.ints[0], (int)node->params.ints[1]};
    grads[0] = cg_to_device(g, source);
    return grads[0] ? 0 : -1;
}

static const cg_op_def to_device_op = {"to_device", to_device_backward};

cg_tensor *cg_to_device(const cg_tensor *x, cg_device device) {
    if (!x || !cg_backend_get(device)) return NULL;
    if (cg_device_equal(x->storage->device, device)) return cg_alias(x);
    cg_tensor *inputs[1] = {(cg_tensor *)x};
    const bool record = cg_needs_grad(inputs, 1);
    const bool previous = cg_set_grad_enabled(false);
    cg_scope_begin();
    cg_tensor *dense = cg_contiguous(x);
    cg_tensor *out = dense ? cg_tensor_new(x->ndim, x->shape, x->dtype, device) : NULL;
    if (out && transfer(out, dense) != 0) out = NULL;
    out = cg_keep(out);
    cg_scope_end();
    cg_set_grad_enabled(previous);
    if (out && record) {
        cg_node *node = cg_node_attach(out, &to_device_op, inputs, 1);
        if (!node) return cg_kernel_failed(out);
        node->params.ints[0] = x->storage->device.type;
        node->params.ints[1] = x->storage->device.index;
    }
    return out;
}
