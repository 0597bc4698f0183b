/* The loader: batches of a data set in a seeded order, each assembled by a background thread while
 * the caller works on the one before (double buffering). Assembly gathers the batch's rows and
 * converts them to float32 in one pass, so image bytes are never copied to floats as a whole.
 *
 * The thread and the caller share the state below the lock. The thread takes the next batch
 * index, builds the batch without the lock (reading only the data set and the order, which no one
 * changes while it is busy), then leaves it in the single ready slot; cg_loader_next takes it from
 * there, which frees the slot for the batch after. Tensors pass from one thread to the other only
 * under the lock and belong to no scope until cg_loader_next gives them to the caller's. */
#define _POSIX_C_SOURCE 200809L

#include "io/loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/scope.h"
#include "core/tensor.h"
#include "io/byte_scaling.h"
#include "io/dataset.h"

typedef struct {
    cg_tensor *x, *y;
    char error[512]; /* set when assembly failed (x and y NULL) */
} loader_batch;

struct cg_loader {
    const cg_dataset *dataset;
    int64_t batch_size, samples, batch_count;
    int shard_rank, shard_count; /* this loader's shard of each epoch; 0 of 1 for all of it */
    int64_t sample_numel;        /* features per sample */
    bool shuffle;
    uint64_t seed;
    int64_t *order; /* the current epoch's samples; changed only while the thread idles */

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* broadcast on every change of the state below */
    bool stop, busy, epoch_started;
    int64_t next_to_assemble, next_to_deliver;
    bool ready_full;
    loader_batch ready;
    cg_loader_stats stats;
};

void cg_epoch_order(int64_t *order, int64_t count, bool shuffle, uint64_t seed, int epoch) {
    for (int64_t i = 0; i < count; i++)
        order[i] = i;
    if (!shuffle) return;
    const uint64_t key = cg_random_bits(seed, (uint64_t)epoch);
    for (int64_t i = count - 1; i > 0; i--) {
        const int64_t j = (int64_t)(cg_random_uniform(key, (uint64_t)i) * (double)(i + 1));
        const int64_t picked = order[j];
        order[j] = order[i];
        order[i] = picked;
    }
}

int64_t cg_shard_batch(int64_t samples, int64_t batch_size, int rank, int world, int64_t index,
                       int64_t *start) {
    *start = (index * world + rank) * batch_size;
    const int64_t left = samples - *start;
    return left <= 0 ? 0 : left < batch_size ? left : batch_size;
}

int64_t cg_shard_batch_count(int64_t samples, int64_t batch_size, int rank, int world) {
    const int64_t after_first = samples - rank * batch_size;
    const int64_t stride = batch_size * world;
    return after_first > 0 ? (after_first + stride - 1) / stride : 0;
}

/* A tensor of count samples whose per-sample dims are those of like. */
static cg_tensor *batch_tensor(const cg_tensor *like, int64_t count, cg_dtype dtype) {
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, like->shape, sizeof(int64_t) * (size_t)like->ndim);
    shape[0] = count;
    return cg_tensor_new(like->ndim, shape, dtype, (cg_device){CG_DEVICE_CPU, 0});
}

/* The features of rows[0 .. count) as float32 times the feature scale, in one pass. */
static void gather_features(const cg_loader *loader, const int64_t *rows, int64_t count,
                            float *out) {
    const cg_tensor *features = loader->dataset->features;
    const int64_t width = loader->sample_numel;
    const double scale = loader->dataset->feature_scale;
    if (features->dtype == CG_UINT8) {
        cg_gather_scaled_bytes(cg_tensor_data(features), width, rows, count, scale, out);
        return;
    }
    for (int64_t i = 0; i < count; i++) {
        const float *values = (const float *)cg_tensor_data(features) + rows[i] * width;
        for (int64_t j = 0; j < width; j++)
            out[i * width + j] = (float)((double)values[j] * scale);
    }
}

static void gather_labels(const cg_tensor *labels, const int64_t *rows, int64_t count, void *out) {
    const size_t row_bytes =
        (size_t)cg_shape_numel(labels->ndim - 1, labels->shape + 1) * cg_dtype_size(labels->dtype);
    const char *source = cg_tensor_data(labels);
    for (int64_t i = 0; i < count; i++)
        memcpy((char *)out + (size_t)i * row_bytes, source + (size_t)rows[i] * row_bytes,
               row_bytes);
}

static void release_batch(loader_batch *batch) {
    cg_release(batch->x);
    cg_release(batch->y);
    *batch = (loader_batch){0};
}

/* Batch index of the current epoch, built on the loader's thread. */
static loader_batch assemble(const cg_loader *loader, int64_t index) {
    const cg_tensor *labels = loader->dataset->labels;
    int64_t start;
    const int64_t count = cg_shard_batch(loader->samples, loader->batch_size, loader->shard_rank,
                                         loader->shard_count, index, &start);
    const int64_t *rows = loader->order + start;
    loader_batch batch = {0};
    batch.x = batch_tensor(loader->dataset->features, count, CG_FLOAT32);
    batch.y = batch.x && labels ? batch_tensor(labels, count, labels->dtype) : NULL;
    if (!batch.x || (labels && !batch.y)) {
        char cause[384];
        snprintf(cause, sizeof cause, "%s", cg_last_error());
        release_batch(&batch);
        snprintf(batch.error, sizeof batch.error, "cg_loader_next: batch %lld: %s",
                 (long long)index, cause);
        return batch;
    }
    gather_features(loader, rows, count, cg_tensor_data(batch.x));
    if (labels) gather_labels(labels, rows, count, cg_tensor_data(batch.y));
    return batch;
}

static bool work_waiting(const cg_loader *loader) {
    return loader->epoch_started && !loader->ready_full &&
           loader->next_to_assemble < loader->batch_count;
}

static void *loader_thread(void *argument) {
    cg_loader *loader = argument;
    pthread_mutex_lock(&loader->lock);
    for (;;) {
        while (!loader->stop && !work_waiting(loader))
            pthread_cond_wait(&loader->changed, &loader->lock);
        if (loader->stop) break;
        const int64_t index = loader->next_to_assemble++;
        loader->busy = true;
        pthread_mutex_unlock(&loader->lock);
        const loader_batch batch = assemble(loader, index);
        pthread_mutex_lock(&loader->lock);
        loader->busy = false;
        loader->ready = batch;
        loader->ready_full = true;
        loader->stats.batches_assembled++;
        pthread_cond_broadcast(&loader->changed);
    }
    pthread_mutex_unlock(&loader->lock);
    return NULL;
}

static bool check_dataset(const cg_dataset *dataset, int batch_size) {
    if (!dataset || cg_dataset_size(dataset) == 0) {
        cg_error_set("cg_loader_new: the data set is NULL or empty");
        return false;
    }
    if (batch_size < 1) {
        cg_error_set("cg_loader_new: batch_size must be at least 1, got %d", batch_size);
        return false;
    }
    const cg_dtype dtype = dataset->features->dtype;
    if (dtype != CG_FLOAT32 && dtype != CG_UINT8) {
        cg_error_set("cg_loader_new: the features are %s; the loader reads float32 or uint8",
                     cg_dtype_name(dtype));
        return false;
    }
    return true;
}

cg_loader *cg_loader_new(const cg_dataset *dataset, int batch_size, bool shuffle, uint64_t seed) {
    if (!check_dataset(dataset, batch_size)) return NULL;
    cg_loader *loader = calloc(1, sizeof *loader);
    const int64_t samples = cg_dataset_size(dataset);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)samples);
    if (!loader || !order) {
        cg_error_set("cg_loader_new: out of memory for %lld samples", (long long)samples);
        free(loader);
        free(order);
        return NULL;
    }
    loader->dataset = dataset;
    loader->batch_size = batch_size;
    loader->samples = samples;
    loader->batch_count = (samples + batch_size - 1) / batch_size;
    loader->shard_count = 1;
    loader->sample_numel = cg_dataset_feature_count(dataset);
    loader->shuffle = shuffle;
    loader->seed = seed;
    loader->order = order;
    pthread_mutex_init(&loader->lock, NULL);
    pthread_cond_init(&loader->changed, NULL);
    const int status = pthread_create(&loader->thread, NULL, loader_thread, loader);
    if (status != 0) {
        cg_error_set("cg_loader_new: cannot start the loading thread: %s", strerror(status));
        pthread_cond_destroy(&loader->changed);
        pthread_mutex_destroy(&loader->lock);
        free(order);
        free(loader);
        return NULL;
    }
    return loader;
}

int cg_loader_start_epoch(cg_loader *loader, int epoch) {
    if (!loader || epoch < 0) {
        cg_error_set("cg_loader_start_epoch: %s",
                     loader ? "the epoch must be >= 0" : "NULL loader");
        return -1;
    }
    pthread_mutex_lock(&loader->lock);
    /* The order may change only while the thread is not reading it. */
    while (loader->busy)
        pthread_cond_wait(&loader->changed, &loader->lock);
    if (loader->ready_full) release_batch(&loader->ready);
    loader->ready_full = false;
    cg_epoch_order(loader->order, loader->samples, loader->shuffle, loader->seed, epoch);
    loader->next_to_assemble = loader->next_to_deliver = 0;
    loader->epoch_started = true;
    pthread_cond_broadcast(&loader->changed);
    pthread_mutex_unlock(&loader->lock);
    return 0;
}

int cg_loader_set_shard(cg_loader *loader, int rank, int world) {
    if (world < 1 || rank < 0 || rank >= world) {
        cg_error_set("cg_loader_set_shard: rank %d is not in a world of %d", rank, world);
        return -1;
    }
    pthread_mutex_lock(&loader->lock);
    /* The shard may change only while the thread is not assembling. */
    while (loader->busy)
        pthread_cond_wait(&loader->changed, &loader->lock);
    loader->shard_rank = rank;
    loader->shard_count = world;
    loader->batch_count = cg_shard_batch_count(loader->samples, loader->batch_size, rank, world);
    pthread_mutex_unlock(&loader->lock);
    return 0;
}

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

/* Takes the next batch out of the ready slot, waiting for the thread when it is not there yet.
 * False when the epoch has no batch left. Called with the lock held. */
static bool take_ready_batch(cg_loader *loader, loader_batch *batch) {
    if (!loader->epoch_started || loader->next_to_deliver >= loader->batch_count) return false;
    if (loader->ready_full) {
        loader->stats.batches_ready++;
    } else {
        loader->stats.batches_waited++;
        const double start = now_seconds();
        while (!loader->ready_full)
            pthread_cond_wait(&loader->changed, &loader->lock);
        loader->stats.wait_seconds += now_seconds() - start;
    }
    *batch = loader->ready;
    loader->ready = (loader_batch){0};
    loader->ready_full = false;
    loader->next_to_deliver++;
    pthread_cond_broadcast(&loader->changed);
    return true;
}

int cg_loader_next(cg_loader *loader, cg_tensor **x, cg_tensor **y) {
    if (x) *x = NULL;
    if (y) *y = NULL;
    if (!loader || !x || !y) {
        cg_error_set("cg_loader_next: the loader, x and y must not be NULL");
        return -1;
    }
    loader_batch batch;
    pthread_mutex_lock(&loader->lock);
    const bool taken = take_ready_batch(loader, &batch);
    pthread_mutex_unlock(&loader->lock);
    if (!taken) return 0;
    if (!batch.x) {
        cg_error_set("%s", batch.error);
        return -1;
    }
    /* The batch joins the caller's scope, as an op's result would. */
    if (!cg_scope_adopt(batch.x) || (batch.y && !cg_scope_adopt(batch.y))) {
        release_batch(&batch);
        return -1;
    }
    *x = batch.x;
    *y = batch.y;
    return 1;
}

cg_loader_stats cg_loader_get_stats(const cg_loader *loader) {
    cg_loader_stats stats = {0};
    if (!loader) return stats;
    /* The lock is not part of the loader's value: taking it does not change the loader. */
    pthread_mutex_t *lock = (pthread_mutex_t *)&loader->lock;
    pthread_mutex_lock(lock);
    stats = loader->stats;
    pthread_mutex_unlock(lock);
    return stats;
}

void cg_loader_free(cg_loader *loader) {
    if (!loader) return;
    pthread_mutex_lock(&loader->lock);
    loader->stop = true;
    pthread_cond_broadcast(&loader->changed);
    pthread_mutex_unlock(&loader->lock);
    pthread_join(loader->thread, NULL);
    if (loader->ready_full) release_batch(&loader->ready);
    pthread_cond_destroy(&loader->changed);
    pthread_mutex_destroy(&loader->lock);
    free(loader->order);
    free(loader);
}
