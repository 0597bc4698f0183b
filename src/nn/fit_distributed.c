/* Data-parallel fit: the ranks start from rank 0's weights, each trains on its shard of every
 * global batch, and after each backward pass one all-reduce carries the gradients with a header
 * of per-rank failure flags; batch and epoch ends agree on failures and stop requests the same
 * way. Each rank's gradients are weighted by its share of the global batch as they are packed
 * into the all-reduce's buckets, so the average costs no pass of its own. Where the parameters
 * allow (distributed/grad_reducer.h), the buckets are reduced while the backward pass runs. */
#define _POSIX_C_SOURCE 200809L

#include "nn/fit_distributed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autograd/leaf_hook.h"
#include "core/error.h"
#include "core/tensor.h"
#include "distributed/grad_reducer.h"
#include "distributed/world.h"
#include "io/loader.h"

enum { MESSAGE_BYTES = 512 };

static cg_fit_parallel_stats stats;

static double now_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

cg_fit_parallel_stats cg_fit_parallel_stats_get(void) { return stats; }

/* Whether to average the gradients while the backward pass runs (docs/distributed.md): as
 * CGRAD_GRADIENT_OVERLAP says (1 or 0), else when the sums do not go through shared memory,
 * whose summing is work for the cores that run the backward pass and is faster than MPI's
 * non-blocking all-reduce on one machine. */
static bool overlap_wanted(void) {
    const char *value = getenv("CGRAD_GRADIENT_OVERLAP");
    if (value && (!strcmp(value, "0") || !strcmp(value, "1"))) return value[0] == '1';
    return !cg_distributed_sums_in_shared_memory();
}

bool cg_fit_parallel(void) { return cg_distributed_world_size() > 1; }

cg_batch_source *cg_fit_shard(cg_batch_source *source) {
    return cg_batch_source_shard(source, cg_distributed_rank(), cg_distributed_world_size());
}

/* After a reduced header whose first world-size values are the ranks' failure flags: 0 when
 * none failed; otherwise -1 with an error naming op, the first failed rank and its message,
 * which that rank sends to the others. */
static int settle(const char *op, const void *flags, cg_dtype dtype) {
    const int world = cg_distributed_world_size();
    int failed = -1;
    for (int rank = 0; rank < world && failed < 0; rank++)
        if (dtype == CG_FLOAT32 ? ((const float *)flags)[rank] != 0
                                : ((const double *)flags)[rank] != 0)
            failed = rank;
    if (failed < 0) return 0;
    cg_scope_begin();
    cg_tensor *message = cg_zeros(CG_SHAPE(MESSAGE_BYTES), CG_UINT8);
    if (message && cg_distributed_rank() == failed)
        snprintf(cg_tensor_data(message), MESSAGE_BYTES, "%s", cg_last_error());
    char text[MESSAGE_BYTES] = "its message was lost";
    if (message && cg_distributed_broadcast(&message, 1, failed) == 0)
        memcpy(text, cg_tensor_data(message), MESSAGE_BYTES - 1);
    text[MESSAGE_BYTES - 1] = '\0';
    cg_scope_end();
    cg_error_set("%s: rank %d of %d failed: %s", op, failed, world, text);
    return -1;
}

/* Sums a header of this rank's failure flag (at its rank) and extra values over the ranks, in
 * the same all-reduce as the count tensors at list[1..count], which are summed times weight (in
 * the packing, without a pass of their own); extra comes back summed. list and weights have
 * count + 1 slots, the first for the header. 0, or -1 with an error on every rank when one
 * failed. Without extra values the header takes the dtype of the first tensor, a gradient's float
 * type, so that it travels in the same bucket (sums of flags are exact in either). */
static int agree(const char *op, int status, double *extra, int extra_count, cg_tensor **list,
                 double *weights, int count, double weight) {
    const int world = cg_distributed_world_size();
    cg_scope_begin();
    const cg_dtype header_dtype =
        count > 0 && extra_count == 0 && list[1]->dtype == CG_FLOAT32 ? CG_FLOAT32 : CG_FLOAT64;
    cg_tensor *header = cg_zeros(CG_SHAPE(world + extra_count), header_dtype);
    int result = -1;
    if (header) {
        void *values = cg_tensor_data(header);
        if (header_dtype == CG_FLOAT32)
            ((float *)values)[cg_distributed_rank()] = status != 0;
        else
            ((double *)values)[cg_distributed_rank()] = status != 0;
        if (extra_count > 0)
            memcpy((double *)values + world, extra, sizeof(double) * (size_t)extra_count);
        list[0] = header;
        weights[0] = 1;
        for (int i = 1; i <= count; i++)
            weights[i] = weight;
        if (cg_distributed_all_reduce_weighted(list, weights, count + 1) == 0) {
            if (extra_count > 0)
                memcpy(extra, (double *)values + world, sizeof(double) * (size_t)extra_count);
            result = settle(op, values, header_dtype);
        }
    }
    cg_scope_end();
    return result;
}

/* agree with extra values alone. */
static int agree_on(const char *op, int status, double *extra, int extra_count) {
    cg_tensor *list[1];
    double weights[1];
    return agree(op, status, extra, extra_count, list, weights, 0, 1);
}

typedef struct {
    cg_tensor **items;
    int count;
} tensor_list;

static int collect_tensor(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)name;
    (void)trainable;
    tensor_list *list = userdata;
    list->items[list->count++] = tensor;
    return 0;
}

static int collect_float_buffer(const char *name, cg_tensor *tensor, bool trainable,
                                void *userdata) {
    const cg_dtype dtype = tensor->dtype;
    return trainable || (dtype != CG_FLOAT32 && dtype != CG_FLOAT64)
               ? 0
               : collect_tensor(name, tensor, trainable, userdata);
}

/* The model's tensors that select picks, into *list (the caller frees items). 0 or -1. */
static int model_tensors(const char *op, const cg_model *model, cg_model_tensor_visitor select,
                         tensor_list *list) {
    int total = 0;
    for (int i = 0; i < model->layer_count; i++)
        total += model->layers[i]->tensor_count;
    *list = (tensor_list){malloc(sizeof(cg_tensor *) * (size_t)(total + 1)), 0};
    if (!list->items) {
        cg_error_set("%s: out of memory for the list of %d model tensors", op, total);
        return -1;
    }
    return cg_model_visit_tensors(model, select, list);
}

int cg_fit_parallel_begin(const char *op, cg_model *model, int status) {
    if (!cg_fit_parallel()) return status;
    if (agree_on(op, status, NULL, 0) != 0) return -1;
    tensor_list list;
    status = model_tensors(op, model, collect_tensor, &list);
    if (status == 0) status = cg_distributed_broadcast(list.items, list.count, 0);
    free(list.items);
    return status;
}

/* Parameter p's gradient; a zero gradient when p has none (an empty shard, or a rank that
 * failed), so that every rank passes the same list to the all-reduce. */
static cg_tensor *grad_or_zeros(cg_tensor *p) {
    if (!p->grad) {
        cg_tensor *zeros = cg_zeros_on(cg_tensor_shape(p), p->dtype, cg_tensor_device(p));
        if (zeros) cg_tensor_unscope(zeros);
        p->grad = zeros;
    }
    return p->grad;
}

/* This rank's status for batch `batch` of train given its own (status: of its backward
 * pass; loss: NULL for an empty shard), and into *weight the share of the global batch that its
 * gradients carry: each rank's gradient is its shard's mean, and the sum over the ranks of mean *
 * samples / global_samples is the mean over the global batch, whatever the shards' sizes. */
static int shard_status(const char *op, const cg_batch_source *train, int batch, int status,
                        const cg_tensor *loss, double *weight) {
    const int world = train->shard_count, rank = train->shard_rank;
    int64_t start;
    const int64_t global_samples =
        cg_shard_batch(train->samples, (int64_t)train->batch_size * world, 0, 1, batch, &start);
    const int64_t samples =
        cg_shard_batch(train->samples, train->batch_size, rank, world, batch, &start);
    if (samples == 0) {
        status = 0; /* an empty shard of the last global batch */
    } else if (status == 0 && !loss) {
        cg_error_set("%s: the training data ended before batch %d", op, batch + 1);
        status = -1;
    }
    *weight = status == 0 ? (double)samples / (double)global_samples : 0;
    return status;
}

/* Gives every parameter without a gradient zeros, so that every rank reduces the same list. 0,
 * or -1 with an error. */
static int grads_or_zeros(cg_tensor *const *parameters, int count) {
    for (int i = 0; i < count; i++)
        if (!grad_or_zeros(parameters[i])) return -1;
    return 0;
}

struct cg_fit_parallel_run {
    int count;                /* the parameters */
    cg_tensor **list;         /* count + 1 slots: the all-reduce's header, then the gradients */
    double *weights;          /* count + 1 slots: their weights */
    cg_grad_reducer *reducer; /* made at the first step that overlaps, NULL before */
};

void cg_fit_parallel_run_free(cg_fit_parallel_run *run) {
    if (!run) return;
    free(run->list);
    free(run->weights);
    cg_grad_reducer_free(run->reducer);
    free(run);
}

/* *slot, made for count parameters at the run's first step; NULL with an error when out of
 * memory, or when the model's parameters are no longer the count the run began with. */
static cg_fit_parallel_run *parallel_run(const char *op, cg_fit_parallel_run **slot, int count) {
    if (*slot) {
        if ((*slot)->count == count) return *slot;
        cg_error_set("%s: the model has %d parameters, %d when training began", op, count,
                     (*slot)->count);
        return NULL;
    }
    cg_fit_parallel_run *run = *slot = calloc(1, sizeof *run);
    if (run) {
        run->count = count;
        run->list = malloc(sizeof(cg_tensor *) * (size_t)(count + 1));
        run->weights = malloc(sizeof(double) * (size_t)(count + 1));
    }
    if (!run || !run->list || !run->weights) {
        cg_error_set("%s: out of memory for the all-reduce of %d gradients", op, count);
        cg_fit_parallel_run_free(run);
        *slot = NULL;
        return NULL;
    }
    return run;
}

/* The averaging after the backward pass (status: its outcome), in one all-reduce that carries
 * the ranks' status flags too. */
static int reduce_after_backward(const char *op, cg_fit_parallel_run *run, cg_model *model,
                                 const cg_batch_source *train, int batch, int status,
                                 const cg_tensor *loss) {
    double weight;
    status = shard_status(op, train, batch, status, loss, &weight);
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    if (grads_or_zeros(parameters, count) != 0) return -1;
    for (int i = 0; i < count; i++)
        run->list[i + 1] = parameters[i]->grad;
    return agree(op, status, NULL, 0, run->list, run->weights, count, weight);
}

/* The averaging overlapped with the backward pass of loss (NULL when the forward pass failed),
 * through the run's reducer, made at the first such step. */
static int reduce_during_backward(const char *op, cg_fit_parallel_run *run, cg_model *model,
                                  const cg_batch_source *train, int batch, cg_tensor *loss) {
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    /* The weight of a rank whose backward pass then fails does not matter: every rank fails. */
    double weight;
    int status = shard_status(op, train, batch, loss ? 0 : -1, loss, &weight);
    const int world = cg_distributed_world_size();
    if (!run->reducer && !(run->reducer = cg_grad_reducer_new(parameters, count, world))) return -1;
    cg_grad_reducer *reducer = run->reducer;
    if (cg_grad_reducer_begin(reducer, parameters, count, weight) != 0) return -1;
    if (loss) {
        cg_leaf_grad_hook previous;
        void *previous_userdata;
        cg_leaf_grad_hook_set(cg_grad_reducer_hook, reducer, &previous, &previous_userdata);
        if (cg_backward(loss) != 0) status = -1;
        cg_leaf_grad_hook_set(previous, previous_userdata, NULL, NULL);
    }
    const double start = now_seconds();
    const cg_dtype dtype = parameters[0]->dtype;
    void *flags = cg_grad_reducer_header(reducer);
    if (grads_or_zeros(parameters, count) != 0) status = -1;
    if (status != 0) {
        if (dtype == CG_FLOAT32)
            ((float *)flags)[cg_distributed_rank()] = 1;
        else
            ((double *)flags)[cg_distributed_rank()] = 1;
    }
    status = cg_grad_reducer_finish(reducer) == 0 ? settle(op, flags, dtype) : -1;
    int buckets, started_by_hook;
    cg_grad_reducer_counts(reducer, &buckets, &started_by_hook);
    stats.overlapped_steps++;
    stats.buckets += buckets;
    stats.buckets_started_in_backward += started_by_hook;
    stats.seconds_after_backward += now_seconds() - start;
    return status;
}

int cg_fit_parallel_backward(const char *op, cg_fit_parallel_run **slot, cg_model *model,
                             const cg_batch_source *train, int batch, cg_tensor *loss) {
    if (!cg_fit_parallel()) return loss ? cg_backward(loss) : -1;
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    cg_fit_parallel_run *run = parallel_run(op, slot, count);
    if (!run) return -1;
    stats.steps++;
    if (overlap_wanted() && cg_grad_reducer_fits(parameters, count))
        return reduce_during_backward(op, run, model, train, batch, loss);
    const int status = loss && cg_backward(loss) == 0 ? 0 : -1;
    const double start = now_seconds();
    const int reduced = reduce_after_backward(op, run, model, train, batch, status, loss);
    stats.seconds_after_backward += now_seconds() - start;
    return reduced;
}

int cg_fit_parallel_agree_stop(const char *op, int status, cg_train_state *state) {
    if (!cg_fit_parallel()) return status;
    double stops = state->stop_training;
    if (agree_on(op, status, &stops, 1) != 0) return -1;
    if (stops > 0 && !state->stop_training) {
        state->stop_training = true;
        snprintf(state->stop_reason, sizeof state->stop_reason,
                 "a callback on another rank stopped training at epoch %d", state->epoch + 1);
    }
    return 0;
}

int cg_fit_parallel_totals(const char *op, int status, cg_metric_totals *totals) {
    if (!cg_fit_parallel()) return status;
    double sums[2 + 2 * CG_METRIC_KIND_COUNT] = {(double)totals->samples, totals->loss_sum};
    for (int kind = 0; kind < CG_METRIC_KIND_COUNT; kind++) {
        sums[2 + kind] = totals->metric_sums[kind];
        sums[2 + CG_METRIC_KIND_COUNT + kind] = (double)totals->metric_counts[kind];
    }
    const int count = (int)(sizeof sums / sizeof sums[0]);
    if (agree_on(op, status, sums, count) != 0) return -1;
    /* Counts below 2^53 pass through doubles exactly. */
    totals->samples = (int64_t)sums[0];
    totals->loss_sum = sums[1];
    for (int kind = 0; kind < CG_METRIC_KIND_COUNT; kind++) {
        totals->metric_sums[kind] = sums[2 + kind];
        totals->metric_counts[kind] = (int64_t)sums[2 + CG_METRIC_KIND_COUNT + kind];
    }
    return 0;
}

int cg_fit_parallel_average_buffers(const char *op, cg_model *model) {
    if (!cg_fit_parallel()) return 0;
    tensor_list list;
    int status = model_tensors(op, model, collect_float_buffer, &list);
    if (status == 0) status = cg_distributed_all_reduce(list.items, list.count, CG_ALL_REDUCE_MEAN);
    free(list.items);
    return status;
}
