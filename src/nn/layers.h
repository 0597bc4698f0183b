/* What the built-in layers, the model and the spec parser share beyond nn_internal.h: freeing a
 * model's layers, each built-in type's spec factory, the argument reader they use, the weight
 * initializers and the image-input check. */
#ifndef CG_NN_LAYERS_H
#define CG_NN_LAYERS_H

#include "nn/nn_internal.h"

/* Frees a layer, its tensors and its state, whoever owns it. */
void cg_layer_destroy(cg_layer *layer);

/* Spec factories of the built-in types: a layer from the words after the type name, or NULL
 * with an error like "dense expects UNITS (a positive integer), got 'abc'". */
cg_layer *cg_dense_from_spec(const char *arguments);
cg_layer *cg_activation_layer_from_spec(const char *arguments);
cg_layer *cg_dropout_from_spec(const char *arguments);
cg_layer *cg_flatten_from_spec(const char *arguments);
cg_layer *cg_batch_norm_from_spec(const char *arguments);
cg_layer *cg_conv2d_from_spec(const char *arguments);
cg_layer *cg_max_pool_from_spec(const char *arguments);
cg_layer *cg_avg_pool_from_spec(const char *arguments);
cg_layer *cg_global_avg_pool_from_spec(const char *arguments);

/* The initializer CG_INIT_AUTO stands for before activation (He normal before relu-like ones,
 * Glorot uniform otherwise); other initializers are returned as they are. */
cg_initializer cg_initializer_resolve(cg_initializer initializer, cg_activation activation);
/* A new float32 weight of shape drawn by initializer (not CG_INIT_AUTO) for a layer whose
 * outputs each sum fan_in inputs and whose inputs each feed fan_out outputs. */
cg_tensor *cg_initial_weight(cg_initializer initializer, cg_shape shape, int64_t fan_in,
                             int64_t fan_out);

/* The build check of the convolution and pooling layers: 0 when samples are images (C, H, W) of
 * at least window x window pixels; -1 with an error naming the shape (and the window as
 * window_name: "kernel", "window") otherwise. */
int cg_check_image_input(cg_shape input_shape, int64_t window, const char *window_name);

/* Copies the next whitespace-separated word of *cursor into word (truncated to size - 1) and
 * advances *cursor; false, with word empty, at the end of the text. */
bool cg_spec_next_word(const char **cursor, char *word, size_t size);
/* Parses word as an integer > 0; -1 with "TYPE expects WHAT, got 'word'" (or "got nothing")
 * otherwise. */
int cg_spec_positive_integer(const char *type, const char *what, const char *word, int64_t *value);
/* 0 when only whitespace is left at cursor; -1 with "TYPE takes USAGE; unexpected ..." otherwise.
 */
int cg_spec_expect_end(const char *cursor, const char *type, const char *usage);

#endif
