#include "backend/cpu/strided_loop.h"

#include <string.h>

void cg_strided_loop_init(cg_strided_loop *loop, int ndim, const int64_t *shape, int operand_count,
                          const int64_t *const *strides) {
    memset(loop, 0, sizeof *loop);
    loop->operand_count = operand_count;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    /* Drop size-1 dims, then merge each dim into the previous kept one when every operand steps
     * through both as one. */
    int kept = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (kept > 0) {
            bool mergeable = true;
            for (int k = 0; k < operand_count; k++)
                if (loop->strides[k][kept - 1] != strides[k][d] * shape[d]) mergeable = false;
            if (mergeable) {
                loop->shape[kept - 1] *= shape[d];
                for (int k = 0; k < operand_count; k++)
                    loop->strides[k][kept - 1] = strides[k][d];
                continue;
            }
        }
        loop->shape[kept] = shape[d];
        for (int k = 0; k < operand_count; k++)
            loop->strides[k][kept] = strides[k][d];
        kept++;
    }
    if (kept == 0) {
        loop->shape[0] = 1;
        kept = 1;
    }
    loop->ndim = kept;
    loop->rows_left = numel == 0 ? 0 : numel / loop->shape[kept - 1];
}

int64_t cg_strided_row_count(const cg_strided_loop *loop) {
    int64_t rows = 1;
    for (int d = 0; d < loop->ndim - 1; d++)
        rows *= loop->shape[d];
    return rows;
}

void cg_strided_loop_seek(cg_strided_loop *loop, int64_t first, int64_t count) {
    /* The odometer's digits of row first, innermost outer dim fastest. */
    for (int d = loop->ndim - 2; d >= 0; d--) {
        loop->counter[d] = first % loop->shape[d];
        first /= loop->shape[d];
        for (int k = 0; k < loop->operand_count; k++)
            loop->offsets[k] += loop->counter[d] * loop->strides[k][d];
    }
    loop->rows_left = count;
}

bool cg_strided_loop_next(cg_strided_loop *loop) {
    if (loop->rows_left == 0) return false;
    loop->rows_left--;
    if (!loop->started) {
        loop->started = true;
        return true;
    }
    /* Odometer over the outer dims (all but the innermost). */
    for (int d = loop->ndim - 2; d >= 0; d--) {
        loop->counter[d]++;
        for (int k = 0; k < loop->operand_count; k++)
            loop->offsets[k] += loop->strides[k][d];
        if (loop->counter[d] < loop->shape[d]) return true;
        for (int k = 0; k < loop->operand_count; k++)
            loop->offsets[k] -= loop->strides[k][d] * loop->shape[d];
        loop->counter[d] = 0;
    }
    return true;
}
