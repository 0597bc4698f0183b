/* The pooling layers over samples (C, H, W): max and average pooling of size x size windows laid
 * side by side (spec lines "maxpool SIZE", "avgpool SIZE"), and global average pooling of each
 * channel to one value ("globalavgpool"). They have no parameters. */
#include <limits.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/layers.h"

/* ----- max and average pooling: one state (the size), two forward functions ----- */

static int pool_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    const int size = *(const int *)layer->state;
    if (cg_check_image_input(input_shape, size, "window") != 0) return -1;
    *output_shape =
        CG_SHAPE(input_shape.dims[0], input_shape.dims[1] / size, input_shape.dims[2] / size);
    return 0;
}

static cg_tensor *max_pool_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    const int size = *(const int *)layer->state;
    return cg_max_pool2d(x, size, size, size, size);
}

static cg_tensor *avg_pool_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    const int size = *(const int *)layer->state;
    return cg_avg_pool2d(x, size, size, size, size);
}

static int pool_config(const cg_layer *layer, char *buffer, size_t size) {
    snprintf(buffer, size, "%d", *(const int *)layer->state);
    return 0;
}

static const cg_layer_class MAX_POOL_CLASS = {
    .type = "maxpool",
    .build = pool_build,
    .forward = max_pool_forward,
    .config = pool_config,
    .destroy = free,
};

static const cg_layer_class AVG_POOL_CLASS = {
    .type = "avgpool",
    .build = pool_build,
    .forward = avg_pool_forward,
    .config = pool_config,
    .destroy = free,
};

static cg_layer *pool_layer(const cg_layer_class *layer_class, const char *function, int size) {
    if (size <= 0) {
        cg_error_set("%s: size must be positive, got %d", function, size);
        return NULL;
    }
    int *state = malloc(sizeof *state);
    if (!state) {
        cg_error_set("%s: out of memory", function);
        return NULL;
    }
    *state = size;
    return cg_layer_new(layer_class, state);
}

cg_layer *cg_layer_max_pool2d(int size) {
    return pool_layer(&MAX_POOL_CLASS, "cg_layer_max_pool2d", size);
}

cg_layer *cg_layer_avg_pool2d(int size) {
    return pool_layer(&AVG_POOL_CLASS, "cg_layer_avg_pool2d", size);
}

static cg_layer *pool_from_spec(const cg_layer_class *layer_class, const char *arguments) {
    char word[64];
    int64_t size;
    cg_spec_next_word(&arguments, word, sizeof word);
    if (cg_spec_positive_integer(layer_class->type, "SIZE (a positive integer)", word, &size) != 0)
        return NULL;
    if (size > INT_MAX) {
        cg_error_set("%s expects SIZE (a positive integer), got '%s' (too large)",
                     layer_class->type, word);
        return NULL;
    }
    if (cg_spec_expect_end(arguments, layer_class->type, "SIZE") != 0) return NULL;
    return pool_layer(layer_class, layer_class->type, (int)size);
}

cg_layer *cg_max_pool_from_spec(const char *arguments) {
    return pool_from_spec(&MAX_POOL_CLASS, arguments);
}

cg_layer *cg_avg_pool_from_spec(const char *arguments) {
    return pool_from_spec(&AVG_POOL_CLASS, arguments);
}

/* ----- global average pooling ----- */

static int global_avg_pool_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    if (cg_check_image_input(input_shape, 1, "window") != 0) return -1;
    *output_shape = CG_SHAPE(input_shape.dims[0]);
    return 0;
}

static cg_tensor *global_avg_pool_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)layer;
    (void)training;
    return cg_global_avg_pool2d(x);
}

static int no_config(const cg_layer *layer, char *buffer, size_t size) {
    (void)layer;
    if (size) buffer[0] = '\0';
    return 0;
}

static const cg_layer_class GLOBAL_AVG_POOL_CLASS = {
    .type = "globalavgpool",
    .build = global_avg_pool_build,
    .forward = global_avg_pool_forward,
    .config = no_config,
};

cg_layer *cg_layer_global_avg_pool2d(void) { return cg_layer_new(&GLOBAL_AVG_POOL_CLASS, NULL); }

cg_layer *cg_global_avg_pool_from_spec(const char *arguments) {
    if (cg_spec_expect_end(arguments, "globalavgpool", "no arguments") != 0) return NULL;
    return cg_layer_global_avg_pool2d();
}
