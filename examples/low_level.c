/* Iris with the low-level API only: tensors, automatic differentiation and a hand-written
 * full-batch gradient-descent loop, no layers or optimizers. Two models are trained on the same
 * stratified 120/30 split, with features standardised by the training rows' statistics:
 * softmax regression (4 -> 3) and a two-layer network (4 -> 16 -> 3 with tanh).
 *
 * usage: low_level [iris.csv] [seed]     (defaults: data/iris.csv, 1) */
#include <cgrad.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { MAX_PARAMETERS = 4, HIDDEN_UNITS = 16, LOG_EVERY = 100 };
static const uint64_t SPLIT_SEED = 2024; /* the split stays fixed while the seed varies weights */

typedef cg_tensor *(*forward_fn)(cg_tensor *const *parameters, const cg_tensor *x);

typedef struct {
    const char *name;
    forward_fn forward; /* features (N x F) to logits (N x classes) */
    cg_tensor *parameters[MAX_PARAMETERS];
    int parameter_count;
    int epochs;
    double learning_rate;
} model;

/* logits = x W + b */
static cg_tensor *softmax_regression(cg_tensor *const *p, const cg_tensor *x) {
    return cg_add(cg_matmul(x, p[0]), p[1]);
}

/* logits = tanh(x W1 + b1) W2 + b2 */
static cg_tensor *two_layer_network(cg_tensor *const *p, const cg_tensor *x) {
    cg_tensor *hidden = cg_tanh(cg_add(cg_matmul(x, p[0]), p[1]));
    return cg_add(cg_matmul(hidden, p[2]), p[3]);
}

/* An in x out weight drawn from N(0, 1/in), which keeps tanh out of saturation at the start. */
static cg_tensor *weight(int64_t in, int64_t out) {
    cg_scope_begin();
    cg_tensor *w =
        cg_keep(cg_mul_scalar(cg_randn(CG_SHAPE(in, out), CG_FLOAT32), 1.0 / sqrt((double)in)));
    cg_scope_end();
    return cg_set_requires_grad(w, true);
}

static cg_tensor *bias(int64_t out) {
    return cg_set_requires_grad(cg_zeros(CG_SHAPE(out), CG_FLOAT32), true);
}

/* Gradient descent on the mean cross-entropy; one scope per step frees the step's graph. */
static int train(model *m, const cg_tensor *x, const cg_tensor *labels) {
    for (int epoch = 1; epoch <= m->epochs; epoch++) {
        cg_scope_begin();
        cg_tensor *loss = cg_cross_entropy(m->forward(m->parameters, x), labels, CG_REDUCTION_MEAN);
        int status = loss ? cg_backward(loss) : -1;
        for (int i = 0; status == 0 && i < m->parameter_count; i++) {
            cg_tensor *p = m->parameters[i];
            status = cg_add_scaled_(p, cg_grad(p), -m->learning_rate);
            cg_zero_grad(p);
        }
        if (status == 0 && (epoch == 1 || epoch % LOG_EVERY == 0))
            printf("%s epoch %4d  loss %.4f\n", m->name, epoch, cg_item(loss));
        cg_scope_end();
        if (status != 0) return -1;
    }
    return 0;
}

/* The share of samples whose largest logit is at their label; NaN on error. */
static double accuracy(const model *m, const cg_tensor *x, const cg_tensor *labels) {
    const bool previous = cg_set_grad_enabled(false);
    cg_scope_begin();
    cg_tensor *predicted = cg_argmax(m->forward(m->parameters, x), 1, false);
    cg_tensor *correct = cg_to_dtype(cg_eq(predicted, labels), CG_FLOAT32);
    const double share = correct ? cg_item(cg_mean(correct, CG_ALL_DIMS, false)) : NAN;
    cg_scope_end();
    cg_set_grad_enabled(previous);
    return share;
}

/* Trains m and prints its test accuracy; 0 or -1 with the error in cg_last_error(). */
static int train_and_evaluate(model *m, const cg_dataset *train_set, const cg_dataset *test_set) {
    for (int i = 0; i < m->parameter_count; i++)
        if (!m->parameters[i]) return -1;
    if (train(m, cg_dataset_features(train_set), cg_dataset_labels(train_set)) != 0) return -1;
    const double share = accuracy(m, cg_dataset_features(test_set), cg_dataset_labels(test_set));
    if (isnan(share)) return -1;
    printf("%s test accuracy: %.4f\n", m->name, share);
    return 0;
}

/* Reads, splits and standardises the data; 0 or -1 with the error in cg_last_error(). */
static int prepare(const char *path, cg_dataset **train_set, cg_dataset **test_set) {
    cg_dataset *iris = cg_csv_read(path, NULL);
    if (!iris) return -1;
    int status = cg_dataset_split(iris, 0.2, true, SPLIT_SEED, train_set, test_set);
    cg_dataset_free(iris);
    cg_standardizer *standardizer = status == 0 ? cg_standardizer_fit(*train_set) : NULL;
    if (!standardizer || cg_standardizer_apply(standardizer, *train_set) != 0 ||
        cg_standardizer_apply(standardizer, *test_set) != 0)
        status = -1;
    cg_standardizer_free(standardizer);
    return status;
}

/* Trains both models; the exit status. */
static int run(const char *path, uint64_t seed) {
    cg_dataset *train_set = NULL, *test_set = NULL;
    if (prepare(path, &train_set, &test_set) != 0) {
        fprintf(stderr, "low_level: %s\n", cg_last_error());
        return 1;
    }
    const int64_t features = cg_dataset_feature_count(train_set);
    const int64_t classes = cg_dataset_class_count(train_set);
    if (classes < 2) {
        fprintf(stderr, "low_level: '%s' needs class names in its last column\n", path);
        cg_dataset_free(train_set);
        cg_dataset_free(test_set);
        return 1;
    }
    cg_manual_seed(seed);
    model models[] = {
        {"softmax regression",
         softmax_regression,
         {weight(features, classes), bias(classes)},
         2,
         500,
         0.5},
        {"two-layer network",
         two_layer_network,
         {weight(features, HIDDEN_UNITS), bias(HIDDEN_UNITS), weight(HIDDEN_UNITS, classes),
          bias(classes)},
         4,
         1000,
         0.2},
    };
    int status = 0;
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        if (status == 0) status = train_and_evaluate(&models[i], train_set, test_set);
        for (int j = 0; j < models[i].parameter_count; j++)
            cg_release(models[i].parameters[j]);
    }
    cg_dataset_free(train_set);
    cg_dataset_free(test_set);
    if (status != 0) fprintf(stderr, "low_level: %s\n", cg_last_error());
    return status == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "data/iris.csv";
    uint64_t seed = 1;
    if (argc > 2) {
        char *end;
        errno = 0;
        seed = strtoull(argv[2], &end, 10);
        if (errno || end == argv[2] || *end) {
            fprintf(stderr, "low_level: the seed must be a whole number, got '%s'\n", argv[2]);
            return 1;
        }
    }
    return run(path, seed);
}
