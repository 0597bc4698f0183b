/* The sample order of an epoch, shared by the loader and fit's in-memory batches, so that both
 * give the same batches for a seed. */
#ifndef CG_IO_LOADER_H
#define CG_IO_LOADER_H

#include <stdbool.h>
#include <stdint.h>

/* Writes 0 .. count-1 into order; with shuffle, permuted by a Fisher-Yates shuffle drawn from
 * (seed, epoch) alone, so that a run resumed at an epoch sees the order it would have seen. */
void cg_epoch_order(int64_t *order, int64_t count, bool shuffle, uint64_t seed, int epoch);

#endif
