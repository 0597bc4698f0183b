/* The epilogue of a product on a GPU: the bias added and the activation applied in one kernel
 * over the output the product has just written, in place. The arithmetic is ops/scalar_math.h's,
 * as on the CPU. */
#include "backend/cuda/cuda_kernels.cuh"

extern "C" {
#include "ops/scalar_math.h"
}

__device__ inline float epilogue_forward(cg_unary_op op, float x, float p0, float p1) {
    return cg_unary_forward_f32(op, x, p0, p1);
}
__device__ inline double epilogue_forward(cg_unary_op op, double x, double p0, double p1) {
    return cg_unary_forward_f64(op, x, p0, p1);
}

/* Element i of out (rows x channels x inner) belongs to channel (i / inner) % channels. */
template <typename T>
__global__ void bias_activation_kernel(int64_t n, T *out, const T *bias, int64_t channels,
                                       int64_t inner, cg_unary_op op, T p0, T p1) {
    CG_CUDA_FOR_EACH(i, n) {
        const T value = bias ? out[i] + bias[(i / inner) % channels] : out[i];
        out[i] = epilogue_forward(op, value, p0, p1);
    }
}

extern "C" int cg_cuda_bias_activation(cg_tensor *out, const cg_tensor *bias, int64_t channels,
                                       int64_t inner, cg_unary_op op, const double *params) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(out);
    if (!device || n == 0) return device ? 0 : -1;
    cg_cuda_float_dispatch(out->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        bias_activation_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
            n, (T *)cg_tensor_data(out), bias ? (const T *)cg_tensor_data(bias) : (const T *)0,
            channels, inner, op, (T)params[0], (T)params[1]);
    });
    return cg_cuda_launched("cuda bias_activation");
}
