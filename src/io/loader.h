/* The sample order of an epoch, shared by the loader and fit's in-memory batches, so that both
 * give the same batches for a seed. */
#ifndef CG_IO_LOADER_H
#define CG_IO_LOADER_H

#include <stdbool.h>
#include <stdint.h>

/* Writes 0 .. count-1 into order; with shuffle, permuted by a Fisher-Yates shuffle drawn from
 * (seed, epoch) alone, so that a run resumed at an epoch sees the order it would have seen. */
void cg_epoch_order(int64_t *order, int64_t count, bool shuffle, uint64_t seed, int epoch);

/* Data-parallel shards of an epoch order of samples: each global batch is the next
 * world * batch_size entries, and rank takes the rank-th batch_size of them. The start in the
 * order of the shard's batch index goes to *start; returns its size, 0 when the shard has no
 * sample in that global batch (only possible in the last one). */
int64_t cg_shard_batch(int64_t samples, int64_t batch_size, int rank, int world, int64_t index,
                       int64_t *start);
/* The number of batches with samples in rank's shard. */
int64_t cg_shard_batch_count(int64_t samples, int64_t batch_size, int rank, int world);

typedef struct cg_loader cg_loader;
/* Makes the loader deliver only rank's shard of each epoch (world 1: every batch), from the next
 * cg_loader_start_epoch on. 0, or -1 with an error when rank is not in [0, world). */
int cg_loader_set_shard(cg_loader *loader, int rank, int world);

#endif
