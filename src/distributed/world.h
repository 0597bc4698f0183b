/* What the library's data-parallel fit uses of the world beyond include/cgrad/distributed.h. */
#ifndef CG_DISTRIBUTED_WORLD_H
#define CG_DISTRIBUTED_WORLD_H

#include "cgrad.h"

/* Replaces each tensor by the sum over the ranks of weights[i] times that tensor, in place, in
 * one pass of packing (a rank's share of a mean over unequal shards, say); the requirements of
 * cg_distributed_all_reduce, and float tensors wherever a weight is not 1. 0, or -1 with an
 * error (the tensors are then unspecified). */
int cg_distributed_all_reduce_weighted(cg_tensor *const *tensors, const double *weights, int count);

/* Whether the world's sums go through shared memory (all its ranks on one machine, see
 * distributed/mpi_transport.c): false in a world of one. */
bool cg_distributed_sums_in_shared_memory(void);

/* The transport's non-blocking sum (sum_start, sum_test and sum_wait of distributed/transport.h)
 * for callers that overlap it with work of their own; only in a world of more than one rank. */
void *cg_distributed_sum_start(void *buffer, int64_t count, cg_dtype dtype);
int cg_distributed_sum_test(void *request, bool *done);
int cg_distributed_sum_wait(void *request);

#endif
