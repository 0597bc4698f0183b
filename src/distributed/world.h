/* What the library's data-parallel fit uses of the world beyond include/cgrad/distributed.h. */
#ifndef CG_DISTRIBUTED_WORLD_H
#define CG_DISTRIBUTED_WORLD_H

#include "cgrad.h"

/* Replaces each tensor by the sum over the ranks of weights[i] times that tensor, in place, in
 * one pass of packing (a rank's share of a mean over unequal shards, say); the requirements of
 * cg_distributed_all_reduce, and float tensors wherever a weight is not 1. 0, or -1 with an
 * error (the tensors are then unspecified). */
int cg_distributed_all_reduce_weighted(cg_tensor *const *tensors, const double *weights, int count);

#endif
