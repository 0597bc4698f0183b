/* The CUDA backend's table. Its entries find their GPU from their tensors; alloc, free and the
 * host transfers act on the GPU that cg_backend_get made current. */
#include "backend/cuda/cuda_backend.h"

#include "backend/cuda/cuda_internal.h"

static void *cuda_alloc(size_t nbytes) {
    cg_cuda_device *device = cg_cuda_current();
    return device ? cg_cuda_alloc(device, nbytes) : NULL;
}

static void cuda_free(void *data, size_t nbytes) {
    cg_cuda_device *device = cg_cuda_current();
    if (device) cg_cuda_free(device, data, nbytes);
}

static const cg_backend cuda_backend = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .free = cuda_free,
    .copy_from_host = cg_cuda_copy_from_host,
    .copy_to_host = cg_cuda_copy_to_host,
    .prefetch_from_host = cg_cuda_prefetch_from_host,
    .await_prefetches = cg_cuda_await_prefetches,
    .copy = cg_cuda_copy,
    .fill = cg_cuda_fill,
    .iota = cg_cuda_iota,
    .random = cg_cuda_random,
    .unary = cg_cuda_unary,
    .unary_backward = cg_cuda_unary_backward,
    .bias_activation = cg_cuda_bias_activation,
    .binary = cg_cuda_binary,
    .where = cg_cuda_where,
    .reduce = cg_cuda_reduce,
    .arg_reduce = cg_cuda_arg_reduce,
    .matmul = cg_cuda_matmul,
    .softmax = cg_cuda_softmax,
    .softmax_backward = cg_cuda_softmax_backward,
    .gather = cg_cuda_gather,
    .scatter_add = cg_cuda_scatter_add,
    .sum_of_squares = cg_cuda_sum_of_squares,
    .optimizer_update = cg_cuda_optimizer_update,
    .conv2d_forward = cg_cuda_conv2d_forward,
    .conv2d_backward_input = cg_cuda_conv2d_backward_input,
    .conv2d_backward_weight = cg_cuda_conv2d_backward_weight,
    .max_pool2d = cg_cuda_max_pool2d,
    .max_pool2d_backward = cg_cuda_max_pool2d_backward,
};

const cg_backend *cg_cuda_backend_get(int index) {
    return cg_cuda_select(index) ? &cuda_backend : NULL;
}
