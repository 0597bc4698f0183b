/* A custom layer written with low-level ops, used inside a sequential model trained with fit.
 *
 * The layer is a gated unit: y = x * sigmoid(x W^T + b). Its forward is an ordinary tensor
 * expression; its parameters are registered with the layer, so fit's optimizer updates them,
 * summaries count them and save/load names them ("1.weight"); its backward comes from autograd.
 * Registering the type makes spec lines "gated" (and saved models using it) loadable.
 *
 * usage: custom_layer [--data FILE.csv] [--seed N] */
#include <cgrad.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPLIT_SEED = 2024 };

static int gated_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    if (input_shape.ndim != 1) {
        char text[64];
        fprintf(stderr, "gated: expected flat samples, got %s\n",
                cg_shape_format(input_shape, text, sizeof text));
        return -1;
    }
    const int64_t units = input_shape.dims[0];
    /* Glorot-scaled weights and a zero bias: the gate starts half open. The scope frees the
     * temporaries; the layer takes its parameters out of it. */
    cg_scope_begin();
    cg_tensor *weight =
        cg_mul_scalar(cg_randn(CG_SHAPE(units, units), CG_FLOAT32), sqrt(1.0 / (double)units));
    cg_tensor *bias = cg_zeros(CG_SHAPE(units), CG_FLOAT32);
    const bool added = cg_layer_add_parameter(layer, "weight", weight) &&
                       cg_layer_add_parameter(layer, "bias", bias);
    cg_scope_end();
    if (!added) return -1;
    *output_shape = input_shape;
    return 0;
}

static cg_tensor *gated_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    cg_tensor *weight = cg_layer_tensor(layer, "weight"), *bias = cg_layer_tensor(layer, "bias");
    cg_scope_begin();
    cg_tensor *gate = cg_sigmoid(cg_add(cg_matmul(x, cg_transpose(weight, 0, 1)), bias));
    cg_tensor *y = cg_keep(cg_mul(x, gate));
    cg_scope_end();
    return y;
}

static int gated_config(const cg_layer *layer, char *buffer, size_t size) {
    (void)layer;
    (void)size;
    buffer[0] = '\0'; /* no arguments: the spec line is just "gated" */
    return 0;
}

static const cg_layer_class gated_class = {
    .type = "gated", .build = gated_build, .forward = gated_forward, .config = gated_config};

static cg_layer *gated_layer(void) { return cg_layer_new(&gated_class, NULL); }

static cg_layer *gated_from_spec(const char *arguments) {
    (void)arguments;
    return gated_layer();
}

int main(int argc, char **argv) {
    const char *data_path = "data/iris.csv";
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data_path = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--data FILE.csv] [--seed N]\n", argv[0]);
            return 2;
        }
    }
    cg_dataset *all = cg_csv_read(data_path, NULL), *train = NULL, *test = NULL;
    cg_standardizer *scaler = NULL;
    cg_model *model = NULL;
    cg_history *history = NULL;
    int status = 1;
    if (cg_layer_register("gated", gated_from_spec) != 0) goto done;
    if (!all || cg_dataset_split(all, 0.2, true, SPLIT_SEED, &train, &test) != 0) goto done;
    scaler = cg_standardizer_fit(train);
    if (!scaler || cg_standardizer_apply(scaler, train) != 0 ||
        cg_standardizer_apply(scaler, test) != 0)
        goto done;

    cg_manual_seed(seed);
    model = cg_sequential(cg_layer_dense(16, CG_ACTIVATION_TANH), gated_layer(),
                          cg_layer_dense(3, CG_ACTIVATION_NONE));
    if (!model || cg_compile(model, cg_adam(0.01), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) != 0)
        goto done;
    history =
        cg_fit(model, cg_dataset_features(train), cg_dataset_labels(train),
               &(cg_fit_options){
                   .epochs = 150, .batch_size = 16, .seed = seed, .verbose = CG_VERBOSE_SILENT});
    cg_evaluation result;
    if (!history ||
        cg_evaluate(model, cg_dataset_features(test), cg_dataset_labels(test), 0, &result) != 0)
        goto done;
    cg_model_summary(model, stdout);
    char *spec = cg_model_to_spec(model);
    if (spec) printf("architecture:\n%s", spec);
    free(spec);
    printf("custom layer test accuracy: %.4f\n", result.accuracy);
    status = 0;
done:
    if (status != 0) fprintf(stderr, "custom_layer: %s\n", cg_last_error());
    cg_history_free(history);
    cg_model_free(model);
    cg_standardizer_free(scaler);
    cg_dataset_free(train);
    cg_dataset_free(test);
    cg_dataset_free(all);
    return status;
}
