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
    loop->counter[0] = -1; /* marks "before the first row" */
}

bool cg_strided_loop_next(cg_strided_loop *loop) {
    if (loop->rows_left == 0) return false;
    loop->rows_left--;
    if (loop->counter[0] == -1) {
        loop->counter[0] = 0;
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
