/* A high-level model trained by a hand-written loop: the layers come from cg_sequential, but
 * each step is written out with the low-level API (forward, loss, backward, optimizer step)
 * instead of calling fit. Same data, split and architecture as the Iris lab's multi-layer
 * network, and the same accuracy.
 *
 * usage: custom_loop [--data FILE.csv] [--seed N] */
#include <cgrad.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPLIT_SEED = 2024, EPOCHS = 150, BATCH_SIZE = 16 };

/* One epoch of mini-batch training in a shuffled order; returns the mean loss or NaN. */
static double train_epoch(cg_model *model, cg_optimizer *optimizer, const cg_tensor *x,
                          const cg_tensor *y) {
    const int64_t samples = cg_dim(x, 0);
    int count;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    double total = 0;
    bool shuffle_failed = false;
    cg_scope_begin();
    /* A Fisher-Yates shuffle driven by cgrad's seeded generator, so runs are reproducible. */
    int64_t *indices = malloc(sizeof(int64_t) * (size_t)samples);
    double *draws = malloc(sizeof(double) * (size_t)samples);
    if (!indices || !draws ||
        cg_copy_to_array(cg_rand(CG_SHAPE(samples), CG_FLOAT64), draws,
                         sizeof(double) * (size_t)samples) != 0)
        shuffle_failed = true;
    for (int64_t i = 0; !shuffle_failed && i < samples; i++)
        indices[i] = i;
    for (int64_t i = samples - 1; !shuffle_failed && i > 0; i--) {
        const int64_t j = (int64_t)(draws[i] * (double)(i + 1));
        const int64_t swap = indices[i];
        indices[i] = indices[j];
        indices[j] = swap;
    }
    if (shuffle_failed) total = NAN;
    for (int64_t start = 0; !shuffle_failed && start < samples; start += BATCH_SIZE) {
        const int64_t size = start + BATCH_SIZE <= samples ? BATCH_SIZE : samples - start;
        cg_scope_begin();
        cg_tensor *batch = cg_from_array(indices + start, CG_SHAPE(size), CG_INT64);
        cg_tensor *logits = cg_model_forward(model, cg_index_select(x, 0, batch), true);
        cg_tensor *loss = cg_cross_entropy(logits, cg_index_select(y, 0, batch), CG_REDUCTION_MEAN);
        const bool ok =
            loss && cg_backward(loss) == 0 && cg_optimizer_step(optimizer, parameters, count) == 0;
        if (ok) total += cg_item(loss) * (double)size;
        cg_model_zero_grad(model);
        cg_scope_end();
        if (!ok) {
            total = NAN;
            break;
        }
    }
    free(indices);
    free(draws);
    cg_scope_end();
    return total / (double)samples;
}

/* The fraction of rows whose largest logit is the label. */
static double accuracy(cg_model *model, const cg_tensor *x, const cg_tensor *y) {
    const bool previous = cg_set_grad_enabled(false);
    cg_scope_begin();
    cg_tensor *predicted = cg_argmax(cg_model_forward(model, x, false), 1, false);
    const double correct = cg_item(cg_sum(cg_eq(predicted, y), CG_ALL_DIMS, false));
    cg_scope_end();
    cg_set_grad_enabled(previous);
    return correct / (double)cg_dim(x, 0);
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
    cg_optimizer *optimizer = NULL;
    int status = 1;
    if (!all || cg_dataset_split(all, 0.2, true, SPLIT_SEED, &train, &test) != 0) goto done;
    scaler = cg_standardizer_fit(train);
    if (!scaler || cg_standardizer_apply(scaler, train) != 0 ||
        cg_standardizer_apply(scaler, test) != 0)
        goto done;

    cg_manual_seed(seed);
    model = cg_sequential(cg_layer_dense(16, CG_ACTIVATION_RELU),
                          cg_layer_dense(16, CG_ACTIVATION_RELU),
                          cg_layer_dense(3, CG_ACTIVATION_NONE));
    optimizer = cg_adam(0.01);
    if (!model || !optimizer || cg_model_build(model, CG_SHAPE(4)) != 0) goto done;
    const cg_tensor *x = cg_dataset_features(train), *y = cg_dataset_labels(train);
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        const double loss = train_epoch(model, optimizer, x, y);
        if (loss != loss) goto done;
        if (epoch % 25 == 0 || epoch == EPOCHS - 1)
            printf("epoch %3d  loss %.4f  train accuracy %.4f\n", epoch, loss,
                   accuracy(model, x, y));
    }
    printf("custom loop test accuracy: %.4f\n",
           accuracy(model, cg_dataset_features(test), cg_dataset_labels(test)));
    status = 0;
done:
    if (status != 0) fprintf(stderr, "custom_loop: %s\n", cg_last_error());
    cg_optimizer_free(optimizer);
    cg_model_free(model);
    cg_standardizer_free(scaler);
    cg_dataset_free(train);
    cg_dataset_free(test);
    cg_dataset_free(all);
    return status;
}
