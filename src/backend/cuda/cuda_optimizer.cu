/* The fused optimizer step: one pass over a parameter, its gradient and its state, with the
 * element arithmetic of ops/optimizer_math.h that the CPU backend runs too. */
#include "backend/cuda/cuda_kernels.cuh"

extern "C" {
#include "ops/optimizer_math.h"
}

template <typename T, typename S, T (*ELEMENT)(const S *, T, T, T *, T *)>
__global__ void update_kernel(cg_cuda_walk walk, int64_t n, S scalars, T *param, const T *grad,
                              T *a, T *b) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[4];
        cg_cuda_offsets<4>(walk, i, at);
        param[at[0]] = ELEMENT(&scalars, param[at[0]], grad[at[1]], &a[at[2]], &b[at[3]]);
    }
}

template <typename T, typename S, T (*ELEMENT)(const S *, T, T, T *, T *)>
static void launch_update(cg_cuda_device *device, const cg_cuda_walk &walk, int64_t n,
                          const S &scalars, cg_tensor *param, const cg_tensor *grad, cg_tensor *a,
                          cg_tensor *b) {
    update_kernel<T, S, ELEMENT><<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
        walk, n, scalars, (T *)cg_tensor_data(param), (const T *)cg_tensor_data(grad),
        (T *)cg_tensor_data(a), (T *)cg_tensor_data(b));
}

/* The rule's kernel for element type T, whose math carries the suffix of T. */
#define LAUNCH_RULE(T)                                                                             \
    do {                                                                                           \
        const cg_update_scalars_##T scalars = cg_update_scalars_##T##_from(update);                \
        if (update->rule == CG_UPDATE_SGD)                                                         \
            launch_update<T, cg_update_scalars_##T, cg_sgd_element_##T>(device, walk, n, scalars,  \
                                                                        param, grad, a, b);        \
        else if (update->rule == CG_UPDATE_ADAM)                                                   \
            launch_update<T, cg_update_scalars_##T, cg_adam_element_##T>(device, walk, n, scalars, \
                                                                         param, grad, a, b);       \
        else                                                                                       \
            launch_update<T, cg_update_scalars_##T, cg_rmsprop_element_##T>(                       \
                device, walk, n, scalars, param, grad, a, b);                                      \
    } while (0)

extern "C" int cg_cuda_optimizer_update(const cg_optimizer_update *update, cg_tensor *param,
                                        const cg_tensor *grad, cg_tensor *const *state) {
    cg_cuda_device *device = cg_cuda_device_of(param);
    const int64_t n = cg_numel(param);
    if (!device || n == 0) return device ? 0 : -1;
    /* A rule without some state gets param in its place; the rule never touches that slot. */
    cg_tensor *a = state[0] ? state[0] : param, *b = state[1] ? state[1] : param;
    const cg_tensor *operands[] = {param, grad, a, b};
    const cg_cuda_walk walk = cg_cuda_walk_tensors(4, operands);
    if (param->dtype == CG_FLOAT32)
        LAUNCH_RULE(float);
    else
        LAUNCH_RULE(double);
    return cg_cuda_launched("cuda optimizer update");
}
