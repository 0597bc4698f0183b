/* Bucketing for the collectives: the elements of many tensors travel packed into a few large host
 * buffers, so that a model's many small gradients cost a few messages rather than one each. */
#ifndef CG_DISTRIBUTED_BUCKETS_H
#define CG_DISTRIBUTED_BUCKETS_H

#include <stddef.h>

#include "cgrad.h"

/* The bucket size that the collectives use. */
enum { CG_BUCKET_BYTES = 4 << 20 };

/* Exchanges count elements of dtype in buffer (host memory) in place. 0, or -1 with an error. */
typedef int (*cg_bucket_exchange)(void *buffer, int64_t count, cg_dtype dtype, void *userdata);

/* Runs exchange over the elements of tensors (not NULL, contiguous, on any device; the callers
 * check): the tensors of each
 * dtype in order, concatenated and cut into buckets of at most bucket_bytes (at least one
 * element), each read into a host buffer, exchanged and written back. Ranks that pass tensors of
 * the same shapes and dtypes cut the same buckets. Empty tensors and count 0 are allowed. 0, or
 * -1 with the error of the exchange or of a copy. */
int cg_buckets_run(cg_tensor *const *tensors, int count, size_t bucket_bytes,
                   cg_bucket_exchange exchange, void *userdata);

#endif
