/* Where fit, evaluate and predict get their batches: tensors in memory, or a data set through its
 * loader. One training loop and one evaluation loop serve both kinds. */
#ifndef CG_NN_BATCH_SOURCE_H
#define CG_NN_BATCH_SOURCE_H

#include "cgrad.h"

typedef struct cg_batch_source cg_batch_source;

typedef struct {
    /* Begins epoch: fixes its sample order. 0, or -1 with an error. */
    int (*start_epoch)(cg_batch_source *source, int epoch);
    /* The epoch's next batch, owned by the current scope; *y is NULL when there are no targets.
     * 1 with a batch, 0 after the last one, -1 with an error. */
    int (*next)(cg_batch_source *source, cg_tensor **x, cg_tensor **y);
    void (*free)(cg_batch_source *source);
} cg_batch_source_class;

struct cg_batch_source {
    const cg_batch_source_class *source_class;
    int64_t samples;
    int batch_size;
    cg_shape sample_shape;
    /* The data-parallel shard this source delivers (cg_batch_source_shard); the constructors
     * set 0 of 1: every batch. */
    int shard_rank, shard_count;
};

/* The shape of one sample of t: its dims after the first. */
cg_shape cg_batch_sample_shape(const cg_tensor *t);

/* Batches of x's samples, with y's matching rows unless y is NULL. With shuffle, each epoch's
 * order is cg_epoch_order's for (seed, epoch). x and y are borrowed. NULL with an error. */
cg_batch_source *cg_tensor_batches(const cg_tensor *x, const cg_tensor *y, int batch_size,
                                   bool shuffle, uint64_t seed);
/* Batches of the data set (borrowed) assembled by a cg_loader: float32 features scaled by the
 * data set's feature scale, and its labels. NULL with an error. */
cg_batch_source *cg_dataset_batches(const cg_dataset *dataset, int batch_size, bool shuffle,
                                    uint64_t seed);

/* Makes source (a tensor or data set source, before cg_batches_on_device wraps it) deliver only
 * rank's shard of each epoch, as cg_shard_batch cuts it: its next gives 0 once the shard is done,
 * which may be one batch before cg_batch_source_batches. Returns source; NULL stays NULL. */
cg_batch_source *cg_batch_source_shard(cg_batch_source *source, int rank, int world);

static inline int cg_batch_source_start_epoch(cg_batch_source *source, int epoch) {
    return source->source_class->start_epoch(source, epoch);
}
static inline int cg_batch_source_next(cg_batch_source *source, cg_tensor **x, cg_tensor **y) {
    return source->source_class->next(source, x, y);
}
/* The number of batches in an epoch; for a shard, the number of global batches. */
static inline int64_t cg_batch_source_batches(const cg_batch_source *source) {
    const int64_t global_batch = (int64_t)source->batch_size * source->shard_count;
    return (source->samples + global_batch - 1) / global_batch;
}
/* Frees the source (not the data it reads); NULL is ignored. */
static inline void cg_batch_source_free(cg_batch_source *source) {
    if (source) source->source_class->free(source);
}

#endif
