#include "backend/cpu/cpu_kernels.h"
#include "core/error.h"

/* Both kernels walk the index's shape; the indexed operand is walked with a zero stride along dim
 * and the index value supplies the offset there. */
static void index_loop(cg_strided_loop *loop, const cg_tensor *index, const cg_tensor *dense,
                       const cg_tensor *indexed, int dim, int64_t *indexed_strides) {
    for (int d = 0; d < indexed->ndim; d++) indexed_strides[d] = indexed->strides[d];
    indexed_strides[dim] = 0;
    cg_strided_loop_init(loop, index->ndim, index->shape, 3,
                         (const int64_t *[]){index->strides, dense->strides, indexed_strides});
}

static bool index_in_range(int64_t value, int64_t size) {
    if (value >= 0 && value < size) return true;
    cg_error_set("index %lld is out of range for a dimension of size %lld", (long long)value,
                 (long long)size);
    return false;
}

int cg_cpu_gather(const cg_tensor *x, int dim, const cg_tensor *index, cg_tensor *out) {
    int64_t x_strides[CG_MAX_DIMS];
    cg_strided_loop loop;
    index_loop(&loop, index, out, x, dim, x_strides);
    const int64_t n = cg_strided_row_length(&loop), size = x->shape[dim], step = x->strides[dim];
    const int64_t si = cg_strided_row_stride(&loop, 0), so = cg_strided_row_stride(&loop, 1);
    const int64_t sx = cg_strided_row_stride(&loop, 2);
#define GATHER_ROWS(T)                                                                             \
    do {                                                                                           \
        const T *xs = cg_tensor_data(x);                                                           \
        T *os = cg_tensor_data(out);                                                               \
        while (cg_strided_loop_next(&loop)) {                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                int64_t k = cg_cpu_read_index(index, loop.offsets[0] + i * si);                    \
                if (!index_in_range(k, size)) return -1;                                           \
                os[loop.offsets[1] + i * so] = xs[loop.offsets[2] + i * sx + k * step];            \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    CG_CPU_ANY_DISPATCH(x->dtype, GATHER_ROWS);
#undef GATHER_ROWS
    return 0;
}

int cg_cpu_scatter_add(cg_tensor *target, int dim, const cg_tensor *index, const cg_tensor *src) {
    int64_t target_strides[CG_MAX_DIMS];
    cg_strided_loop loop;
    index_loop(&loop, index, src, target, dim, target_strides);
    const int64_t n = cg_strided_row_length(&loop), size = target->shape[dim];
    const int64_t step = target->strides[dim];
    const int64_t si = cg_strided_row_stride(&loop, 0), ss = cg_strided_row_stride(&loop, 1);
    const int64_t st = cg_strided_row_stride(&loop, 2);
#define SCATTER_ROWS(T)                                                                            \
    do {                                                                                           \
        const T *ss_data = cg_tensor_data(src);                                                    \
        T *ts = cg_tensor_data(target);                                                            \
        while (cg_strided_loop_next(&loop)) {                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                int64_t k = cg_cpu_read_index(index, loop.offsets[0] + i * si);                    \
                if (!index_in_range(k, size)) return -1;                                           \
                ts[loop.offsets[2] + i * st + k * step] += ss_data[loop.offsets[1] + i * ss];      \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    CG_CPU_ANY_DISPATCH(target->dtype, SCATTER_ROWS);
#undef SCATTER_ROWS
    return 0;
}
