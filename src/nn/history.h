/* Recording a training history: fit and the callbacks fill it, users read it through nn.h. */
#ifndef CG_NN_HISTORY_H
#define CG_NN_HISTORY_H

#include "cgrad.h"

/* An empty history (no epochs, nothing stopped); NULL with an error when out of memory. */
cg_history *cg_history_new(void);
/* Sets series name at training epoch epoch. Epochs are recorded in increasing order: a new epoch
 * adds a row (NaN in every series until set), the latest epoch may be set again (fit keeps the
 * running values of an epoch there until its end). 0, or -1 with an error. */
int cg_history_record(cg_history *history, const char *name, int epoch, double value);
/* Marks the epoch at which a callback stopped training, with its reason (may be ""). */
void cg_history_set_stopped(cg_history *history, int epoch, const char *reason);
/* Marks the epoch whose weights early stopping restored. */
void cg_history_set_best_epoch(cg_history *history, int epoch);
/* Exchanges the contents of a and b (a resumed fit takes over the history of its checkpoint). */
void cg_history_swap(cg_history *a, cg_history *b);

#endif
