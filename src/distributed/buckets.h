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

/* Where the next bucket is to be packed: host memory of at least the bucket size that the
 * exchange reads in place (a transport's shared memory), or NULL for a buffer of the run's own. */
typedef void *(*cg_bucket_place)(void);

/* Runs exchange over the elements of tensors (not NULL, contiguous, on any device; the callers
 * check): the tensors of each
 * dtype in order, concatenated and cut into buckets of at most bucket_bytes (at least one
 * element), each read into a host buffer (from place, when not NULL), exchanged and written back.
 * With weights (NULL: all 1), tensor i's elements are multiplied by weights[i] as they are read,
 * which needs float tensors where a weight is not 1 (the callers check). Ranks that pass tensors of
 * the same shapes and dtypes cut the same buckets. Empty tensors and count 0 are allowed. 0, or -1
 * with the error of the exchange or of a copy. */
int cg_buckets_run(cg_tensor *const *tensors, const double *weights, int count, size_t bucket_bytes,
                   cg_bucket_place place, cg_bucket_exchange exchange, void *userdata);

/* The pieces of cg_buckets_run for a caller that exchanges a bucket later than it packs it: reads
 * the elements of tensors (all of dtype, contiguous, on any device) concatenated into buffer,
 * tensor i's times weights[i] (NULL: all 1; float tensors where a weight is not 1). 0, or -1 with
 * the error of a copy. */
int cg_buckets_pack(cg_tensor *const *tensors, const double *weights, int count, cg_dtype dtype,
                    void *buffer);
/* Writes buffer back over the elements of tensors, as cg_buckets_pack read them. 0, or -1. */
int cg_buckets_unpack(cg_tensor *const *tensors, int count, cg_dtype dtype, void *buffer);

#endif
