/* What the .cu files share: the walk over strided operands, dtype dispatch, value conversion and
 * launch sizes. Kernels get their operands' geometry by value and run grid-stride loops, each
 * element's arithmetic coming from the headers of src/ops that the CPU backend uses too. */
#ifndef CG_BACKEND_CUDA_KERNELS_CUH
#define CG_BACKEND_CUDA_KERNELS_CUH

#include <math.h>
#include <stdint.h>
#include <type_traits>

#include "backend/cuda/cuda_internal.h"

extern "C" {
#include "backend/cpu/strided_loop.h"
}

constexpr int64_t CG_CUDA_THREADS = 256, CG_CUDA_MAX_BLOCKS = 1 << 16;

/* Up to four operands walked over one shape, with dims merged where every operand allows it
 * (the CPU backend's strided loop does the merging), so a dense walk has one dim. */
struct cg_cuda_walk {
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_LOOP_MAX_OPERANDS][CG_MAX_DIMS];
};

static inline cg_cuda_walk cg_cuda_walk_over(int ndim, const int64_t *shape, int count,
                                             const int64_t *const *strides) {
    cg_strided_loop loop;
    cg_strided_loop_init(&loop, ndim, shape, count, strides);
    cg_cuda_walk walk = {};
    walk.ndim = loop.ndim;
    for (int d = 0; d < loop.ndim; d++) {
        walk.shape[d] = loop.shape[d];
        for (int k = 0; k < count; k++)
            walk.strides[k][d] = loop.strides[k][d];
    }
    return walk;
}

/* The walk of count tensors of the first one's shape. */
static inline cg_cuda_walk cg_cuda_walk_tensors(int count, const cg_tensor *const *tensors) {
    const int64_t *strides[CG_LOOP_MAX_OPERANDS];
    for (int k = 0; k < count; k++)
        strides[k] = tensors[k]->strides;
    return cg_cuda_walk_over(tensors[0]->ndim, tensors[0]->shape, count, strides);
}

/* The offsets in the first N operands of element i, counted in row-major order of the walk. */
template <int N>
__device__ inline void cg_cuda_offsets(const cg_cuda_walk &walk, int64_t i, int64_t *offsets) {
    for (int k = 0; k < N; k++)
        offsets[k] = 0;
    for (int d = walk.ndim - 1; d > 0; d--) {
        const int64_t position = i % walk.shape[d];
        i /= walk.shape[d];
        for (int k = 0; k < N; k++)
            offsets[k] += position * walk.strides[k][d];
    }
    for (int k = 0; k < N; k++)
        offsets[k] += i * walk.strides[k][0];
}

/* Every index of [0, n) once, spread over the grid. */
#define CG_CUDA_FOR_EACH(i, n)                                                                     \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)gridDim.x * blockDim.x)

/* Blocks of CG_CUDA_THREADS for n elements (n > 0); larger grids loop. */
static inline unsigned cg_cuda_blocks(int64_t n) {
    const int64_t blocks = (n + CG_CUDA_THREADS - 1) / CG_CUDA_THREADS;
    return (unsigned)(blocks < CG_CUDA_MAX_BLOCKS ? blocks : CG_CUDA_MAX_BLOCKS);
}

/* value in the element type T: integers go through int64, so that an out-of-range value wraps as
 * on the CPU (CG_CPU_CONVERT). */
template <typename T, typename V> __host__ __device__ inline T cg_cuda_convert(V value) {
    if constexpr (std::is_floating_point<T>::value)
        return (T)value;
    else
        return (T)(int64_t)value;
}

/* Calls f(cg_cuda_type<T>()) with the C type T of dtype: any dtype, or float32 and float64. */
template <typename T> struct cg_cuda_type { using type = T; };

template <typename F> static void cg_cuda_any_dispatch(cg_dtype dtype, F &&f) {
    switch (dtype) {
    case CG_FLOAT32: f(cg_cuda_type<float>()); break;
    case CG_FLOAT64: f(cg_cuda_type<double>()); break;
    case CG_INT32: f(cg_cuda_type<int32_t>()); break;
    case CG_UINT8: f(cg_cuda_type<uint8_t>()); break;
    default: f(cg_cuda_type<int64_t>()); break;
    }
}

template <typename F> static void cg_cuda_float_dispatch(cg_dtype dtype, F &&f) {
    if (dtype == CG_FLOAT32)
        f(cg_cuda_type<float>());
    else
        f(cg_cuda_type<double>());
}

#define CG_CUDA_TYPE_OF(tag) typename decltype(tag)::type

#endif
