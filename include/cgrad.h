/* cgrad: n-dimensional tensors, reverse-mode automatic differentiation and neural networks in C.
 *
 * Conventions used by every function in this header:
 * - Errors are values. A function that fails returns NULL (or a negative status) and sets a
 *   per-thread message readable with cg_last_error(). Ops given a NULL tensor return NULL without
 *   touching the message, so a chain of expressions needs one check at the end.
 * - Ownership. A tensor returned by a function is a new reference. Inside a scope
 *   (cg_scope_begin/cg_scope_end) the scope owns it and frees it at cg_scope_end unless
 *   cg_keep() hands it out; outside any scope the caller owns it and calls cg_release().
 * - Dimensions may be negative (counted from the end, -1 is the last).
 */
#ifndef CGRAD_H
#define CGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_VERSION_MAJOR 0
#define CG_VERSION_MINOR 1
#define CG_VERSION_PATCH 0
#define CG_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/* The message of the last error on this thread ("" when none). Valid until the next error. */
const char *cg_last_error(void);
/* Forgets the last error on this thread. */
void cg_clear_error(void);

/* ---------------------------------------------------------------------------------------------
 * Types, shapes and devices
 * ------------------------------------------------------------------------------------------- */

/* CG_UINT8 holds images compactly (0..255). Integer dtypes follow C's integer arithmetic in their
 * own type: uint8 results (sums included) wrap modulo 256, as PyTorch's uint8 does, and a value
 * converted to an integer dtype is truncated towards zero, then wrapped to the type's range. */
typedef enum { CG_FLOAT32 = 0, CG_FLOAT64, CG_INT32, CG_INT64, CG_UINT8, CG_DTYPE_COUNT } cg_dtype;

/* "float32", "float64", "int32", "int64", "uint8". */
const char *cg_dtype_name(cg_dtype dtype);
/* Bytes per element; 0 for an invalid dtype. */
size_t cg_dtype_size(cg_dtype dtype);

typedef enum { CG_DEVICE_CPU = 0, CG_DEVICE_CUDA } cg_device_type;
typedef struct {
    cg_device_type type;
    int index;
} cg_device;

#define CG_MAX_DIMS 8

typedef struct {
    int ndim;
    int64_t dims[CG_MAX_DIMS];
} cg_shape;

/* CG_SHAPE(2, 3) is a 2x3 shape; CG_SCALAR_SHAPE has no dimensions (one element). */
#define CG_SHAPE(...)                                                                              \
    ((cg_shape){.ndim = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),               \
                .dims = {__VA_ARGS__}})
#define CG_SCALAR_SHAPE ((cg_shape){.ndim = 0})

/* A list of dimensions for reductions, permutations and squeezes. */
typedef struct {
    int count; /* -1 means every dimension */
    int dims[CG_MAX_DIMS];
} cg_dims;

#define CG_DIMS(...)                                                                               \
    ((cg_dims){.count = (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), .dims = {__VA_ARGS__}})
#define CG_ALL_DIMS ((cg_dims){.count = -1})

typedef struct cg_tensor cg_tensor;

/* ---------------------------------------------------------------------------------------------
 * Creation (new tensors on the CPU; the caller or the current scope owns them)
 * ------------------------------------------------------------------------------------------- */

cg_tensor *cg_empty(cg_shape shape, cg_dtype dtype);
cg_tensor *cg_zeros(cg_shape shape, cg_dtype dtype);
cg_tensor *cg_ones(cg_shape shape, cg_dtype dtype);
cg_tensor *cg_full(cg_shape shape, double value, cg_dtype dtype);
/* Values start, start+step, ... below end (above end when step < 0). 1-D. */
cg_tensor *cg_arange(double start, double end, double step, cg_dtype dtype);
/* steps evenly spaced values from start to end inclusive. 1-D. */
cg_tensor *cg_linspace(double start, double end, int64_t steps, cg_dtype dtype);
/* The n x n identity matrix. */
cg_tensor *cg_eye(int64_t n, cg_dtype dtype);
/* A copy of a C array of numel(shape) elements of the given dtype. */
cg_tensor *cg_from_array(const void *data, cg_shape shape, cg_dtype dtype);
/* A one-element tensor with no dimensions. */
cg_tensor *cg_scalar(double value, cg_dtype dtype);
/* A tensor of zeros (ones) with the shape, dtype and device of t. */
cg_tensor *cg_zeros_like(const cg_tensor *t);
cg_tensor *cg_ones_like(const cg_tensor *t);

/* Random tensors from this thread's generator; the same seed gives the same numbers on any
 * machine. rand: uniform [0, 1); randn: standard normal; randint: integers in [low, high). */
void cg_manual_seed(uint64_t seed);
cg_tensor *cg_rand(cg_shape shape, cg_dtype dtype);
cg_tensor *cg_randn(cg_shape shape, cg_dtype dtype);
cg_tensor *cg_randint(int64_t low, int64_t high, cg_shape shape, cg_dtype dtype);
/* The generator's state (seed and position), to save and restore a random stream exactly. */
typedef struct {
    uint64_t seed;
    uint64_t offset;
} cg_rng_state;
cg_rng_state cg_rng_get_state(void);
void cg_rng_set_state(cg_rng_state state);

/* ---------------------------------------------------------------------------------------------
 * Reference counting and scopes
 * ------------------------------------------------------------------------------------------- */

/* Adds a reference owned by the caller; returns t. */
cg_tensor *cg_retain(cg_tensor *t);
/* Drops the caller's reference (or the scope's, if a scope owns t). NULL is ignored. */
void cg_release(cg_tensor *t);
/* Opens a scope: tensors created until the matching cg_scope_end are owned by it. Nests. */
void cg_scope_begin(void);
/* Closes the innermost scope, dropping its reference to every tensor it owns (and with them
 * the graph they recorded). */
void cg_scope_end(void);
/* Hands t from the innermost scope to the enclosing one, or to the caller when no scope encloses
 * it; returns t (NULL with an error, t freed, when the enclosing scope cannot grow). A tensor not
 * owned by the innermost scope is returned unchanged. */
cg_tensor *cg_keep(cg_tensor *t);
/* The number of scopes open on this thread. */
int cg_scope_depth(void);

/* ---------------------------------------------------------------------------------------------
 * Memory (the caching allocator every buffer and tensor header comes from)
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    size_t live_bytes;      /* bytes handed out and not yet returned */
    size_t peak_live_bytes; /* the most live_bytes has been */
    size_t cached_bytes;    /* returned bytes kept for reuse */
    uint64_t system_allocs; /* calls to the system allocator so far */
    uint64_t system_frees;
} cg_memory_stats;

cg_memory_stats cg_memory_get_stats(void);
/* Returns every cached (unused) block to the system. */
void cg_memory_release_cached(void);

/* ---------------------------------------------------------------------------------------------
 * Devices: the CPU, and NVIDIA GPUs when this build has the CUDA backend (docs/gpu.md). An op
 * runs on the device of its inputs, which must all be on one device.
 * ------------------------------------------------------------------------------------------- */

/* The CPU, and the GPU with the given index (0 is the first). */
cg_device cg_device_cpu(void);
cg_device cg_device_cuda(int index);
/* Parses "cpu", "cuda" (the same as "cuda:0") or "cuda:N" into *device. 0, or -1 with an error
 * quoting the text. Whether the device exists is checked where it is used. */
int cg_device_parse(const char *text, cg_device *device);
/* The number of usable GPUs: 0 when this build has no CUDA backend or the machine has no GPU or
 * driver, and cg_last_error() then says why. */
int cg_cuda_device_count(void);
/* cg_cuda_device_count() > 0. */
bool cg_cuda_is_available(void);

/* New tensors on device, as cg_empty, cg_zeros and cg_full make them on the CPU. Errors: those of
 * cg_empty, and a device that is not available ("cuda:0 is not available: <reason>"). */
cg_tensor *cg_empty_on(cg_shape shape, cg_dtype dtype, cg_device device);
cg_tensor *cg_zeros_on(cg_shape shape, cg_dtype dtype, cg_device device);
cg_tensor *cg_full_on(cg_shape shape, double value, cg_dtype dtype, cg_device device);
/* A contiguous copy of x on device, or x itself (a new reference) when it is there already. The
 * copy is differentiable: backward copies the gradient back to x's device. Errors: a device that
 * is not available. */
cg_tensor *cg_to_device(const cg_tensor *x, cg_device device);

/* Whether float32 matrix products (matmul, conv2d) on a GPU may use TF32 tensor cores, which
 * round the operands to 10 bits of mantissa, for the calling thread. Off by default: full
 * float32. Returns the previous setting. */
bool cg_set_tf32_enabled(bool enabled);
bool cg_is_tf32_enabled(void);

/* The caching allocator of GPU index (live, peak and cached bytes; system_allocs and
 * system_frees count cudaMalloc and cudaFree). 0, or -1 with an error when the GPU is not
 * available. */
int cg_cuda_memory_stats(int index, cg_memory_stats *stats);
/* Sets the peak of GPU index to its live bytes, so that the next peak measures what follows. */
int cg_cuda_memory_reset_peak(int index);
/* Returns the cached (unused) blocks of GPU index to the driver. */
int cg_cuda_memory_release_cached(int index);

/* ---------------------------------------------------------------------------------------------
 * Threads (the CPU kernels' worker pool, shared by every thread of the process)
 * ------------------------------------------------------------------------------------------- */

/* The number of threads a large CPU operation may use, the calling thread included; 1 runs
 * everything on the calling thread. The default is the number of online CPUs, or the value of the
 * environment variable CGRAD_NUM_THREADS (read once, at the first use; ignored unless a whole
 * number from 1 to 1024). OpenBLAS products run on these threads too (OpenBLAS is held to one
thread of its own, so the process has one set of workers). Small
 * operations stay on one thread whatever the setting; a user thread that calls into cgrad while
 * another one's operation holds the pool runs on its own thread. -1 with an error when count is
 * outside 1..1024. */
int cg_set_num_threads(int count);
int cg_get_num_threads(void);

/* ---------------------------------------------------------------------------------------------
 * Inspection and element access
 * ------------------------------------------------------------------------------------------- */

int cg_ndim(const cg_tensor *t);
/* Size of dimension dim (negative counts from the end); -1 with an error when out of range. */
int64_t cg_dim(const cg_tensor *t, int dim);
cg_shape cg_tensor_shape(const cg_tensor *t);
int64_t cg_numel(const cg_tensor *t);
cg_dtype cg_tensor_dtype(const cg_tensor *t);
cg_device cg_tensor_device(const cg_tensor *t);
/* True when the elements are laid out densely in row-major order. */
bool cg_is_contiguous(const cg_tensor *t);
/* "2x3" style text of a shape, into buf (at most size bytes); returns buf. */
char *cg_shape_format(cg_shape shape, char *buf, size_t size);

/* These read and write tensors on any device; a GPU tensor's values travel through host memory,
 * after the kernels queued before the call have finished. */
/* The value of a one-element tensor as a double (NaN with an error otherwise). */
double cg_item(const cg_tensor *t);
/* The element at index (one entry per dimension); NaN with an error when out of range. */
double cg_get(const cg_tensor *t, const int64_t *index);
/* Sets the element at index (no graph is recorded). 0 on success, -1 with an error. */
int cg_set(cg_tensor *t, const int64_t *index, double value);
/* Copies the elements, in row-major order and t's dtype, into dst of dst_bytes bytes.
 * 0 on success, -1 with an error when dst is too small. */
int cg_copy_to_array(const cg_tensor *t, void *dst, size_t dst_bytes);
/* Prints shape, dtype and values (elided in the middle of long dimensions). 0 or -1. */
int cg_print(const cg_tensor *t, FILE *out);

/* ---------------------------------------------------------------------------------------------
 * Automatic differentiation
 * ------------------------------------------------------------------------------------------- */

/* Marks a floating-point leaf tensor as a variable whose gradient cg_backward fills; returns t. */
cg_tensor *cg_set_requires_grad(cg_tensor *t, bool requires_grad);
bool cg_requires_grad(const cg_tensor *t);
/* The accumulated gradient of t, owned by t (NULL before the first backward). */
cg_tensor *cg_grad(const cg_tensor *t);
/* Back-propagates from a one-element tensor: adds d(t)/d(leaf) into the gradient of every leaf
 * that requires grad. The recorded graph stays valid, so backward may be called again. */
int cg_backward(cg_tensor *t);
/* Same, seeding the backward pass with grad_output (shape of t) instead of 1. */
int cg_backward_with(cg_tensor *t, const cg_tensor *grad_output);
/* Drops the accumulated gradient of t. */
void cg_zero_grad(cg_tensor *t);
/* A tensor sharing t's data that records no graph (a new leaf that does not require grad). */
cg_tensor *cg_detach(const cg_tensor *t);
/* Turns graph recording on or off for this thread; returns the previous setting. */
bool cg_set_grad_enabled(bool enabled);
bool cg_is_grad_enabled(void);
/* Turns anomaly detection on or off for this thread (off by default); returns the previous
 * setting. While it is on, every op that records a graph checks its output, and backward checks
 * every gradient it computes, for NaN and infinity: the first one found fails that op (NULL) or
 * the backward call (-1) with an error naming the op, the pass and the input shapes, e.g.
 * "anomaly: log produced NaN in the forward pass; inputs: [3x4]" or "anomaly: the gradient of
 * input 1 is NaN in the backward pass of div; inputs: [3], [3]". Ops that record nothing (no
 * input requires grad, or grad mode off) are not checked; a NaN they make is reported by the
 * first recorded op it reaches, as an input that "already held NaN". Each check reads the whole
 * tensor, so this is for hunting down where NaNs come from, not for every run. */
bool cg_set_anomaly_detection(bool enabled);
bool cg_is_anomaly_detection_enabled(void);

/* Checks the gradients of fn at inputs against central finite differences (float64 inputs).
 * fn returns a tensor of any shape; its elements are summed with random weights to make a scalar.
 * 0 when every gradient element satisfies |analytic - numeric| <= atol + rtol * |numeric|;
 * -1 with an error naming the input, the element and both values otherwise. */
typedef cg_tensor *(*cg_gradcheck_fn)(cg_tensor **inputs, void *userdata);
int cg_gradcheck(cg_gradcheck_fn fn, cg_tensor **inputs, int count, void *userdata, double eps,
                 double atol, double rtol);

/* ---------------------------------------------------------------------------------------------
 * Elementwise arithmetic (broadcasting like numpy; both operands must have the same dtype)
 * ------------------------------------------------------------------------------------------- */

cg_tensor *cg_add(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_sub(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_mul(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_div(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_pow(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_maximum(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_minimum(const cg_tensor *a, const cg_tensor *b);
/* Comparisons give 1 or 0 in a's dtype; they are not differentiable. */
cg_tensor *cg_eq(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_ne(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_lt(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_le(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_gt(const cg_tensor *a, const cg_tensor *b);
cg_tensor *cg_ge(const cg_tensor *a, const cg_tensor *b);

/* With a scalar on the right. */
cg_tensor *cg_add_scalar(const cg_tensor *a, double b);
cg_tensor *cg_mul_scalar(const cg_tensor *a, double b);
cg_tensor *cg_pow_scalar(const cg_tensor *a, double exponent);

/* Elementwise choice: cond != 0 ? a : b, broadcasting all three. */
cg_tensor *cg_where(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b);

/* ---------------------------------------------------------------------------------------------
 * Elementwise functions and activations
 * ------------------------------------------------------------------------------------------- */

cg_tensor *cg_neg(const cg_tensor *x);
cg_tensor *cg_exp(const cg_tensor *x);
cg_tensor *cg_log(const cg_tensor *x);
cg_tensor *cg_sqrt(const cg_tensor *x);
cg_tensor *cg_abs(const cg_tensor *x);
/* Limits x to [min, max]; pass -INFINITY or INFINITY for a one-sided clamp. */
cg_tensor *cg_clamp(const cg_tensor *x, double min, double max);
cg_tensor *cg_sigmoid(const cg_tensor *x);
cg_tensor *cg_tanh(const cg_tensor *x);
cg_tensor *cg_relu(const cg_tensor *x);
cg_tensor *cg_leaky_relu(const cg_tensor *x, double negative_slope);
cg_tensor *cg_elu(const cg_tensor *x, double alpha);
/* The exact GELU, x * Phi(x). */
cg_tensor *cg_gelu(const cg_tensor *x);
cg_tensor *cg_softplus(const cg_tensor *x);
/* Softmax and log-softmax along dim. */
cg_tensor *cg_softmax(const cg_tensor *x, int dim);
cg_tensor *cg_log_softmax(const cg_tensor *x, int dim);

/* ---------------------------------------------------------------------------------------------
 * Reductions (over the listed dims, or CG_ALL_DIMS; keepdim keeps them with size 1)
 * ------------------------------------------------------------------------------------------- */

cg_tensor *cg_sum(const cg_tensor *x, cg_dims dims, bool keepdim);
cg_tensor *cg_mean(const cg_tensor *x, cg_dims dims, bool keepdim);
cg_tensor *cg_max(const cg_tensor *x, cg_dims dims, bool keepdim);
cg_tensor *cg_min(const cg_tensor *x, cg_dims dims, bool keepdim);
/* Variance; unbiased divides by n - 1. */
cg_tensor *cg_var(const cg_tensor *x, cg_dims dims, bool unbiased, bool keepdim);
cg_tensor *cg_logsumexp(const cg_tensor *x, cg_dims dims, bool keepdim);
/* Index of the largest element along dim, as int64 (not differentiable). */
cg_tensor *cg_argmax(const cg_tensor *x, int dim, bool keepdim);

/* ---------------------------------------------------------------------------------------------
 * Matrix products
 * ------------------------------------------------------------------------------------------- */

/* Like numpy.matmul: 1-D and 2-D operands, and batches whose leading dims broadcast. */
cg_tensor *cg_matmul(const cg_tensor *a, const cg_tensor *b);

/* The activations of layers and of the fused ops cg_linear and cg_conv2d. */
typedef enum {
    CG_ACTIVATION_NONE = 0,
    CG_ACTIVATION_RELU,
    CG_ACTIVATION_SIGMOID,
    CG_ACTIVATION_TANH,
    CG_ACTIVATION_SOFTMAX,    /* over the last dim */
    CG_ACTIVATION_LEAKY_RELU, /* negative slope 0.01 */
    CG_ACTIVATION_GELU,
    CG_ACTIVATION_COUNT
} cg_activation;

/* activation(x @ weight^T + bias), as torch.nn.functional.linear followed by the activation: x
 * (..., in), weight (out, in), bias (out) or NULL; a new tensor (..., out). One op: the bias and
 * an activation whose derivative follows from its output (none, relu, leaky_relu, sigmoid, tanh)
 * are applied in one pass over the fresh product and only the output is kept for backward;
 * softmax and gelu follow as ops of their own. Errors: weight not 2-D, sizes that differ, a bias
 * not of out values, an unknown activation. */
cg_tensor *cg_linear(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                     cg_activation activation);

/* ---------------------------------------------------------------------------------------------
 * Shape and views (views share data with their input; gradients flow through them)
 * ------------------------------------------------------------------------------------------- */

/* A tensor with the same elements in a new shape; one dim may be -1 (inferred). A view when x is
 * contiguous, a copy otherwise. */
cg_tensor *cg_reshape(const cg_tensor *x, cg_shape shape);
/* Like reshape but x must be contiguous (always a view). */
cg_tensor *cg_view(const cg_tensor *x, cg_shape shape);
/* Merges dims start..end (inclusive) into one. */
cg_tensor *cg_flatten(const cg_tensor *x, int start_dim, int end_dim);
cg_tensor *cg_transpose(const cg_tensor *x, int dim0, int dim1);
/* dims lists every dimension once, in the new order. */
cg_tensor *cg_permute(const cg_tensor *x, cg_dims dims);
/* Elements start, start+step, ... below end along dim (end is clamped to the size). */
cg_tensor *cg_slice(const cg_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
/* length elements from start along dim. */
cg_tensor *cg_narrow(const cg_tensor *x, int dim, int64_t start, int64_t length);
/* Removes dim, which must have size 1 (squeeze_all: every size-1 dim). */
cg_tensor *cg_squeeze(const cg_tensor *x, int dim);
cg_tensor *cg_squeeze_all(const cg_tensor *x);
/* Inserts a dim of size 1 at position dim (0..ndim). */
cg_tensor *cg_unsqueeze(const cg_tensor *x, int dim);
/* Broadcasts size-1 dims (and new leading dims) to shape without copying. */
cg_tensor *cg_expand(const cg_tensor *x, cg_shape shape);
/* A row-major copy of x (x itself, with a new reference, when already contiguous). */
cg_tensor *cg_contiguous(const cg_tensor *x);
/* A copy converted to dtype (not differentiable across integer dtypes). */
cg_tensor *cg_to_dtype(const cg_tensor *x, cg_dtype dtype);
/* A contiguous copy of x, with its own storage. */
cg_tensor *cg_clone(const cg_tensor *x);

/* ---------------------------------------------------------------------------------------------
 * Joining and indexing
 * ------------------------------------------------------------------------------------------- */

/* Joins count tensors along an existing dim (concat) or a new one (stack). */
cg_tensor *cg_concat(cg_tensor *const *tensors, int count, int dim);
cg_tensor *cg_stack(cg_tensor *const *tensors, int count, int dim);
/* out[i][j] = x[index[i][j]][j] for dim 0 (and likewise for other dims), like torch.gather.
 * index is int64 or int32 with x's number of dims. */
cg_tensor *cg_gather(const cg_tensor *x, int dim, const cg_tensor *index);
/* The slices of x along dim picked by the 1-D integer tensor index. */
cg_tensor *cg_index_select(const cg_tensor *x, int dim, const cg_tensor *index);
/* Integer labels (any shape) to one-hot rows of num_classes values in dtype (shape + [classes]). */
cg_tensor *cg_one_hot(const cg_tensor *labels, int64_t num_classes, cg_dtype dtype);

/* ---------------------------------------------------------------------------------------------
 * Convolution and pooling (NCHW: batch, channels, height, width)
 * ------------------------------------------------------------------------------------------- */

/* Options of cg_conv2d. A zero field takes its default (stride 1, padding 0, dilation 1), so NULL
 * or (cg_conv2d_options){0} means every default. padding_h and padding_w add that many zero rows
 * and columns on each side. padding_same pads instead so the output has ceil(size / stride) rows
 * and columns, as TensorFlow's "same" (PyTorch's padding="same" at stride 1): when the padding
 * needed is odd, the extra row (column) goes at the bottom (right). */
typedef struct {
    int stride_h, stride_w;
    int padding_h, padding_w;
    bool padding_same;
    int dilation_h, dilation_w;
    /* Applied to the output (bias included) as cg_linear applies it: fused for none, relu,
     * leaky_relu, sigmoid and tanh, an op of its own (over the last dim) for softmax and gelu. */
    cg_activation activation;
} cg_conv2d_options;

/* 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) of x (N, C, H, W) with
 * weight (F, C, KH, KW), plus bias (F) unless bias is NULL, then options->activation: out (N, F,
 * OH, OW). Errors: operands not 4-D, channel counts that differ, a bias not of F values, a
 * negative stride, padding or dilation, an unknown activation, and a (dilated) kernel larger than
 * the padded input. */
cg_tensor *cg_conv2d(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                     const cg_conv2d_options *options);
/* The largest element of each kernel_h x kernel_w window of x (N, C, H, W); windows start
 * stride_h and stride_w apart (0: the kernel size), without padding, and a partial window at the
 * end is dropped. The gradient goes to the (first) largest element of each window. Errors: x not
 * 4-D, a kernel size not positive or larger than the input, a negative stride, planes (H x W) of
 * more than 2^31 - 1 elements. */
cg_tensor *cg_max_pool2d(const cg_tensor *x, int kernel_h, int kernel_w, int stride_h,
                         int stride_w);
/* The mean of each window, the windows (and errors) as in cg_max_pool2d. */
cg_tensor *cg_avg_pool2d(const cg_tensor *x, int kernel_h, int kernel_w, int stride_h,
                         int stride_w);
/* The mean over height and width: x (N, C, H, W) gives (N, C). Errors: x not 4-D. */
cg_tensor *cg_global_avg_pool2d(const cg_tensor *x);

/* ---------------------------------------------------------------------------------------------
 * Dropout and losses
 * ------------------------------------------------------------------------------------------- */

/* Zeroes each element with probability p and scales the rest by 1/(1-p) when training; returns
 * x unchanged (a new reference) otherwise. Draws from this thread's generator. */
cg_tensor *cg_dropout(const cg_tensor *x, double p, bool training);

typedef enum { CG_REDUCTION_MEAN = 0, CG_REDUCTION_SUM, CG_REDUCTION_NONE } cg_reduction;

/* Mean squared error (and mean absolute error) between prediction and target of equal shape. */
cg_tensor *cg_mse_loss(const cg_tensor *prediction, const cg_tensor *target,
                       cg_reduction reduction);
cg_tensor *cg_l1_loss(const cg_tensor *prediction, const cg_tensor *target,
                      cg_reduction reduction);
/* Binary cross-entropy from logits against targets in [0, 1], in the stable form. */
cg_tensor *cg_bce_with_logits(const cg_tensor *logits, const cg_tensor *target,
                              cg_reduction reduction);
/* Cross-entropy of logits (N x C) against integer class labels (N), via log-softmax. */
cg_tensor *cg_cross_entropy(const cg_tensor *logits, const cg_tensor *labels,
                            cg_reduction reduction);

/* ---------------------------------------------------------------------------------------------
 * In-place updates (record no graph; for optimizers and hand-written training loops)
 * ------------------------------------------------------------------------------------------- */

/* dst += scale * src (src broadcast to dst's shape). 0 or -1 with an error. */
int cg_add_scaled_(cg_tensor *dst, const cg_tensor *src, double scale);
/* dst = src (src broadcast to dst's shape, converted to dst's dtype). */
int cg_copy_(cg_tensor *dst, const cg_tensor *src);
/* Every element of t = value. */
int cg_fill_(cg_tensor *t, double value);

#ifdef __cplusplus
}
#endif

#include "cgrad/data.h"
#include "cgrad/distributed.h"
#include "cgrad/nn.h"

#endif /* CGRAD_H */
