/* gather and its adjoint scatter_add. Both walk the index's shape; the indexed operand is walked
 * with a zero stride along dim and the index value supplies the offset there, as on the CPU. An
 * index out of range cannot fail the call without waiting for the GPU, so the kernel skips it and
 * records it, and the next synchronisation reports it (cg_cuda_synchronize). */
#include "backend/cuda/cuda_kernels.cuh"

/* Plain stores suffice: every faulting thread writes whole words, and any of the bad indices
 * makes a true report. */
__device__ inline void record_fault(unsigned long long *fault, int64_t index, int64_t size) {
    fault[1] = (unsigned long long)index;
    fault[2] = (unsigned long long)size;
    __threadfence_system();
    fault[0] = 1;
}

__device__ inline void atomic_add(float *target, float value) { atomicAdd(target, value); }
__device__ inline void atomic_add(double *target, double value) { atomicAdd(target, value); }
__device__ inline void atomic_add(int32_t *target, int32_t value) { atomicAdd(target, value); }
/* Two's complement addition is the same on unsigned words. */
__device__ inline void atomic_add(int64_t *target, int64_t value) {
    atomicAdd((unsigned long long *)target, (unsigned long long)value);
}
/* A byte is added through its aligned 32-bit word (blocks are at least 256-byte aligned). */
__device__ inline void atomic_add(uint8_t *target, uint8_t value) {
    unsigned int *word = (unsigned int *)((uintptr_t)target & ~(uintptr_t)3);
    const unsigned int shift = (unsigned int)((uintptr_t)target & 3) * 8;
    unsigned int seen = *word, expected;
    do {
        expected = seen;
        const unsigned int sum = ((expected >> shift) + value) & 0xffu;
        seen = atomicCAS(word, expected, (expected & ~(0xffu << shift)) | (sum << shift));
    } while (seen != expected);
}

template <typename T, typename I>
__global__ void gather_kernel(cg_cuda_walk walk, int64_t n, int64_t size, int64_t step,
                              const I *index, const T *x, T *out, unsigned long long *fault) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[3];
        cg_cuda_offsets<3>(walk, i, at);
        const int64_t k = (int64_t)index[at[0]];
        if (k < 0 || k >= size) {
            record_fault(fault, k, size);
            out[at[1]] = 0;
        } else {
            out[at[1]] = x[at[2] + k * step];
        }
    }
}

template <typename T, typename I>
__global__ void scatter_add_kernel(cg_cuda_walk walk, int64_t n, int64_t size, int64_t step,
                                   const I *index, const T *src, T *target,
                                   unsigned long long *fault) {
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[3];
        cg_cuda_offsets<3>(walk, i, at);
        const int64_t k = (int64_t)index[at[0]];
        if (k < 0 || k >= size)
            record_fault(fault, k, size);
        else
            atomic_add(&target[at[2] + k * step], src[at[1]]);
    }
}

/* The walk of index, the dense operand (of the index's shape) and the indexed one. */
static cg_cuda_walk index_walk(const cg_tensor *index, const cg_tensor *dense,
                               const cg_tensor *indexed, int dim) {
    int64_t indexed_strides[CG_MAX_DIMS];
    for (int d = 0; d < indexed->ndim; d++)
        indexed_strides[d] = d == dim ? 0 : indexed->strides[d];
    const int64_t *strides[] = {index->strides, dense->strides, indexed_strides};
    return cg_cuda_walk_over(index->ndim, index->shape, 3, strides);
}

extern "C" int cg_cuda_gather(const cg_tensor *x, int dim, const cg_tensor *index, cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t n = cg_numel(index);
    if (!device || n == 0) return device ? 0 : -1;
    const cg_cuda_walk walk = index_walk(index, out, x, dim);
    cg_cuda_any_dispatch(x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        const T *xs = (const T *)cg_tensor_data(x);
        T *outs = (T *)cg_tensor_data(out);
        const unsigned blocks = cg_cuda_blocks(n);
        if (index->dtype == CG_INT32)
            gather_kernel<<<blocks, CG_CUDA_THREADS, 0, device->stream>>>(
                walk, n, x->shape[dim], x->strides[dim], (const int32_t *)cg_tensor_data(index), xs,
                outs, device->index_fault_on_device);
        else
            gather_kernel<<<blocks, CG_CUDA_THREADS, 0, device->stream>>>(
                walk, n, x->shape[dim], x->strides[dim], (const int64_t *)cg_tensor_data(index), xs,
                outs, device->index_fault_on_device);
    });
    return cg_cuda_launched("cuda gather");
}

extern "C" int cg_cuda_scatter_add(cg_tensor *target, int dim, const cg_tensor *index,
                                   const cg_tensor *src) {
    cg_cuda_device *device = cg_cuda_device_of(target);
    const int64_t n = cg_numel(index);
    if (!device || n == 0) return device ? 0 : -1;
    const cg_cuda_walk walk = index_walk(index, src, target, dim);
    cg_cuda_any_dispatch(target->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        const T *srcs = (const T *)cg_tensor_data(src);
        T *targets = (T *)cg_tensor_data(target);
        const unsigned blocks = cg_cuda_blocks(n);
        if (index->dtype == CG_INT32)
            scatter_add_kernel<<<blocks, CG_CUDA_THREADS, 0, device->stream>>>(
                walk, n, target->shape[dim], target->strides[dim],
                (const int32_t *)cg_tensor_data(index), srcs, targets,
                device->index_fault_on_device);
        else
            scatter_add_kernel<<<blocks, CG_CUDA_THREADS, 0, device->stream>>>(
                walk, n, target->shape[dim], target->strides[dim],
                (const int64_t *)cg_tensor_data(index), srcs, targets,
                device->index_fault_on_device);
    });
    return cg_cuda_launched("cuda scatter_add");
}
