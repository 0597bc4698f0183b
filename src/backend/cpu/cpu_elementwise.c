#include <math.h>
#include <tgmath.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/thread_pool.h"
#include "ops/scalar_math.h"

/* Elements below which a share of an elementwise kernel is not worth a thread. */
enum { ELEMENTWISE_GRAIN = 1 << 15 };

/* A walk that is one row (the operands contiguous alike) is split over its elements, any other
 * over its rows. Each element is computed on its own, so the split never changes a result. */
static void run_rows(int64_t begin, int64_t end, void *context) {
    const cg_cpu_row_job *job = context;
    cg_strided_loop loop = job->loop;
    if (cg_strided_row_count(&loop) == 1) {
        int64_t offsets[CG_LOOP_MAX_OPERANDS];
        for (int k = 0; k < loop.operand_count; k++)
            offsets[k] = begin * cg_strided_row_stride(&loop, k);
        job->row(job, offsets, end - begin);
        return;
    }
    cg_strided_loop_seek(&loop, begin, end - begin);
    const int64_t n = cg_strided_row_length(&loop);
    while (cg_strided_loop_next(&loop))
        job->row(job, loop.offsets, n);
}

void cg_cpu_run_rows(cg_cpu_row_job *job) {
    const int64_t rows = cg_strided_row_count(&job->loop), n = cg_strided_row_length(&job->loop);
    if (rows == 1)
        cg_parallel_for(n, ELEMENTWISE_GRAIN, run_rows, job);
    else
        cg_parallel_for(rows, ELEMENTWISE_GRAIN / (n + 1) + 1, run_rows, job);
}

/* Each row function runs its loop once with every stride 1 and the ops a training step spends
 * its time in as constants, where the compiler vectorises it, and once with run-time strides and
 * op for everything else. The scalar math shared with other backends is in ops/scalar_math.h. */
#define ROW_STRIDE(k) cg_strided_row_stride(&job->loop, k)
/* Inlining the scalar math into every loop is what lets the constant op fold away. */
#define ROW_FUNCTION static __attribute__((flatten))

#define UNARY_LOOP(T, OP, SX, SO)                                                                  \
    for (int64_t i = 0; i < n; i++)                                                                \
    o[i * (SO)] = CG_UNARY_FORWARD(T, OP, x[i * (SX)], p0, p1)

#define DEFINE_UNARY_ROW(T)                                                                        \
    ROW_FUNCTION void unary_row_##T(const cg_cpu_row_job *job, const int64_t *offsets,             \
                                    int64_t n) {                                                   \
        const T *x = (const T *)job->inputs[0] + offsets[0];                                       \
        T *o = (T *)job->output + offsets[1];                                                      \
        const T p0 = (T)job->params[0], p1 = (T)job->params[1];                                    \
        const cg_unary_op op = (cg_unary_op)job->op;                                               \
        if (ROW_STRIDE(0) != 1 || ROW_STRIDE(1) != 1)                                              \
            UNARY_LOOP(T, op, ROW_STRIDE(0), ROW_STRIDE(1));                                       \
        else if (op == CG_UNARY_RELU)                                                              \
            UNARY_LOOP(T, CG_UNARY_RELU, 1, 1);                                                    \
        else if (op == CG_UNARY_MUL_SCALAR)                                                        \
            UNARY_LOOP(T, CG_UNARY_MUL_SCALAR, 1, 1);                                              \
        else if (op == CG_UNARY_ADD_SCALAR)                                                        \
            UNARY_LOOP(T, CG_UNARY_ADD_SCALAR, 1, 1);                                              \
        else                                                                                       \
            UNARY_LOOP(T, op, 1, 1);                                                               \
    }
DEFINE_UNARY_ROW(float)
DEFINE_UNARY_ROW(double)

int cg_cpu_unary(cg_unary_op op, const double *params, const cg_tensor *x, cg_tensor *out) {
    cg_cpu_row_job job = {.inputs = {cg_tensor_data(x)},
                          .output = cg_tensor_data(out),
                          .op = (int)op,
                          .params = {params[0], params[1]},
                          .row = x->dtype == CG_FLOAT32 ? unary_row_float : unary_row_double};
    cg_cpu_loop_over(&job.loop, x, 2, (const cg_tensor *[]){x, out});
    cg_cpu_run_rows(&job);
    return 0;
}

#define UNARY_BACKWARD_LOOP(T, OP, SX, SY, SG, SO)                                                 \
    for (int64_t i = 0; i < n; i++)                                                                \
    o[i * (SO)] = g[i * (SG)] * CG_UNARY_DERIVATIVE(T, OP, x[i * (SX)], y[i * (SY)], p0, p1)

#define DEFINE_UNARY_BACKWARD_ROW(T)                                                               \
    ROW_FUNCTION void unary_backward_row_##T(const cg_cpu_row_job *job, const int64_t *offsets,    \
                                             int64_t n) {                                          \
        const T *x = (const T *)job->inputs[0] + offsets[0];                                       \
        const T *y = (const T *)job->inputs[1] + offsets[1];                                       \
        const T *g = (const T *)job->inputs[2] + offsets[2];                                       \
        T *o = (T *)job->output + offsets[3];                                                      \
        const T p0 = (T)job->params[0], p1 = (T)job->params[1];                                    \
        const cg_unary_op op = (cg_unary_op)job->op;                                               \
        if (ROW_STRIDE(0) != 1 || ROW_STRIDE(1) != 1 || ROW_STRIDE(2) != 1 || ROW_STRIDE(3) != 1)  \
            UNARY_BACKWARD_LOOP(T, op, ROW_STRIDE(0), ROW_STRIDE(1), ROW_STRIDE(2),                \
                                ROW_STRIDE(3));                                                    \
        else if (op == CG_UNARY_RELU)                                                              \
            UNARY_BACKWARD_LOOP(T, CG_UNARY_RELU, 1, 1, 1, 1);                                     \
        else                                                                                       \
            UNARY_BACKWARD_LOOP(T, op, 1, 1, 1, 1);                                                \
    }
DEFINE_UNARY_BACKWARD_ROW(float)
DEFINE_UNARY_BACKWARD_ROW(double)

int cg_cpu_unary_backward(cg_unary_op op, const double *params, const cg_tensor *x,
                          const cg_tensor *y, const cg_tensor *grad_out, cg_tensor *grad_x) {
    cg_cpu_row_job job = {
        .inputs = {cg_tensor_data(x), cg_tensor_data(y), cg_tensor_data(grad_out)},
        .output = cg_tensor_data(grad_x),
        .op = (int)op,
        .params = {params[0], params[1]},
        .row = x->dtype == CG_FLOAT32 ? unary_backward_row_float : unary_backward_row_double};
    cg_cpu_loop_over(&job.loop, x, 4, (const cg_tensor *[]){x, y, grad_out, grad_x});
    cg_cpu_run_rows(&job);
    return 0;
}

#define BINARY_LOOP(T, OP, SA, SB, SO)                                                             \
    for (int64_t i = 0; i < n; i++)                                                                \
    o[i * (SO)] = CG_BINARY_FORWARD(T, OP, a[i * (SA)], b[i * (SB)])

#define DEFINE_BINARY_ROW(T)                                                                       \
    ROW_FUNCTION void binary_row_##T(const cg_cpu_row_job *job, const int64_t *offsets,            \
                                     int64_t n) {                                                  \
        const T *a = (const T *)job->inputs[0] + offsets[0];                                       \
        const T *b = (const T *)job->inputs[1] + offsets[1];                                       \
        T *o = (T *)job->output + offsets[2];                                                      \
        const cg_binary_op op = (cg_binary_op)job->op;                                             \
        if (ROW_STRIDE(0) != 1 || ROW_STRIDE(1) != 1 || ROW_STRIDE(2) != 1)                        \
            BINARY_LOOP(T, op, ROW_STRIDE(0), ROW_STRIDE(1), ROW_STRIDE(2));                       \
        else if (op == CG_BINARY_ADD)                                                              \
            BINARY_LOOP(T, CG_BINARY_ADD, 1, 1, 1);                                                \
        else if (op == CG_BINARY_SUB)                                                              \
            BINARY_LOOP(T, CG_BINARY_SUB, 1, 1, 1);                                                \
        else if (op == CG_BINARY_MUL)                                                              \
            BINARY_LOOP(T, CG_BINARY_MUL, 1, 1, 1);                                                \
        else                                                                                       \
            BINARY_LOOP(T, op, 1, 1, 1);                                                           \
    }
DEFINE_BINARY_ROW(float)
DEFINE_BINARY_ROW(double)
DEFINE_BINARY_ROW(int32_t)
DEFINE_BINARY_ROW(int64_t)
DEFINE_BINARY_ROW(uint8_t)

int cg_cpu_binary(cg_binary_op op, const cg_tensor *a, const cg_tensor *b, cg_tensor *out) {
    cg_cpu_row_job job = {
        .inputs = {cg_tensor_data(a), cg_tensor_data(b)}, .output = cg_tensor_data(out), .op = op};
#define PICK_BINARY_ROW(T) job.row = binary_row_##T
    CG_CPU_ANY_DISPATCH(a->dtype, PICK_BINARY_ROW);
#undef PICK_BINARY_ROW
    cg_cpu_loop_over(&job.loop, out, 3, (const cg_tensor *[]){a, b, out});
    cg_cpu_run_rows(&job);
    return 0;
}

#define WHERE_LOOP(T, SC, SA, SB, SO)                                                              \
    do {                                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const T av = a[i * (SA)], bv = b[i * (SB)]; /* both loaded: the choice is a blend */   \
            o[i * (SO)] = c[i * (SC)] != 0 ? av : bv;                                              \
        }                                                                                          \
    } while (0)

#define DEFINE_WHERE_ROW(T)                                                                        \
    ROW_FUNCTION void where_row_##T(const cg_cpu_row_job *job, const int64_t *offsets,             \
                                    int64_t n) {                                                   \
        const T *c = (const T *)job->inputs[0] + offsets[0];                                       \
        const T *a = (const T *)job->inputs[1] + offsets[1];                                       \
        const T *b = (const T *)job->inputs[2] + offsets[2];                                       \
        T *o = (T *)job->output + offsets[3];                                                      \
        if (ROW_STRIDE(0) != 1 || ROW_STRIDE(1) != 1 || ROW_STRIDE(2) != 1 || ROW_STRIDE(3) != 1)  \
            WHERE_LOOP(T, ROW_STRIDE(0), ROW_STRIDE(1), ROW_STRIDE(2), ROW_STRIDE(3));             \
        else                                                                                       \
            WHERE_LOOP(T, 1, 1, 1, 1);                                                             \
    }
DEFINE_WHERE_ROW(float)
DEFINE_WHERE_ROW(double)
DEFINE_WHERE_ROW(int32_t)
DEFINE_WHERE_ROW(int64_t)
DEFINE_WHERE_ROW(uint8_t)

int cg_cpu_where(const cg_tensor *cond, const cg_tensor *a, const cg_tensor *b, cg_tensor *out) {
    cg_cpu_row_job job = {.inputs = {cg_tensor_data(cond), cg_tensor_data(a), cg_tensor_data(b)},
                          .output = cg_tensor_data(out)};
#define PICK_WHERE_ROW(T) job.row = where_row_##T
    CG_CPU_ANY_DISPATCH(a->dtype, PICK_WHERE_ROW);
#undef PICK_WHERE_ROW
    cg_cpu_loop_over(&job.loop, out, 4, (const cg_tensor *[]){cond, a, b, out});
    cg_cpu_run_rows(&job);
    return 0;
}
