/* Reductions and the ops along one line: sum, max and min over any dims (accumulated in double,
 * as on the CPU), argmax and argmin, softmax and log-softmax with their gradient, and the sum of
 * squares that gradient clipping needs. A line op runs one thread per line with the line
 * arithmetic of ops/line_math.h, so it computes exactly what the CPU does. */
#include "backend/cuda/cuda_kernels.cuh"

extern "C" {
#include "ops/line_math.h"
}

constexpr int64_t WARP = 32, SMALL_REDUCTION = 64;

__device__ inline double start_value(cg_reduce_op op) {
    return op == CG_REDUCE_SUM ? 0.0 : (op == CG_REDUCE_MAX ? -INFINITY : INFINITY);
}

/* A NaN wins max and min, as on the CPU. */
__device__ inline double combine(cg_reduce_op op, double acc, double value) {
    if (op == CG_REDUCE_SUM) return acc + value;
    if (isnan(acc)) return acc;
    if (isnan(value)) return value;
    return op == CG_REDUCE_MAX ? (value > acc ? value : acc) : (value < acc ? value : acc);
}

__device__ inline double warp_combine(cg_reduce_op op, double value) {
    for (int offset = WARP / 2; offset > 0; offset /= 2)
        value = combine(op, value, __shfl_down_sync(0xffffffffu, value, offset));
    return value;
}

/* Combines the values of a block's threads (blockDim.x a multiple of 32, at most
 * CG_CUDA_THREADS); the result is valid in thread 0. Every thread of the block must call it. */
__device__ double block_combine(cg_reduce_op op, double value) {
    __shared__ double warp_results[CG_CUDA_THREADS / WARP];
    const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    __syncthreads(); /* the previous call's readers are done with warp_results */
    value = warp_combine(op, value);
    if (lane == 0) warp_results[warp] = value;
    __syncthreads();
    if (warp == 0) {
        const int warps = (int)(blockDim.x / WARP);
        value = warp_combine(op, lane < warps ? warp_results[lane] : start_value(op));
    }
    return value;
}

/* Each output reduced by one thread: for few elements per output. */
template <typename T>
__global__ void reduce_by_thread_kernel(cg_cuda_walk kept, cg_cuda_walk reduced, int64_t outputs,
                                        int64_t count, cg_reduce_op op, const T *x, T *out) {
    CG_CUDA_FOR_EACH(o, outputs) {
        int64_t at[2];
        cg_cuda_offsets<2>(kept, o, at);
        double acc = start_value(op);
        for (int64_t r = 0; r < count; r++) {
            int64_t within[1];
            cg_cuda_offsets<1>(reduced, r, within);
            acc = combine(op, acc, (double)x[at[0] + within[0]]);
        }
        out[at[1]] = cg_cuda_convert<T>(acc);
    }
}

/* Each output reduced by one block. */
template <typename T>
__global__ void reduce_by_block_kernel(cg_cuda_walk kept, cg_cuda_walk reduced, int64_t outputs,
                                       int64_t count, cg_reduce_op op, const T *x, T *out) {
    for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {
        int64_t at[2];
        cg_cuda_offsets<2>(kept, o, at);
        double acc = start_value(op);
        for (int64_t r = threadIdx.x; r < count; r += blockDim.x) {
            int64_t within[1];
            cg_cuda_offsets<1>(reduced, r, within);
            acc = combine(op, acc, (double)x[at[0] + within[0]]);
        }
        acc = block_combine(op, acc);
        if (threadIdx.x == 0) out[at[1]] = cg_cuda_convert<T>(acc);
    }
}

/* out has x's dims with size 1 in each reduced one: the kept dims walk x and out together, the
 * reduced dims walk x within one output. */
extern "C" int cg_cuda_reduce(cg_reduce_op op, const cg_tensor *x, cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const int64_t outputs = cg_numel(out);
    if (!device || outputs == 0) return device ? 0 : -1;
    int64_t kept_shape[CG_MAX_DIMS], reduced_shape[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        const bool reduces = out->shape[d] == 1;
        kept_shape[d] = reduces ? 1 : x->shape[d];
        reduced_shape[d] = reduces ? x->shape[d] : 1;
    }
    const int64_t *kept_strides[] = {x->strides, out->strides};
    const int64_t *reduced_strides[] = {x->strides};
    const cg_cuda_walk kept = cg_cuda_walk_over(x->ndim, kept_shape, 2, kept_strides);
    const cg_cuda_walk reduced = cg_cuda_walk_over(x->ndim, reduced_shape, 1, reduced_strides);
    const int64_t count = cg_shape_numel(x->ndim, reduced_shape);
    const int64_t block_threads =
        count >= CG_CUDA_THREADS ? CG_CUDA_THREADS : (count + WARP - 1) / WARP * WARP;
    const int64_t blocks = outputs < CG_CUDA_MAX_BLOCKS ? outputs : CG_CUDA_MAX_BLOCKS;
    cg_cuda_any_dispatch(x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        const T *xs = (const T *)cg_tensor_data(x);
        T *outs = (T *)cg_tensor_data(out);
        if (count < SMALL_REDUCTION)
            reduce_by_thread_kernel<<<cg_cuda_blocks(outputs), CG_CUDA_THREADS, 0,
                                      device->stream>>>(kept, reduced, outputs, count, op, xs,
                                                        outs);
        else
            reduce_by_block_kernel<<<(unsigned)blocks, (unsigned)block_threads, 0,
                                     device->stream>>>(kept, reduced, outputs, count, op, xs, outs);
    });
    return cg_cuda_launched("cuda reduce");
}

/* The walk over the first operand's positions with dim collapsed: one element per line. */
static cg_cuda_walk lines_along(int dim, int count, const cg_tensor *const *operands,
                                int64_t *lines) {
    const cg_tensor *x = operands[0];
    int64_t shape[CG_MAX_DIMS];
    const int64_t *strides[CG_LOOP_MAX_OPERANDS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = d == dim ? 1 : x->shape[d];
    for (int k = 0; k < count; k++)
        strides[k] = operands[k]->strides;
    *lines = cg_shape_numel(x->ndim, shape);
    return cg_cuda_walk_over(x->ndim, shape, count, strides);
}

__device__ inline int64_t arg_extremum(const float *l, int64_t s, int64_t n, bool is_max) {
    return cg_arg_extremum_line_f32(l, s, n, is_max);
}
__device__ inline int64_t arg_extremum(const double *l, int64_t s, int64_t n, bool is_max) {
    return cg_arg_extremum_line_f64(l, s, n, is_max);
}
__device__ inline int64_t arg_extremum(const int32_t *l, int64_t s, int64_t n, bool is_max) {
    return cg_arg_extremum_line_i32(l, s, n, is_max);
}
__device__ inline int64_t arg_extremum(const int64_t *l, int64_t s, int64_t n, bool is_max) {
    return cg_arg_extremum_line_i64(l, s, n, is_max);
}
__device__ inline int64_t arg_extremum(const uint8_t *l, int64_t s, int64_t n, bool is_max) {
    return cg_arg_extremum_line_u8(l, s, n, is_max);
}

template <typename T>
__global__ void arg_reduce_kernel(cg_cuda_walk walk, int64_t lines, int64_t step, int64_t length,
                                  bool is_max, const T *x, int64_t *out) {
    CG_CUDA_FOR_EACH(l, lines) {
        int64_t at[2];
        cg_cuda_offsets<2>(walk, l, at);
        out[at[1]] = arg_extremum(x + at[0], step, length, is_max);
    }
}

extern "C" int cg_cuda_arg_reduce(const cg_tensor *x, int dim, bool is_max, cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const cg_tensor *operands[] = {x, out};
    int64_t lines;
    const cg_cuda_walk walk = lines_along(dim, 2, operands, &lines);
    if (!device || lines == 0) return device ? 0 : -1;
    cg_cuda_any_dispatch(x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        arg_reduce_kernel<<<cg_cuda_blocks(lines), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, lines, x->strides[dim], x->shape[dim], is_max, (const T *)cg_tensor_data(x),
            (int64_t *)cg_tensor_data(out));
    });
    return cg_cuda_launched("cuda argmax");
}

__device__ inline void softmax_line(const float *in, int64_t in_step, float *out, int64_t out_step,
                                    int64_t length, bool take_log) {
    cg_softmax_line_f32(in, in_step, out, out_step, length, take_log);
}
__device__ inline void softmax_line(const double *in, int64_t in_step, double *out,
                                    int64_t out_step, int64_t length, bool take_log) {
    cg_softmax_line_f64(in, in_step, out, out_step, length, take_log);
}
__device__ inline void softmax_backward_line(const float *y, int64_t y_step, const float *g,
                                             int64_t g_step, float *dx, int64_t dx_step,
                                             int64_t length, bool take_log) {
    cg_softmax_backward_line_f32(y, y_step, g, g_step, dx, dx_step, length, take_log);
}
__device__ inline void softmax_backward_line(const double *y, int64_t y_step, const double *g,
                                             int64_t g_step, double *dx, int64_t dx_step,
                                             int64_t length, bool take_log) {
    cg_softmax_backward_line_f64(y, y_step, g, g_step, dx, dx_step, length, take_log);
}

template <typename T>
__global__ void softmax_kernel(cg_cuda_walk walk, int64_t lines, int64_t length, int64_t x_step,
                               int64_t out_step, bool take_log, const T *x, T *out) {
    CG_CUDA_FOR_EACH(l, lines) {
        int64_t at[2];
        cg_cuda_offsets<2>(walk, l, at);
        softmax_line(x + at[0], x_step, out + at[1], out_step, length, take_log);
    }
}

extern "C" int cg_cuda_softmax(const cg_tensor *x, int dim, bool take_log, cg_tensor *out) {
    cg_cuda_device *device = cg_cuda_device_of(out);
    const cg_tensor *operands[] = {x, out};
    int64_t lines;
    const cg_cuda_walk walk = lines_along(dim, 2, operands, &lines);
    if (!device || lines == 0) return device ? 0 : -1;
    cg_cuda_float_dispatch(x->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        softmax_kernel<<<cg_cuda_blocks(lines), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, lines, x->shape[dim], x->strides[dim], out->strides[dim], take_log,
            (const T *)cg_tensor_data(x), (T *)cg_tensor_data(out));
    });
    return cg_cuda_launched("cuda softmax");
}

template <typename T>
__global__ void softmax_backward_kernel(cg_cuda_walk walk, int64_t lines, int64_t length,
                                        int64_t y_step, int64_t g_step, int64_t dx_step,
                                        bool take_log, const T *y, const T *g, T *dx) {
    CG_CUDA_FOR_EACH(l, lines) {
        int64_t at[3];
        cg_cuda_offsets<3>(walk, l, at);
        softmax_backward_line(y + at[0], y_step, g + at[1], g_step, dx + at[2], dx_step, length,
                              take_log);
    }
}

extern "C" int cg_cuda_softmax_backward(const cg_tensor *y, const cg_tensor *grad_out, int dim,
                                        bool take_log, cg_tensor *grad_x) {
    cg_cuda_device *device = cg_cuda_device_of(grad_x);
    const cg_tensor *operands[] = {y, grad_out, grad_x};
    int64_t lines;
    const cg_cuda_walk walk = lines_along(dim, 3, operands, &lines);
    if (!device || lines == 0) return device ? 0 : -1;
    cg_cuda_float_dispatch(y->dtype, [&](auto type) {
        using T = CG_CUDA_TYPE_OF(type);
        softmax_backward_kernel<<<cg_cuda_blocks(lines), CG_CUDA_THREADS, 0, device->stream>>>(
            walk, lines, y->shape[dim], y->strides[dim], grad_out->strides[dim],
            grad_x->strides[dim], take_log, (const T *)cg_tensor_data(y),
            (const T *)cg_tensor_data(grad_out), (T *)cg_tensor_data(grad_x));
    });
    return cg_cuda_launched("cuda softmax backward");
}

template <typename T>
__global__ void sum_of_squares_kernel(cg_cuda_walk walk, int64_t n, const T *x, double *total) {
    double acc = 0;
    CG_CUDA_FOR_EACH(i, n) {
        int64_t at[1];
        cg_cuda_offsets<1>(walk, i, at);
        const double value = (double)x[at[0]];
        acc += value * value;
    }
    acc = block_combine(CG_REDUCE_SUM, acc);
    if (threadIdx.x == 0) atomicAdd(total, acc);
}

extern "C" int cg_cuda_sum_of_squares(const cg_tensor *x, double *result) {
    cg_cuda_device *device = cg_cuda_device_of(x);
    const int64_t n = cg_numel(x);
    *result = 0;
    if (!device || n == 0) return device ? 0 : -1;
    double *total = (double *)cg_cuda_alloc(device, sizeof(double));
    if (!total) return -1;
    const cg_tensor *operands[] = {x};
    const cg_cuda_walk walk = cg_cuda_walk_tensors(1, operands);
    int status = cg_cuda_ok(cudaMemsetAsync(total, 0, sizeof(double), device->stream),
                            "cuda sum of squares: zeroing")
                     ? 0
                     : -1;
    if (status == 0) {
        cg_cuda_float_dispatch(x->dtype, [&](auto type) {
            using T = CG_CUDA_TYPE_OF(type);
            sum_of_squares_kernel<<<cg_cuda_blocks(n), CG_CUDA_THREADS, 0, device->stream>>>(
                walk, n, (const T *)cg_tensor_data(x), total);
        });
        status = cg_cuda_launched("cuda sum of squares");
    }
    if (status == 0 && !cg_cuda_ok(cudaMemcpyAsync(result, total, sizeof(double),
                                                   cudaMemcpyDeviceToHost, device->stream),
                                   "cuda sum of squares: reading the result"))
        status = -1;
    if (status == 0) status = cg_cuda_synchronize(device);
    cg_cuda_free(device, total, sizeof(double));
    return status;
}
