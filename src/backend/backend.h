/* The backend interface: the table of kernels an op dispatches to on its tensors' device.
 *
 * Ops prepare their operands before calling a kernel: broadcast operands arrive as expanded
 * views (stride 0) of the output's shape, outputs are freshly allocated and contiguous unless a
 * kernel says otherwise, and dtypes already agree. Kernels return 0, or -1 with an error set. */
#ifndef CG_BACKEND_BACKEND_H
#define CG_BACKEND_BACKEND_H

#include <stdint.h>

#include "core/tensor.h"

typedef enum {
    CG_BINARY_ADD,
    CG_BINARY_SUB,
    CG_BINARY_MUL,
    CG_BINARY_DIV,
    CG_BINARY_POW,
    CG_BINARY_MAXIMUM,
    CG_BINARY_MINIMUM,
    CG_BINARY_EQ,
    CG_BINARY_NE,
    CG_BINARY_LT,
    CG_BINARY_LE,
    CG_BINARY_GT,
    CG_BINARY_GE,
    CG_BINARY_COUNT
} cg_binary_op;

/* Unary ops take up to two scalar parameters (params[0], params[1]). */
typedef enum {
    CG_UNARY_NEG,
    CG_UNARY_EXP,
    CG_UNARY_LOG,
    CG_UNARY_SQRT,
    CG_UNARY_ABS,
    CG_UNARY_CLAMP, /* params: min, max */
    CG_UNARY_SIGMOID,
    CG_UNARY_TANH,
    CG_UNARY_RELU,
    CG_UNARY_LEAKY_RELU, /* params: negative slope */
    CG_UNARY_ELU,        /* params: alpha */
    CG_UNARY_GELU,
    CG_UNARY_SOFTPLUS,
    CG_UNARY_ADD_SCALAR, /* params: addend */
    CG_UNARY_MUL_SCALAR, /* params: factor */
    CG_UNARY_POW_SCALAR, /* params: exponent */
    CG_UNARY_IDENTITY,   /* x itself: the epilogue of a product that has no activation */
    CG_UNARY_COUNT
} cg_unary_op;

typedef enum { CG_REDUCE_SUM, CG_REDUCE_MAX, CG_REDUCE_MIN, CG_REDUCE_COUNT } cg_reduce_op;

typedef enum { CG_RANDOM_UNIFORM, CG_RANDOM_NORMAL, CG_RANDOM_INTEGER } cg_random_kind;

/* The update rules of the optimizers (AdamW is Adam with a parameter scale). */
typedef enum { CG_UPDATE_SGD, CG_UPDATE_ADAM, CG_UPDATE_RMSPROP } cg_update_rule;

/* One optimizer step for one parameter. The caller works out every per-step scalar (bias
 * corrections, the clipping factor), so a kernel makes a single pass over the elements:
 *   g = grad_scale * grad, then g += weight_decay * p when weight_decay != 0, p *= param_scale;
 *   SGD:     buf = momentum * buf + g and g = nesterov ? g + momentum * buf : buf when momentum
 *            > 0; p -= learning_rate * g
 *   Adam:    m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
 *            p -= step_size * m / (sqrt(v) / bias_correction2_sqrt + epsilon)
 *   RMSprop: v = rho v + (1 - rho) g^2; a = sqrt(v) + epsilon; buf = momentum * buf + g / a and
 *            p -= learning_rate * buf when momentum > 0, p -= learning_rate * g / a otherwise
 * with the operations in the order PyTorch's optimizers use. State tensors have the parameter's
 * shape, dtype and device and are contiguous: SGD state[0] = buf; Adam state[0] = m, state[1] = v;
 * RMSprop state[0] = v, state[1] = buf. */
typedef struct {
    cg_update_rule rule;
    double grad_scale;
    double weight_decay;
    double param_scale;
    double learning_rate;
    double momentum;
    bool nesterov;
    double beta1, beta2;
    double step_size;             /* learning_rate / (1 - beta1^step) */
    double bias_correction2_sqrt; /* sqrt(1 - beta2^step) */
    double rho;
    double epsilon;
} cg_optimizer_update;

/* A 2-D sliding window over NCHW input, shared by convolution and pooling: output position
 * (oh, ow) of a window reads input rows oh * stride_h - pad_top + kh * dilation_h for kh <
 * kernel_height, and columns likewise. Rows and columns outside the input are padding (zero for a
 * convolution, skipped by max pooling); the bottom and right padding is whatever out_height and
 * out_width reach past the input. */
typedef struct {
    int64_t batch, channels, height, width; /* the input */
    int64_t kernel_height, kernel_width;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left;
    int64_t dilation_h, dilation_w;
    int64_t out_height, out_width;
} cg_window2d;

struct cg_backend {
    const char *name;

    /* Device memory for tensor storage. */
    void *(*alloc)(size_t nbytes);
    void (*free)(void *data, size_t nbytes);

    /* Moves nbytes of dense data between host memory and this device's memory; NULL on the CPU
     * backend, whose memory is the host's. copy_from_host returns once src may be reused, and
     * kernels queued after it see the data. copy_to_host returns once dst holds the data, and
     * reports the failure of any kernel queued before it. */
    int (*copy_from_host)(void *dst, const void *src, size_t nbytes);
    int (*copy_to_host)(void *dst, const void *src, size_t nbytes);
    /* Like copy_from_host, but the copy may overlap the kernels queued so far: kernels see the
     * data once await_prefetches has been called after it. dst must stay allocated until then. */
    int (*prefetch_from_host)(void *dst, const void *src, size_t nbytes);
    int (*await_prefetches)(void);

    /* dst = src elementwise; same shape, any strides (dst may be a view), converting dtype. */
    int (*copy)(cg_tensor *dst, const cg_tensor *src);
    /* Every element of dst (any strides) = value. */
    int (*fill)(cg_tensor *dst, double value);
    /* out[i] = start + i * step, out contiguous 1-D. */
    int (*iota)(cg_tensor *out, double start, double step);
    /* Counter-based random numbers: element i uses stream position counter + i under key.
     * UNIFORM in [a, b), NORMAL with mean a and std b, INTEGER in [a, b). out contiguous. */
    int (*random)(cg_tensor *out, cg_random_kind kind, uint64_t key, uint64_t counter, double a,
                  double b);

    /* out = op(x); same shape; out contiguous. */
    int (*unary)(cg_unary_op op, const double *params, const cg_tensor *x, cg_tensor *out);
    /* grad_x = grad_out * op'(x), given x, the forward output y and grad_out (same shape);
     * grad_x may be grad_out itself. */
    int (*unary_backward)(cg_unary_op op, const double *params, const cg_tensor *x,
                          const cg_tensor *y, const cg_tensor *grad_out, cg_tensor *grad_x);
    /* The epilogue of a product, in place: out (contiguous, viewed as rows x channels x inner)
     * = op(out + bias[channel]), bias (channels values, contiguous) skipped when NULL; op is
     * CG_UNARY_IDENTITY or an activation whose derivative follows from its output (relu,
     * leaky_relu, sigmoid, tanh). */
    int (*bias_activation)(cg_tensor *out, const cg_tensor *bias, int64_t channels, int64_t inner,
                           cg_unary_op op, const double *params);
    /* out = a op b; same shape; out may be a strided view and may alias a. */
    int (*binary)(cg_binary_op op, const cg_tensor *a, const cg_tensor *b, cg_tensor *out);
    /* out = cond != 0 ? a : b; same shape. */
    int (*where)(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b, cg_tensor *out);

    /* out (contiguous, x's ndim, size 1 in each reduced dim) = op over the reduced dims of x. */
    int (*reduce)(cg_reduce_op op, const cg_tensor *x, cg_tensor *out);
    /* out (int64, contiguous, x's shape with dim of size 1) = index of the max (or min). */
    int (*arg_reduce)(const cg_tensor *x, int dim, bool is_max, cg_tensor *out);

    /* out[b] = a[b] @ b[b] for 3-D a (B x M x K), b (B x K x N), out (B x M x N) contiguous.
     * a and b may be strided. */
    int (*matmul)(const cg_tensor *a, const cg_tensor *b, cg_tensor *out);

    /* Softmax (or log-softmax) of x along dim into contiguous out. */
    int (*softmax)(const cg_tensor *x, int dim, bool take_log, cg_tensor *out);
    /* grad_x from the forward output y and grad_out. */
    int (*softmax_backward)(const cg_tensor *y, const cg_tensor *grad_out, int dim, bool take_log,
                            cg_tensor *grad_x);

    /* out = x gathered along dim by index (int32/int64, out's shape). Errors on an index out of
     * range. */
    int (*gather)(const cg_tensor *x, int dim, const cg_tensor *index, cg_tensor *out);
    /* target[... index ...] += src along dim (the adjoint of gather); target contiguous. */
    int (*scatter_add)(cg_tensor *target, int dim, const cg_tensor *index, const cg_tensor *src);

    /* *result = the sum of the squares of x's elements (any strides), accumulated in double. */
    int (*sum_of_squares)(const cg_tensor *x, double *result);
    /* Applies update to param (any strides) from grad (param's shape and dtype) and state. */
    int (*optimizer_update)(const cg_optimizer_update *update, cg_tensor *param,
                            const cg_tensor *grad, cg_tensor *const *state);

    /* 2-D convolution (cross-correlation, as PyTorch) of contiguous NCHW operands laid out by
     * window: out (N, F, OH, OW) = op(weight (F, C, KH, KW) over x (N, C, H, W) + bias), bias
     * (F, contiguous) skipped when NULL, op one of bias_activation's. */
    int (*conv2d_forward)(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                          const cg_window2d *window, cg_unary_op op, const double *params,
                          cg_tensor *out);
    /* grad_x (x's shape, overwritten) from grad_out (out's shape) and weight; all contiguous. */
    int (*conv2d_backward_input)(const cg_tensor *grad_out, const cg_tensor *weight,
                                 const cg_window2d *window, cg_tensor *grad_x);
    /* grad_weight (weight's shape, overwritten) from grad_out and x, summed over the batch; all
     * contiguous. */
    int (*conv2d_backward_weight)(const cg_tensor *grad_out, const cg_tensor *x,
                                  const cg_window2d *window, cg_tensor *grad_weight);
    /* out (N, C, OH, OW) = the largest element of each window of contiguous x (every window
     * overlaps the input); indices (int32, out's shape) = its position h * W + w in its H x W
     * plane (the first one on a tie; planes hold at most 2^31 - 1 elements). */
    int (*max_pool2d)(const cg_tensor *x, const cg_window2d *window, cg_tensor *out,
                      cg_tensor *indices);
    /* grad_x (the pooled input's shape, overwritten) = grad_out (out's shape) added at the
     * positions indices (max_pool2d's) give in each plane, zero elsewhere; all contiguous. */
    int (*max_pool2d_backward)(const cg_tensor *grad_out, const cg_tensor *indices,
                               const cg_window2d *window, cg_tensor *grad_x);
};

/* The backend that runs kernels for device; NULL with an error when it is not built in or the
 * device is not available. For a GPU it also makes the device current on the calling thread, so
 * that the table's alloc and free act on it. */
const cg_backend *cg_backend_get(cg_device device);

/* The layout of the matrices (last two dims) of a 3-D matmul operand: row-major (*transposed
 * false) when the column stride is 1, column-major when the row stride is 1, with *leading the
 * stride between rows (columns) as BLAS takes it. False with an error for any other layout. */
bool cg_backend_matrix_layout(const cg_tensor *t, bool *transposed, int64_t *leading);

extern const cg_backend cg_cpu_backend;

#endif
