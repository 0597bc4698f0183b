/* The data-parallel part of cg_fit and cg_fit_dataset, active when the world of
 * include/cgrad/distributed.h holds more than one rank; in a world of one each function leaves
 * things as they are. Every rank makes the same calls in the same order, each carrying the
 * rank's status, so that a failure on one rank ends the collective on all of them with an error
 * naming that rank, rather than leaving the others waiting. */
#ifndef CG_NN_FIT_DISTRIBUTED_H
#define CG_NN_FIT_DISTRIBUTED_H

#include "nn/batch_source.h"
#include "nn/metrics.h"
#include "nn/nn_internal.h"

/* Whether fit is data-parallel (the world holds more than one rank). */
bool cg_fit_parallel(void);

/* source sharded for this rank (cg_batch_source_shard); NULL stays NULL. */
cg_batch_source *cg_fit_shard(cg_batch_source *source);

/* Agrees on status (this rank's: 0 or -1 with an error), then gives every rank rank 0's model
 * tensors (parameters and buffers). 0, or -1 with an error on every rank when one failed. */
int cg_fit_parallel_begin(const char *op, cg_model *model, int status);

/* What data-parallel fit keeps from one step of a run to the next (the list of gradients to
 * average and, where the averaging overlaps the backward pass, the buckets and their buffer), so
 * that a step allocates nothing of its own: made at the run's first step. */
typedef struct cg_fit_parallel_run cg_fit_parallel_run;

/* Frees what a run kept; NULL is ignored. */
void cg_fit_parallel_run_free(cg_fit_parallel_run *run);

/* The backward pass of this rank's shard of global batch `batch` of train (loss: the shard's
 * mean loss, NULL when the forward pass failed or the shard is empty), after which every
 * parameter's gradient is the mean over the global batch's samples; the averaging starts while
 * the pass runs where the parameters allow. *run is the run's kept state (NULL before the first
 * step). In a world of one, just the backward pass. 0, or -1 with an error (on every rank when
 * one failed). */
int cg_fit_parallel_backward(const char *op, cg_fit_parallel_run **run, cg_model *model,
                             const cg_batch_source *train, int batch, cg_tensor *loss);

/* What data-parallel fit did with the gradients since the process started, for benchmarks and
 * tests. */
typedef struct {
    int64_t steps;                       /* steps whose gradients were averaged */
    int64_t overlapped_steps;            /* of them, those averaged while the pass ran */
    int64_t buckets;                     /* the buckets of those */
    int64_t buckets_started_in_backward; /* of them, those started before the pass returned */
    double seconds_after_backward;       /* over all steps: from the pass's end to the means */
} cg_fit_parallel_stats;

/* The counts so far. */
cg_fit_parallel_stats cg_fit_parallel_stats_get(void);

/* After a batch's or an epoch's hooks (status: theirs): agrees on status, and stops training on
 * every rank when a hook stopped it on one, since the ranks must run the same batches. Returns
 * the agreed status (0, or -1 with an error on every rank). */
int cg_fit_parallel_agree_stop(const char *op, int status, cg_train_state *state);

/* Agrees on status, then sums totals over the ranks (each passes its shard's), so every rank
 * logs the same epoch values. 0, or -1 with an error on every rank when one failed. */
int cg_fit_parallel_totals(const char *op, int status, cg_metric_totals *totals);

/* Averages the model's float buffers (batch-norm running statistics, each rank's from its own
 * samples) over the ranks at an epoch end, so every rank saves the same model. 0 or -1. */
int cg_fit_parallel_average_buffers(const char *op, cg_model *model);

#endif
