/* The structures behind the high-level handles, shared by the files of src/nn and src/io. */
#ifndef CG_NN_INTERNAL_H
#define CG_NN_INTERNAL_H

#include "cgrad.h"

enum { CG_LAYER_MAX_TENSORS = 8, CG_NAME_MAX = 64 };

typedef struct {
    char name[CG_NAME_MAX]; /* local name, "weight" */
    cg_tensor *tensor;      /* owned */
    bool trainable;         /* parameter (true) or buffer (false) */
} cg_named_tensor;

/* Built-in layers are instances of cg_layer_class like custom ones: one mechanism for all. */
struct cg_layer {
    const cg_layer_class *layer_class;
    void *state;
    int tensor_count;
    cg_named_tensor tensors[CG_LAYER_MAX_TENSORS];
    bool built;
    cg_shape input_shape, output_shape;
    bool owned_by_model;
};

typedef struct {
    char *key, *value;
} cg_metadata_entry;

struct cg_model {
    cg_layer **layers;
    int layer_count, layer_capacity;

    bool built;
    cg_shape input_shape, output_shape;

    /* Trainable parameters in layer order, with their state-dict names; filled by build. */
    cg_tensor **parameters;
    char **parameter_names;
    int parameter_count;

    bool compiled;
    cg_optimizer *optimizer;
    cg_loss loss;
    unsigned metrics;

    cg_metadata_entry *metadata;
    int metadata_count;

    cg_device device; /* where the layers' tensors live; layers built later are moved there */
};

/* Every tensor (parameters and buffers) of the model with its state-dict name ("0.weight",
 * "2.running_mean"), in layer order: calls visit for each until it returns non-zero. */
typedef int (*cg_model_tensor_visitor)(const char *name, cg_tensor *tensor, bool trainable,
                                       void *userdata);
int cg_model_visit_tensors(const cg_model *model, cg_model_tensor_visitor visit, void *userdata);

/* Moves the tensors of the built layers that are not on the model's device there
 * (nn/model_device.c); building calls it, so layers built after cg_model_to_device follow the
 * model. 0 or -1. */
int cg_model_place_tensors(cg_model *model);
/* Moves the optimizer's per-parameter state to device (nn/optimizer.c). 0 or -1. */
int cg_optimizer_move_state(cg_optimizer *optimizer, cg_device device);

/* The optimizer's per-parameter state, for training checkpoints (nn/optimizer.c): the number of
 * positions (-1 before the first step), the slots its kind uses and their PyTorch names
 * ("exp_avg"), and each position's slot tensor (borrowed; NULL until its first gradient) and
 * step count. */
int cg_optimizer_state_positions(const cg_optimizer *optimizer);
int cg_optimizer_state_slots(const cg_optimizer *optimizer);
const char *cg_optimizer_state_slot_name(const cg_optimizer *optimizer, int slot);
cg_tensor *cg_optimizer_state_tensor(const cg_optimizer *optimizer, int position, int slot);
int64_t cg_optimizer_state_steps(const cg_optimizer *optimizer, int position);
/* Replaces the whole state: positions (-1: none yet), tensors[position * 2 + slot] (NULL or taken
 * over, on the parameters' device) and steps[position]. The caller has checked them against the
 * parameters. 0, or -1 with an error (then nothing changed and the tensors stay the caller's). */
int cg_optimizer_restore_state(cg_optimizer *optimizer, int positions, cg_tensor *const *tensors,
                               const int64_t *steps);

/* The spec line of one layer ("dense 16 relu"), written into buffer. 0 or -1. */
int cg_layer_spec_line(const cg_layer *layer, char *buffer, size_t size);

#endif
