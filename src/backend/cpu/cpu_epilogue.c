/* The epilogue of a product on the CPU: the bias added and the activation applied in one pass
 * over the output the product has just written, in place. */
#include <tgmath.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/thread_pool.h"
#include "ops/scalar_math.h"

/* Elements below which a share of the pass is not worth a thread. */
enum { EPILOGUE_GRAIN = 1 << 15 };

/* The output is cut into lines: a row of channels (inner == 1, a bias value per element) or a
 * channel's plane of inner elements (one bias value for the line). */
typedef struct {
    void *out;
    const void *bias;
    int64_t channels, inner, length;
    cg_unary_op op;
    double params[2];
} epilogue_job;

#define EPILOGUE_LOOP(T, OP, VALUE)                                                                \
    for (int64_t i = 0; i < n; i++)                                                                \
    line[i] = CG_UNARY_FORWARD(T, OP, VALUE, p0, p1)

/* relu and none as constants, so the compiler vectorises the loops a training step runs. */
#define EPILOGUE_OPS(T, VALUE)                                                                     \
    do {                                                                                           \
        if (op == CG_UNARY_RELU)                                                                   \
            EPILOGUE_LOOP(T, CG_UNARY_RELU, VALUE);                                                \
        else if (op == CG_UNARY_IDENTITY)                                                          \
            EPILOGUE_LOOP(T, CG_UNARY_IDENTITY, VALUE);                                            \
        else                                                                                       \
            EPILOGUE_LOOP(T, op, VALUE);                                                           \
    } while (0)

/* Inlining the scalar math is what lets the constant op fold away.
 * epilogue_planes_##T runs lines [0, lines) of planes, length elements each and stride apart,
 * with one bias value per line (bias[l], skipped when NULL): the lines of a convolution's band.
 * epilogue_lines_##T runs lines [begin, end) of a job. */
#define DEFINE_EPILOGUE_LINES(T)                                                                   \
    static __attribute__((flatten)) void epilogue_planes_##T(                                      \
        T *out, int64_t lines, int64_t stride, int64_t n, const T *bias, cg_unary_op op,           \
        const double *params) {                                                                    \
        const T p0 = (T)params[0], p1 = (T)params[1];                                              \
        for (int64_t l = 0; l < lines; l++) {                                                      \
            T *restrict line = out + l * stride;                                                   \
            if (bias) {                                                                            \
                const T b = bias[l];                                                               \
                EPILOGUE_OPS(T, line[i] + b);                                                      \
            } else {                                                                               \
                EPILOGUE_OPS(T, line[i]);                                                          \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static __attribute__((flatten)) void epilogue_lines_##T(int64_t begin, int64_t end,            \
                                                            void *context) {                       \
        const epilogue_job *job = context;                                                         \
        const T *bias = job->bias;                                                                 \
        const T p0 = (T)job->params[0], p1 = (T)job->params[1];                                    \
        const cg_unary_op op = job->op;                                                            \
        const int64_t n = job->length;                                                             \
        for (int64_t l = begin; l < end; l++) {                                                    \
            T *line = (T *)job->out + l * n;                                                       \
            if (job->inner > 1) {                                                                  \
                epilogue_planes_##T(line, 1, n, n, bias ? bias + l % job->channels : NULL, op,     \
                                    job->params);                                                  \
            } else if (!bias) {                                                                    \
                EPILOGUE_OPS(T, line[i]);                                                          \
            } else {                                                                               \
                EPILOGUE_OPS(T, line[i] + bias[i]);                                                \
            }                                                                                      \
        }                                                                                          \
    }
DEFINE_EPILOGUE_LINES(float)
DEFINE_EPILOGUE_LINES(double)

void cg_cpu_epilogue_planes(cg_dtype dtype, void *out, int64_t lines, int64_t stride,
                            int64_t length, const void *bias, cg_unary_op op,
                            const double *params) {
    if (!bias && op == CG_UNARY_IDENTITY) return;
    if (dtype == CG_FLOAT32)
        epilogue_planes_float(out, lines, stride, length, bias, op, params);
    else
        epilogue_planes_double(out, lines, stride, length, bias, op, params);
}

int cg_cpu_bias_activation(cg_tensor *out, const cg_tensor *bias, int64_t channels, int64_t inner,
                           cg_unary_op op, const double *params) {
    const int64_t length = inner > 1 ? inner : channels;
    const int64_t count = length ? cg_shape_numel(out->ndim, out->shape) / length : 0;
    epilogue_job job = {.out = cg_tensor_data(out),
                        .bias = bias ? cg_tensor_data(bias) : NULL,
                        .channels = channels,
                        .inner = inner,
                        .length = length,
                        .op = op,
                        .params = {params[0], params[1]}};
    /* Every element is computed on its own, so the split never changes a result. */
    cg_parallel_for(count, EPILOGUE_GRAIN / (length + 1) + 1,
                    out->dtype == CG_FLOAT32 ? epilogue_lines_float : epilogue_lines_double, &job);
    return 0;
}
