/* The callback object, how fit runs the hooks, and the monitored-value tracking shared by the
 * built-in callbacks that watch a logged quantity. */
#ifndef CG_NN_CALLBACKS_H
#define CG_NN_CALLBACKS_H

#include "nn/nn_internal.h"

typedef enum {
    CG_HOOK_TRAIN_BEGIN = 0,
    CG_HOOK_EPOCH_BEGIN,
    CG_HOOK_BATCH_END,
    CG_HOOK_EPOCH_END,
    CG_HOOK_TRAIN_END,
} cg_callback_hook;

/* Runs hook of each callback in order. -1 with an error naming the callback, the hook and the
 * callback's own error when one returns a negative value. */
int cg_callbacks_run(cg_callback *const *callbacks, int count, cg_callback_hook hook,
                     cg_train_state *state);

/* Calls the callback's save_state hook into buffer; "" when it has none. 0 or -1. */
int cg_callback_save_state(const cg_callback *callback, char *buffer, size_t size);
/* Calls its load_state hook with text; a callback without one must get "" (it saved none). 0, or
 * -1 with an error. */
int cg_callback_load_state(cg_callback *callback, const char *text);
/* Marks a callback that fit runs after the others (a training checkpoint, which must see what
 * they did at each batch and epoch end), and asks for the mark. */
void cg_callback_set_runs_last(cg_callback *callback);
bool cg_callback_runs_last(const cg_callback *callback);

/* Whether a callback's on_batch_end reads this batch's values: one without wants_batch_values
 * always does. Asks every callback that has the hook, as each one may note its answer. */
bool cg_callbacks_want_batch_values(cg_callback *const *callbacks, int count,
                                    const cg_train_state *state);

/* The best value so far of a monitored quantity. */
typedef struct {
    char name[CG_NAME_MAX];
    bool maximize;
    double min_delta;
    double best;
    int best_epoch; /* -1 before the first improvement */
} cg_monitor;

/* Sets up a monitor of name (NULL: "val_loss"); AUTO maximises names containing "acc". -1 with
 * an error naming op when the name, mode or min_delta is invalid. */
int cg_monitor_init(cg_monitor *monitor, const char *op, const char *name, cg_monitor_mode mode,
                    double min_delta);
/* Forgets the best value (at the start of training). */
void cg_monitor_reset(cg_monitor *monitor);
/* The monitored value of the epoch just ended; -1 with an error naming op and the recorded
 * series when the quantity is not logged. */
int cg_monitor_read(const cg_monitor *monitor, const char *op, const cg_train_state *state,
                    double *value);
/* Whether value beats the best by more than min_delta; if so it becomes the best. NaN never
 * improves. */
bool cg_monitor_improved(cg_monitor *monitor, double value, int epoch);
/* The best value and epoch as text ("0.25 3") followed by the owner's extra_count counters, and
 * back: the text must hold the two values followed by extra_count integers, stored into extra.
 * 0, or -1 with an error (naming op when loading). */
int cg_monitor_save(const cg_monitor *monitor, const int *extra, int extra_count, char *buffer,
                    size_t size);
int cg_monitor_load(cg_monitor *monitor, const char *op, const char *text, int *extra,
                    int extra_count);

#endif
