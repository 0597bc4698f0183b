/* Dropout as a layer: active in training mode, the identity in evaluation mode. */
#include <stdlib.h>

#include "core/error.h"
#include "nn/layers.h"

static int dropout_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    *output_shape = input_shape;
    return 0;
}

static cg_tensor *dropout_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    return cg_dropout(x, *(const double *)layer->state, training);
}

static int dropout_config(const cg_layer *layer, char *buffer, size_t size) {
    /* The shortest text that reads back as the same rate: "0.2", and a saved model still
     * reloads with exactly the rate it was trained with. */
    const double rate = *(const double *)layer->state;
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buffer, size, "%.*g", digits, rate);
        if (strtod(buffer, NULL) == rate) break;
    }
    return 0;
}

static const cg_layer_class DROPOUT_CLASS = {
    .type = "dropout",
    .build = dropout_build,
    .forward = dropout_forward,
    .config = dropout_config,
    .destroy = free,
};

static bool valid_rate(double rate) { return rate >= 0.0 && rate < 1.0; }

cg_layer *cg_layer_dropout(double rate) {
    if (!valid_rate(rate)) {
        cg_error_set("cg_layer_dropout: rate must be in [0, 1), got %g", rate);
        return NULL;
    }
    double *state = malloc(sizeof *state);
    if (!state) {
        cg_error_set("cg_layer_dropout: out of memory");
        return NULL;
    }
    *state = rate;
    return cg_layer_new(&DROPOUT_CLASS, state);
}

cg_layer *cg_dropout_from_spec(const char *arguments) {
    char word[64];
    cg_spec_next_word(&arguments, word, sizeof word);
    char *end = NULL;
    const double rate = strtod(word, &end);
    if (!word[0] || *end || !valid_rate(rate)) {
        cg_error_set("dropout expects RATE (a number in [0, 1)), got %s%s%s", word[0] ? "'" : "",
                     word[0] ? word : "nothing", word[0] ? "'" : "");
        return NULL;
    }
    if (cg_spec_expect_end(arguments, "dropout", "RATE") != 0) return NULL;
    return cg_layer_dropout(rate);
}
