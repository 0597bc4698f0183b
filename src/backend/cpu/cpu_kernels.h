/* The CPU backend's kernels (one file per family) and the helpers they share. */
#ifndef CG_BACKEND_CPU_KERNELS_H
#define CG_BACKEND_CPU_KERNELS_H

#include "backend/backend.h"
#include "backend/cpu/strided_loop.h"

/* Instantiates STATEMENT(T) for the C type of a floating-point dtype. */
#define CG_CPU_FLOAT_DISPATCH(dtype, STATEMENT)                                                    \
    do {                                                                                           \
        if ((dtype) == CG_FLOAT32) {                                                               \
            STATEMENT(float);                                                                      \
        } else {                                                                                   \
            STATEMENT(double);                                                                     \
        }                                                                                          \
    } while (0)

/* Instantiates STATEMENT(T) for the C type of any dtype. */
#define CG_CPU_ANY_DISPATCH(dtype, STATEMENT)                                                      \
    do {                                                                                           \
        switch (dtype) {                                                                           \
        case CG_FLOAT32: STATEMENT(float); break;                                                  \
        case CG_FLOAT64: STATEMENT(double); break;                                                 \
        case CG_INT32: STATEMENT(int32_t); break;                                                  \
        case CG_UINT8: STATEMENT(uint8_t); break;                                                  \
        default: STATEMENT(int64_t); break;                                                        \
        }                                                                                          \
    } while (0)

/* value converted to the dtype's C type T. Integer types get it through int64, so that a value
 * out of a narrow type's range wraps (-1.0 becomes 255 in uint8) instead of being undefined
 * behaviour, as a direct float-to-integer conversion is in C. */
#define CG_CPU_CONVERT(T, value) ((T)0.5 == 0 ? (T)(int64_t)(value) : (T)(value))

/* Starts a strided walk over the shape of first with the given operands. */
void cg_cpu_loop_over(cg_strided_loop *loop, const cg_tensor *first, int count,
                      const cg_tensor *const *operands);

/* An elementwise kernel as one function per row: row(job, offsets, length) computes length
 * elements from each operand's element offset, stepping by the walk's row strides. */
typedef struct cg_cpu_row_job cg_cpu_row_job;
struct cg_cpu_row_job {
    cg_strided_loop loop; /* over the operands, the inputs first and the output last */
    void (*row)(const cg_cpu_row_job *job, const int64_t *offsets, int64_t length);
    const void *inputs[CG_LOOP_MAX_OPERANDS - 1];
    void *output;
    int op;
    double params[2];
};

/* Runs job->row over the whole walk, split across the thread pool when it is large enough; the
 * rows (or, for a single row, ranges of it) go to different threads, so results never depend on
 * the thread count. */
void cg_cpu_run_rows(cg_cpu_row_job *job);

/* Reads element i of an index tensor (int32 or int64). */
int64_t cg_cpu_read_index(const cg_tensor *index, int64_t offset);

int cg_cpu_copy(cg_tensor *dst, const cg_tensor *src);
int cg_cpu_fill(cg_tensor *dst, double value);
int cg_cpu_iota(cg_tensor *out, double start, double step);
int cg_cpu_random(cg_tensor *out, cg_random_kind kind, uint64_t key, uint64_t counter, double a,
                  double b);
int cg_cpu_unary(cg_unary_op op, const double *params, const cg_tensor *x, cg_tensor *out);
int cg_cpu_unary_backward(cg_unary_op op, const double *params, const cg_tensor *x,
                          const cg_tensor *y, const cg_tensor *grad_out, cg_tensor *grad_x);
int cg_cpu_bias_activation(cg_tensor *out, const cg_tensor *bias, int64_t channels, int64_t inner,
                           cg_unary_op op, const double *params);
/* The epilogue over lines [0, lines) of out (float32 or float64), length elements each and stride
 * apart: line l = op(line + bias[l]), bias skipped when NULL; on the calling thread. The body of
 * bias_activation for planes, which the convolution runs on each band of its output while the
 * band is in cache. */
void cg_cpu_epilogue_planes(cg_dtype dtype, void *out, int64_t lines, int64_t stride,
                            int64_t length, const void *bias, cg_unary_op op, const double *params);
int cg_cpu_binary(cg_binary_op op, const cg_tensor *a, const cg_tensor *b, cg_tensor *out);
int cg_cpu_where(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b, cg_tensor *out);
int cg_cpu_reduce(cg_reduce_op op, const cg_tensor *x, cg_tensor *out);
int cg_cpu_arg_reduce(const cg_tensor *x, int dim, bool is_max, cg_tensor *out);
int cg_cpu_matmul(const cg_tensor *a, const cg_tensor *b, cg_tensor *out);
int cg_cpu_softmax(const cg_tensor *x, int dim, bool take_log, cg_tensor *out);
int cg_cpu_softmax_backward(const cg_tensor *y, const cg_tensor *grad_out, int dim, bool take_log,
                            cg_tensor *grad_x);
int cg_cpu_gather(const cg_tensor *x, int dim, const cg_tensor *index, cg_tensor *out);
int cg_cpu_scatter_add(cg_tensor *target, int dim, const cg_tensor *index, const cg_tensor *src);
int cg_cpu_sum_of_squares(const cg_tensor *x, double *result);
int cg_cpu_optimizer_update(const cg_optimizer_update *update, cg_tensor *param,
                            const cg_tensor *grad, cg_tensor *const *state);
int cg_cpu_conv2d_forward(const cg_tensor *x, const cg_tensor *weight, const cg_tensor *bias,
                          const cg_window2d *window, cg_unary_op op, const double *params,
                          cg_tensor *out);
int cg_cpu_conv2d_backward_input(const cg_tensor *grad_out, const cg_tensor *weight,
                                 const cg_window2d *window, cg_tensor *grad_x);
int cg_cpu_conv2d_backward_weight(const cg_tensor *grad_out, const cg_tensor *x,
                                  const cg_window2d *window, cg_tensor *grad_weight);
int cg_cpu_max_pool2d(const cg_tensor *x, const cg_window2d *window, cg_tensor *out,
                      cg_tensor *indices);
int cg_cpu_max_pool2d_backward(const cg_tensor *grad_out, const cg_tensor *indices,
                               const cg_window2d *window, cg_tensor *grad_x);

#endif
