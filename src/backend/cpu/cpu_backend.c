#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"

static void *cpu_alloc(size_t nbytes) { return cg_alloc(nbytes); }
static void cpu_free(void *data, size_t nbytes) { cg_free(data, nbytes); }

const cg_backend cg_cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy = cg_cpu_copy,
    .fill = cg_cpu_fill,
    .iota = cg_cpu_iota,
    .random = cg_cpu_random,
    .unary = cg_cpu_unary,
    .unary_backward = cg_cpu_unary_backward,
    .bias_activation = cg_cpu_bias_activation,
    .binary = cg_cpu_binary,
    .where = cg_cpu_where,
    .reduce = cg_cpu_reduce,
    .arg_reduce = cg_cpu_arg_reduce,
    .matmul = cg_cpu_matmul,
    .softmax = cg_cpu_softmax,
    .softmax_backward = cg_cpu_softmax_backward,
    .gather = cg_cpu_gather,
    .scatter_add = cg_cpu_scatter_add,
    .sum_of_squares = cg_cpu_sum_of_squares,
    .optimizer_update = cg_cpu_optimizer_update,
    .conv2d_forward = cg_cpu_conv2d_forward,
    .conv2d_backward_input = cg_cpu_conv2d_backward_input,
    .conv2d_backward_weight = cg_cpu_conv2d_backward_weight,
    .max_pool2d = cg_cpu_max_pool2d,
    .max_pool2d_backward = cg_cpu_max_pool2d_backward,
};

void cg_cpu_loop_over(cg_strided_loop *loop, const cg_tensor *first, int count,
                      const cg_tensor *const *operands) {
    const int64_t *strides[CG_LOOP_MAX_OPERANDS];
    for (int k = 0; k < count; k++)
        strides[k] = operands[k]->strides;
    cg_strided_loop_init(loop, first->ndim, first->shape, count, strides);
}

int64_t cg_cpu_read_index(const cg_tensor *index, int64_t offset) {
    const char *base = cg_tensor_data(index);
    return index->dtype == CG_INT32 ? ((const int32_t *)base)[offset]
                                    : ((const int64_t *)base)[offset];
}

#define COPY_ROWS(TD, TS)                                                                          \
    do {                                                                                           \
        TD *d = cg_tensor_data(dst);                                                               \
        const TS *s = cg_tensor_data(src);                                                         \
        const int64_t n = cg_strided_row_length(loop);                                             \
        const int64_t sd = cg_strided_row_stride(loop, 0), ss = cg_strided_row_stride(loop, 1);    \
        while (cg_strided_loop_next(loop)) {                                                       \
            TD *drow = d + loop->offsets[0];                                                       \
            const TS *srow = s + loop->offsets[1];                                                 \
            for (int64_t i = 0; i < n; i++)                                                        \
                drow[i * sd] = CG_CPU_CONVERT(TD, srow[i * ss]);                                   \
        }                                                                                          \
    } while (0)

/* One function per source type, each dispatching on the destination type. */
#define DEFINE_COPY_FROM(TS)                                                                       \
    static void copy_from_##TS(cg_tensor *dst, const cg_tensor *src, cg_strided_loop *loop) {      \
        CG_CPU_ANY_DISPATCH(dst->dtype, COPY_ROWS_FROM_##TS);                                      \
    }
#define COPY_ROWS_FROM_float(TD) COPY_ROWS(TD, float)
#define COPY_ROWS_FROM_double(TD) COPY_ROWS(TD, double)
#define COPY_ROWS_FROM_int32_t(TD) COPY_ROWS(TD, int32_t)
#define COPY_ROWS_FROM_int64_t(TD) COPY_ROWS(TD, int64_t)
#define COPY_ROWS_FROM_uint8_t(TD) COPY_ROWS(TD, uint8_t)
DEFINE_COPY_FROM(float)
DEFINE_COPY_FROM(double)
DEFINE_COPY_FROM(int32_t)
DEFINE_COPY_FROM(int64_t)
DEFINE_COPY_FROM(uint8_t)

int cg_cpu_copy(cg_tensor *dst, const cg_tensor *src) {
    cg_strided_loop loop;
    cg_cpu_loop_over(&loop, dst, 2, (const cg_tensor *[]){dst, src});
#define COPY_FROM(TS) copy_from_##TS(dst, src, &loop)
    CG_CPU_ANY_DISPATCH(src->dtype, COPY_FROM);
#undef COPY_FROM
    return 0;
}

#define FILL_LOOP(SD)                                                                              \
    for (int64_t i = 0; i < n; i++)                                                                \
    d[i * (SD)] = v

/* The unit-stride loop is the one the compiler vectorises. */
#define DEFINE_FILL_ROW(T)                                                                         \
    static void fill_row_##T(const cg_cpu_row_job *job, const int64_t *offsets, int64_t n) {       \
        T *d = (T *)job->output + offsets[0];                                                      \
        const T v = CG_CPU_CONVERT(T, job->params[0]);                                             \
        const int64_t sd = cg_strided_row_stride(&job->loop, 0);                                   \
        if (sd != 1)                                                                               \
            FILL_LOOP(sd);                                                                         \
        else                                                                                       \
            FILL_LOOP(1);                                                                          \
    }
DEFINE_FILL_ROW(float)
DEFINE_FILL_ROW(double)
DEFINE_FILL_ROW(int32_t)
DEFINE_FILL_ROW(int64_t)
DEFINE_FILL_ROW(uint8_t)

int cg_cpu_fill(cg_tensor *dst, double value) {
    cg_cpu_row_job job = {.output = cg_tensor_data(dst), .params = {value}};
#define PICK_FILL_ROW(T) job.row = fill_row_##T
    CG_CPU_ANY_DISPATCH(dst->dtype, PICK_FILL_ROW);
#undef PICK_FILL_ROW
    cg_cpu_loop_over(&job.loop, dst, 1, (const cg_tensor *[]){dst});
    cg_cpu_run_rows(&job);
    return 0;
}

int cg_cpu_iota(cg_tensor *out, double start, double step) {
    const int64_t n = cg_shape_numel(out->ndim, out->shape);
#define IOTA(T)                                                                                    \
    do {                                                                                           \
        T *d = cg_tensor_data(out);                                                                \
        for (int64_t i = 0; i < n; i++)                                                            \
            d[i] = CG_CPU_CONVERT(T, start + (double)i * step);                                    \
    } while (0)
    CG_CPU_ANY_DISPATCH(out->dtype, IOTA);
#undef IOTA
    return 0;
}

int cg_cpu_random(cg_tensor *out, cg_random_kind kind, uint64_t key, uint64_t counter, double a,
                  double b) {
    const int64_t n = cg_shape_numel(out->ndim, out->shape);
#define RANDOM(T)                                                                                  \
    do {                                                                                           \
        T *d = cg_tensor_data(out);                                                                \
        for (int64_t i = 0; i < n; i++) {                                                          \
            uint64_t position = counter + (uint64_t)i;                                             \
            if (kind == CG_RANDOM_UNIFORM)                                                         \
                d[i] = (T)(a + (b - a) * cg_random_uniform(key, position));                        \
            else if (kind == CG_RANDOM_NORMAL)                                                     \
                d[i] = (T)(a + b * cg_random_normal(key, position));                               \
            else                                                                                   \
                d[i] = CG_CPU_CONVERT(                                                             \
                    T, a + (double)(cg_random_bits(key, position) % (uint64_t)(b - a)));           \
        }                                                                                          \
    } while (0)
    CG_CPU_ANY_DISPATCH(out->dtype, RANDOM);
#undef RANDOM
    return 0;
}
