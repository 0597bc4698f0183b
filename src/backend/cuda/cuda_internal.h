/* The CUDA backend's shared host-side pieces: one context per GPU (streams, cuBLAS handle, block
 * cache, staging buffers), the conversion of CUDA and cuBLAS statuses into cgrad errors, the
 * caching allocator, the matrix product, and the kernel entry points of the .cu files. */
#ifndef CG_BACKEND_CUDA_INTERNAL_H
#define CG_BACKEND_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "backend/backend.h"

enum {
    CG_CUDA_MAX_DEVICES = 16,
    /* Blocks of at most 512 bytes share the first class; above, eight classes per power of two
     * waste at most 12.5%. */
    CG_CUDA_BLOCK_CLASSES = 1 + 8 * 40,
    CG_CUDA_STAGING_BUFFERS = 2,
    CG_CUDA_STAGING_BYTES = 4 << 20,
};

/* The free blocks of one size class. */
typedef struct {
    void **blocks;
    int count, capacity;
} cg_cuda_free_list;

/* Pinned host memory that uploads pass through, reused once its last copy is done. */
typedef struct {
    void *data;
    cudaEvent_t released;
    bool in_use;
} cg_cuda_staging_buffer;

typedef struct {
    int index;
    /* Every kernel, copy and free is ordered on stream, so a freed block can serve the next
     * allocation at once: whatever uses it next is queued after whatever used it before. */
    cudaStream_t stream;
    /* Prefetched uploads, which overlap the kernels; see cg_cuda_prefetch_from_host. */
    cudaStream_t copy_stream;
    cudaEvent_t kernels_queued, prefetch_done;
    cublasHandle_t cublas;
    pthread_mutex_t cublas_lock;
    pthread_mutex_t cache_lock;
    cg_cuda_free_list free_lists[CG_CUDA_BLOCK_CLASSES];
    cg_memory_stats stats;
    pthread_mutex_t staging_lock;
    cg_cuda_staging_buffer staging[CG_CUDA_STAGING_BUFFERS];
    int next_staging;
    /* Mapped host memory where a kernel that meets indices out of range records one of them: a
     * flag, the index and the size of the dimension. Checked at each synchronisation; kernels
     * write it through its device address. */
    unsigned long long *index_fault, *index_fault_on_device;
} cg_cuda_device;

/* ----- contexts and errors (cuda_context.c) ----- */

/* GPU index, made current on the calling thread, its context set up at first use; NULL with an
 * error when there is no such GPU. */
cg_cuda_device *cg_cuda_select(int index);
/* The GPU of tensor t, made current. */
cg_cuda_device *cg_cuda_device_of(const cg_tensor *t);
/* The calling thread's current GPU, for the table's entries that take no tensor. */
cg_cuda_device *cg_cuda_current(void);
/* True for cudaSuccess; otherwise sets an error "what: <CUDA's message> (<its name>)". */
bool cg_cuda_ok(cudaError_t status, const char *what);
/* True for CUBLAS_STATUS_SUCCESS; otherwise sets an error with cuBLAS's status name. */
bool cg_cublas_ok(cublasStatus_t status, const char *what);
/* 0 when the kernel just launched started; -1 with CUDA's error naming the kernel. */
int cg_cuda_launched(const char *kernel);
/* Waits for everything queued on device's stream; -1 with an error when a kernel failed or met
 * an index out of range. */
int cg_cuda_synchronize(cg_cuda_device *device);

/* ----- the caching allocator (cuda_allocator.c) ----- */

/* A block of at least nbytes on device (its cache first, cudaMalloc otherwise); NULL with an
 * error when out of memory. */
void *cg_cuda_alloc(cg_cuda_device *device, size_t nbytes);
/* Returns a block of nbytes to device's cache; NULL is ignored. */
void cg_cuda_free(cg_cuda_device *device, void *block, size_t nbytes);
/* Frees device's cached blocks once its queued work is done; 0 or -1. */
int cg_cuda_release_cached(cg_cuda_device *device);

/* ----- host transfers (cuda_transfer.c), on the current GPU ----- */

int cg_cuda_copy_from_host(void *dst, const void *src, size_t nbytes);
int cg_cuda_copy_to_host(void *dst, const void *src, size_t nbytes);
int cg_cuda_prefetch_from_host(void *dst, const void *src, size_t nbytes);
int cg_cuda_await_prefetches(void);

/* ----- matrix products through cuBLAS (cuda_matmul.c) ----- */

/* batch products C = A B of row-major matrices (m x k, k x n, m x n): A (or B) is stored
 * transposed when transpose_a (transpose_b); ld* are the row strides as stored, stride_* the
 * distance between the matrices of a batch (0 repeats one matrix); C is dense. With beta 1 the
 * product is added to C, with beta 0 it replaces it. */
typedef struct {
    bool transpose_a, transpose_b;
    int64_t m, n, k;
    const void *a;
    int64_t lda, stride_a;
    const void *b;
    int64_t ldb, stride_b;
    void *c;
    int64_t ldc, stride_c;
    int64_t batch;
    double beta;
} cg_cuda_gemm_args;

int cg_cuda_gemm(cg_cuda_device *device, cg_dtype dtype, const cg_cuda_gemm_args *args);

/* ----- convolution through cuDNN (cuda_cudnn.c, in builds with CG_HAVE_CUDNN) ----- */

typedef enum { CG_CUDNN_FORWARD, CG_CUDNN_BACKWARD_INPUT, CG_CUDNN_BACKWARD_WEIGHT } cg_cudnn_pass;

enum { CG_CUDNN_NOT_USED = 1 };

/* Queues one pass of the convolution of window with filters filters through cuDNN, its result
 * overwritten (all operands contiguous):
 *   forward:         result out from first x and second weight (no bias)
 *   backward input:  result grad_x from first weight and second grad_out
 *   backward weight: result grad_weight from first x and second grad_out
 * 0; -1 with an error; or CG_CUDNN_NOT_USED, with nothing done, for a convolution that cuDNN
 * does not run here (float64, padding it cannot express), which the im2col path runs. */
#ifdef CG_HAVE_CUDNN
int cg_cudnn_conv2d(cg_cuda_device *device, cg_cudnn_pass pass, cg_dtype dtype,
                    const cg_window2d *window, int64_t filters, const void *first,
                    const void *second, void *result);
#endif

/* ----- the table's kernels ----- */

int cg_cuda_copy(cg_tensor *dst, const cg_tensor *src);
int cg_cuda_fill(cg_tensor *dst, double value);
int cg_cuda_iota(cg_tensor *out, double start, double step);
int cg_cuda_random(cg_tensor *out, cg_random_kind kind, uint64_t key, uint64_t counter, double a,
                   double b);
int cg_cuda_unary(cg_unary_op op, const double *params, const cg_tensor *x, cg_tensor *out);
int cg_cuda_unary_backward(cg_unary_op op, const double *params, const cg_tensor *x,
                           const cg_tensor *y, const cg_tensor *grad_out, cg_tensor *grad_x);
int cg_cuda_bias_activation(cg_tensor *out, const cg_tensor *bias, int64_t channels, int64_t inner,
                            cg_unary_op op, const double *params);
int cg_cuda_binary(cg_binary_op op, const cg_tensor *a, const cg_tensor *b, cg_tensor *out);
int cg_cuda_where(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b, cg_tensor *out);
int cg_cuda_reduce(cg_reduce_op op, const cg_tensor *x, cg_tensor *out);
int cg_cuda_arg_reduce(const cg_tensor *x, int dim, bool is_max, cg_tensor *out);
int cg_cuda_matmul(const cg_tensor *a, const cg_tensor *b, cg_tensor *out);
int cg_cuda_softmax(const cg_tensor *x, int dim, bool take_log, cg_tensor *out);
int cg_cuda_softmax_backward(const cg_tensor *y, const cg_tensor *grad_out, int dim, bool take_log,
                             cg_tensor *grad_x);
int cg_cuda_gather(const cg_tensor *x, int dim, const cg_tensor *index, cg_tensor *out);
int cg_cuda_scatter_add(cg_tensor *target, int dim, const cg_tensor *index, const cg_tensor *src);
int cg_cuda_sum_of_squares(const cg_tensor *x, double *result);
int cg_cuda_optimizer_update(const cg_optimizer_update *update, cg_tensor *param,
                             const cg_tensor *grad, cg_tensor *const *state);
int cg_cuda_conv2d_forward(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                           const cg_window2d *window, cg_unary_op op, const double *params,
                           cg_tensor *out);
int cg_cuda_conv2d_backward_input(const cg_tensor *grad_out, const cg_tensor *weight,
                                  const cg_window2d *window, cg_tensor *grad_x);
int cg_cuda_conv2d_backward_weight(const cg_tensor *grad_out, const cg_tensor *x,
                                   const cg_window2d *window, cg_tensor *grad_weight);
int cg_cuda_max_pool2d(const cg_tensor *x, const cg_window2d *window, cg_tensor *out,
                       cg_tensor *indices);
int cg_cuda_max_pool2d_backward(const cg_tensor *grad_out, const cg_tensor *indices,
                                const cg_window2d *window, cg_tensor *grad_x);

#ifdef __cplusplus
}
#endif

#endif
