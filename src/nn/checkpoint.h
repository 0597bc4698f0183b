/* Training checkpoints: a model file (nn/serialize.c) with the training state added: the
 * optimizer's moments and step counts as tensors "optimizer.<parameter>.<slot>" and
 * "optimizer.steps", the history as tensors "history.epochs" and "history.series.<name>", and in
 * the metadata the position (epoch, batch), the random stream, the running epoch's totals, the
 * optimizer's options and the callbacks' states. Fit writes them through cg_training_checkpoint
 * and resumes from one with cg_fit_options.resume_from. */
#ifndef CG_NN_CHECKPOINT_H
#define CG_NN_CHECKPOINT_H

#include "io/safetensors.h"
#include "nn/batch_source.h"
#include "nn/metrics.h"
#include "nn/nn_internal.h"

/* The metadata key that marks a training checkpoint; its value is the checkpoint format version. */
#define CG_CHECKPOINT_FORMAT_KEY "training.format_version"

/* Whether name is one of a checkpoint's own tensors, which no model tensor can be (model tensor
 * names start with the layer index). */
bool cg_checkpoint_tensor_name(const char *name);

/* What fit shows a checkpoint through cg_train_state.fit. */
struct cg_fit_context {
    uint64_t seed;
    int batch_size;
    bool shuffle;
    cg_metric_totals *totals;      /* the running epoch's totals */
    cg_callback *const *callbacks; /* the caller's callbacks, whose states a checkpoint holds */
    int callback_count;
};

/* A checkpoint read and checked, waiting to be put into a fit or a model. */
typedef struct cg_checkpoint cg_checkpoint;

/* Reads path and checks it against the built, compiled model (architecture, tensors, optimizer
 * kind and options) and, for a fit (context not NULL), against its seed, batch size, shuffling,
 * callbacks and epochs. Changes nothing. NULL with an error naming the file and what does not
 * match. */
cg_checkpoint *cg_checkpoint_read(const char *path, const cg_model *model,
                                  const cg_fit_context *context, int epochs);
/* Puts the checkpoint into a fit that has run its on_train_begin hooks: the callbacks' states,
 * then the optimizer's state, the weights and the history (swapped into history); sets
 * state->epoch, state->batch and state->stop_training. 0, or -1 with an error (the model is
 * unchanged when a callback refuses its state). */
int cg_checkpoint_resume(const cg_checkpoint *checkpoint, cg_train_state *state,
                         cg_history *history);
/* Whether the checkpoint was taken inside an epoch that training has not re-entered yet: that
 * epoch's on_epoch_begin hooks already ran before the checkpoint. */
bool cg_checkpoint_mid_epoch(const cg_checkpoint *checkpoint);
/* At the start of the resumed epoch (after its shuffle), once: skips the batches the checkpoint
 * had trained, restores the epoch's running totals and the random stream, and returns the first
 * batch to train; 0 afterwards and for a checkpoint between epochs. -1 with an error. */
int cg_checkpoint_enter_epoch(cg_checkpoint *checkpoint, cg_batch_source *source,
                              cg_metric_totals *totals);
void cg_checkpoint_free(cg_checkpoint *checkpoint);

/* ----- the model file, shared with nn/serialize.c ----- */

/* Writes the model's file (architecture, compile settings, user metadata, tensors) with extra
 * tensors and metadata after the model's own; function names the caller in errors. 0 or -1. */
int cg_model_file_write(const cg_model *model, const char *path, const char *function,
                        const cg_safetensors_entry *extra_tensors, size_t extra_tensor_count,
                        const cg_safetensors_metadata *extra_metadata, size_t extra_metadata_count);
/* Checks that contents hold every tensor of the model with its dtype and shape and no other
 * (a checkpoint's own tensors aside), changing nothing. 0, or -1 with an error. */
int cg_model_file_check_tensors(const char *function, const char *path, const cg_model *model,
                                const cg_safetensors_contents *contents);
/* Copies the file's tensors into the model's after a successful check. 0 or -1. */
int cg_model_file_copy_tensors(const char *function, const char *path, cg_model *model,
                               const cg_safetensors_contents *contents);
/* Sets "function: 'path': message", formatting the message first (it may be cg_last_error()). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void cg_model_file_error(const char *function, const char *path, const char *format, ...);

#endif
