/* Best-model checkpoint: saves the model whenever the monitored quantity improves, so the file
 * always holds the best epoch so far. cg_model_save writes atomically, so a crash leaves the
 * previous best file whole. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/callbacks.h"

typedef struct {
    cg_monitor monitor;
    char *path;
} model_checkpoint;

static int on_train_begin(cg_train_state *state, void *userdata) {
    (void)state;
    model_checkpoint *checkpoint = userdata;
    cg_monitor_reset(&checkpoint->monitor);
    return 0;
}

static int on_epoch_end(cg_train_state *state, void *userdata) {
    model_checkpoint *checkpoint = userdata;
    double value;
    if (cg_monitor_read(&checkpoint->monitor, "cg_model_checkpoint", state, &value) != 0) return -1;
    /* Every rank follows the monitor (the same on all), rank 0 writes the file. */
    if (!cg_monitor_improved(&checkpoint->monitor, value, state->epoch)) return 0;
    return cg_distributed_rank() == 0 ? cg_model_save(state->model, checkpoint->path) : 0;
}

static int save_state(void *userdata, char *buffer, size_t size) {
    const model_checkpoint *checkpoint = userdata;
    return cg_monitor_save(&checkpoint->monitor, NULL, 0, buffer, size);
}

static int load_state(void *userdata, const char *text) {
    model_checkpoint *checkpoint = userdata;
    return cg_monitor_load(&checkpoint->monitor, "cg_model_checkpoint", text, NULL, 0);
}

static void destroy(void *userdata) {
    model_checkpoint *checkpoint = userdata;
    free(checkpoint->path);
    free(checkpoint);
}

cg_callback *cg_model_checkpoint(const char *path, const char *monitor, cg_monitor_mode mode) {
    if (!path || !*path) {
        cg_error_set("cg_model_checkpoint: path is empty");
        return NULL;
    }
    model_checkpoint *checkpoint = calloc(1, sizeof *checkpoint);
    if (checkpoint) checkpoint->path = malloc(strlen(path) + 1);
    if (!checkpoint || !checkpoint->path) {
        free(checkpoint);
        cg_error_set("cg_model_checkpoint: out of memory");
        return NULL;
    }
    strcpy(checkpoint->path, path);
    if (cg_monitor_init(&checkpoint->monitor, "cg_model_checkpoint", monitor, mode, 0.0) != 0) {
        destroy(checkpoint);
        return NULL;
    }
    const cg_callback_hooks hooks = {.on_train_begin = on_train_begin,
                                     .on_epoch_end = on_epoch_end,
                                     .destroy = destroy,
                                     .save_state = save_state,
                                     .load_state = load_state};
    return cg_callback_new(&hooks, checkpoint);
}
