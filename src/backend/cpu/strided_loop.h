/* The one way CPU kernels walk strided operands of a common shape: dims are coalesced where every
 * operand is laid out contiguously across them, then the kernel gets one row (the innermost dim)
 * at a time with each operand's offset. */
#ifndef CG_BACKEND_CPU_STRIDED_LOOP_H
#define CG_BACKEND_CPU_STRIDED_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "cgrad.h"

enum { CG_LOOP_MAX_OPERANDS = 4 };

typedef struct {
    int ndim;
    int operand_count;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_LOOP_MAX_OPERANDS][CG_MAX_DIMS];
    /* Iteration state. */
    int64_t counter[CG_MAX_DIMS];
    int64_t offsets[CG_LOOP_MAX_OPERANDS];
    int64_t rows_left;
    bool started;
} cg_strided_loop;

/* Prepares a walk over shape (ndim dims) for operand_count operands with the given strides (in
 * elements). */
void cg_strided_loop_init(cg_strided_loop *loop, int ndim, const int64_t *shape, int operand_count,
                          const int64_t *const *strides);

/* Length of every row and each operand's stride along it. */
static inline int64_t cg_strided_row_length(const cg_strided_loop *loop) {
    return loop->shape[loop->ndim - 1];
}
static inline int64_t cg_strided_row_stride(const cg_strided_loop *loop, int operand) {
    return loop->strides[operand][loop->ndim - 1];
}

/* Number of rows of the walk (the product of all dims but the innermost). */
int64_t cg_strided_row_count(const cg_strided_loop *loop);

/* Restricts a freshly prepared walk to rows [first, first + count), so that disjoint ranges of
 * rows can be walked on different threads. */
void cg_strided_loop_seek(cg_strided_loop *loop, int64_t first, int64_t count);

/* Moves to the next row; its offsets are in loop->offsets. False when every row is done. */
bool cg_strided_loop_next(cg_strided_loop *loop);

#endif
