/* The training-checkpoint callback: writes the whole training state (cg_checkpoint_save) at each
 * epoch end and, when asked, every N batches, so that fit can resume from the file after a
 * crash. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/callbacks.h"

typedef struct {
    char *path;
    int every_batches;
} training_checkpoint;

/* Saves with the position where training goes on. With several ranks every rank holds the same
 * state at an epoch end and rank 0 writes it. */
static int save_at(const cg_train_state *state, const char *path, int epoch, int batch) {
    if (cg_distributed_rank() != 0) return 0;
    cg_train_state position = *state;
    position.epoch = epoch;
    position.batch = batch;
    return cg_checkpoint_save(&position, path);
}

/* Inside an epoch each rank holds running sums and a dropout stream of its own, which one file
 * written by rank 0 cannot hold: data-parallel runs checkpoint at epoch ends. */
static int on_train_begin(cg_train_state *state, void *userdata) {
    (void)state;
    const training_checkpoint *checkpoint = userdata;
    if (checkpoint->every_batches == 0 || cg_distributed_world_size() == 1) return 0;
    cg_error_set("cg_training_checkpoint: checkpoints every %d batches need a single rank; with "
                 "%d ranks, checkpoint at epoch ends (every_batches 0)",
                 checkpoint->every_batches, cg_distributed_world_size());
    return -1;
}

static int on_batch_end(cg_train_state *state, void *userdata) {
    const training_checkpoint *checkpoint = userdata;
    const int done = state->batch + 1;
    /* The epoch's last batch is followed at once by its epoch-end checkpoint. */
    if (checkpoint->every_batches == 0 || done % checkpoint->every_batches != 0 ||
        done == state->batches)
        return 0;
    return save_at(state, checkpoint->path, state->epoch, done);
}

static int on_epoch_end(cg_train_state *state, void *userdata) {
    const training_checkpoint *checkpoint = userdata;
    return save_at(state, checkpoint->path, state->epoch + 1, 0);
}

static void destroy(void *userdata) {
    training_checkpoint *checkpoint = userdata;
    free(checkpoint->path);
    free(checkpoint);
}

cg_callback *cg_training_checkpoint(const char *path, int every_batches) {
    if (!path || !*path || every_batches < 0) {
        cg_error_set("cg_training_checkpoint: needs a path and every_batches >= 0, got %s and %d",
                     path && *path ? path : "no path", every_batches);
        return NULL;
    }
    training_checkpoint *checkpoint = calloc(1, sizeof *checkpoint);
    if (checkpoint) checkpoint->path = malloc(strlen(path) + 1);
    if (!checkpoint || !checkpoint->path) {
        free(checkpoint);
        cg_error_set("cg_training_checkpoint: out of memory");
        return NULL;
    }
    strcpy(checkpoint->path, path);
    checkpoint->every_batches = every_batches;
    const cg_callback_hooks hooks = {.on_train_begin = on_train_begin,
                                     .on_batch_end = on_batch_end,
                                     .on_epoch_end = on_epoch_end,
                                     .destroy = destroy};
    cg_callback *callback = cg_callback_new(&hooks, checkpoint);
    if (callback) cg_callback_set_runs_last(callback);
    return callback;
}
