/* The two batch sources: tensors in memory (rows picked by index_select in the epoch's order, or
 * narrowed views in sample order) and data sets (a cg_loader assembling batches on its thread). */
#include "nn/batch_source.h"

#include <stdlib.h>

#include "core/error.h"
#include "io/loader.h"

cg_shape cg_batch_sample_shape(const cg_tensor *t) {
    const cg_shape shape = cg_tensor_shape(t);
    cg_shape sample = {.ndim = shape.ndim - 1};
    for (int k = 1; k < shape.ndim; k++)
        sample.dims[k - 1] = shape.dims[k];
    return sample;
}

cg_batch_source *cg_batch_source_shard(cg_batch_source *source, int rank, int world) {
    if (source) {
        source->shard_rank = rank;
        source->shard_count = world;
    }
    return source;
}

/* ----- tensors in memory ----- */

typedef struct {
    cg_batch_source base;
    const cg_tensor *x, *y;
    bool shuffle;
    uint64_t seed;
    int64_t *order;     /* the epoch's sample order when shuffled */
    int64_t next_batch; /* of the shard */
} tensor_batches;

static int tensor_start_epoch(cg_batch_source *source, int epoch) {
    tensor_batches *batches = (tensor_batches *)source;
    if (batches->shuffle)
        cg_epoch_order(batches->order, source->samples, true, batches->seed, epoch);
    batches->next_batch = 0;
    return 0;
}

static int tensor_next(cg_batch_source *source, cg_tensor **x, cg_tensor **y) {
    tensor_batches *batches = (tensor_batches *)source;
    int64_t start;
    const int64_t count = cg_shard_batch(source->samples, source->batch_size, source->shard_rank,
                                         source->shard_count, batches->next_batch++, &start);
    *x = *y = NULL;
    if (count == 0) return 0;
    if (batches->shuffle) {
        /* The order goes to the data's device, as the index of a selection there. */
        cg_tensor *index = cg_from_array(batches->order + start, CG_SHAPE(count), CG_INT64);
        *x = cg_index_select(batches->x, 0, cg_to_device(index, cg_tensor_device(batches->x)));
        *y = batches->y
                 ? cg_index_select(batches->y, 0, cg_to_device(index, cg_tensor_device(batches->y)))
                 : NULL;
    } else {
        *x = cg_narrow(batches->x, 0, start, count);
        *y = batches->y ? cg_narrow(batches->y, 0, start, count) : NULL;
    }
    return *x && (*y || !batches->y) ? 1 : -1;
}

static void tensor_free(cg_batch_source *source) {
    free(((tensor_batches *)source)->order);
    free(source);
}

static const cg_batch_source_class tensor_class = {tensor_start_epoch, tensor_next, tensor_free};

cg_batch_source *cg_tensor_batches(const cg_tensor *x, const cg_tensor *y, int batch_size,
                                   bool shuffle, uint64_t seed) {
    tensor_batches *batches = calloc(1, sizeof *batches);
    const int64_t samples = cg_dim(x, 0);
    int64_t *order = shuffle ? malloc(sizeof(int64_t) * (size_t)samples) : NULL;
    if (!batches || (shuffle && !order)) {
        cg_error_set("out of memory for the batches of %lld samples", (long long)samples);
        free(batches);
        free(order);
        return NULL;
    }
    *batches = (tensor_batches){
        .base = {&tensor_class, samples, batch_size, cg_batch_sample_shape(x), 0, 1},
        .x = x,
        .y = y,
        .shuffle = shuffle,
        .seed = seed,
        .order = order,
    };
    return &batches->base;
}

/* ----- data sets through a loader ----- */

typedef struct {
    cg_batch_source base;
    cg_loader *loader;
} dataset_batches;

static int dataset_start_epoch(cg_batch_source *source, int epoch) {
    cg_loader *loader = ((dataset_batches *)source)->loader;
    return cg_loader_set_shard(loader, source->shard_rank, source->shard_count) == 0
               ? cg_loader_start_epoch(loader, epoch)
               : -1;
}

static int dataset_next(cg_batch_source *source, cg_tensor **x, cg_tensor **y) {
    return cg_loader_next(((dataset_batches *)source)->loader, x, y);
}

static void dataset_free(cg_batch_source *source) {
    cg_loader_free(((dataset_batches *)source)->loader);
    free(source);
}

static const cg_batch_source_class dataset_class = {dataset_start_epoch, dataset_next,
                                                    dataset_free};

cg_batch_source *cg_dataset_batches(const cg_dataset *dataset, int batch_size, bool shuffle,
                                    uint64_t seed) {
    dataset_batches *batches = malloc(sizeof *batches);
    cg_loader *loader = batches ? cg_loader_new(dataset, batch_size, shuffle, seed) : NULL;
    if (!loader) {
        if (!batches) cg_error_set("out of memory for a data set's batches");
        free(batches);
        return NULL;
    }
    *batches = (dataset_batches){
        .base = {&dataset_class, cg_dataset_size(dataset), batch_size,
                 cg_dataset_sample_shape(dataset), 0, 1},
        .loader = loader,
    };
    return &batches->base;
}
