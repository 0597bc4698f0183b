/* Sequential models: building, the forward pass and its checks, parameters and their names,
 * custom layers trained through autograd, the summary, metadata and cg_compile. */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "test.h"

/* ----- helpers ----- */

/* A 4-16-3 network with dropout in the middle (layer indices 0, 1, 2). */
static cg_model *small_classifier(void) {
    cg_model *model = cg_sequential(cg_layer_dense(16, CG_ACTIVATION_RELU), cg_layer_dropout(0.5),
                                    cg_layer_dense(3, CG_ACTIVATION_NONE));
    if (model && cg_model_build(model, CG_SHAPE(4)) != 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

/* The text a model's summary prints (malloc'd; the caller frees). */
static char *summary_text(const cg_model *model) {
    FILE *file = tmpfile();
    if (!file) return NULL;
    char *text = NULL;
    if (cg_model_summary(model, file) == 0) {
        const long size = ftell(file);
        text = calloc((size_t)size + 1, 1);
        rewind(file);
        if (text && fread(text, 1, (size_t)size, file) != (size_t)size) {
            free(text);
            text = NULL;
        }
    }
    fclose(file);
    return text;
}

/* A custom layer y = x * alpha, with one trainable factor per feature. */
static int scale_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    *output_shape = input_shape;
    return cg_layer_add_parameter(layer, "alpha", cg_randn(input_shape, CG_FLOAT32)) ? 0 : -1;
}

static cg_tensor *scale_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)training;
    return cg_mul(x, cg_layer_tensor(layer, "alpha"));
}

static const cg_layer_class SCALE_CLASS = {
    .type = "scale", .build = scale_build, .forward = scale_forward};

/* A broken custom layer whose forward drops a feature its build promised. */
static int same_shape_build(cg_layer *layer, cg_shape input_shape, cg_shape *output_shape) {
    (void)layer;
    *output_shape = input_shape;
    return 0;
}

static cg_tensor *narrowing_forward(cg_layer *layer, const cg_tensor *x, bool training) {
    (void)layer, (void)training;
    return cg_narrow(x, 1, 0, 1);
}

static const cg_layer_class NARROWING_CLASS = {
    .type = "narrowing", .build = same_shape_build, .forward = narrowing_forward};

/* ----- building and forward ----- */

TEST(parameters_are_named_like_a_pytorch_state_dict) {
    cg_model *model = small_classifier();
    CHECK(model);
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    const char *expected[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    const int64_t sizes[4] = {16 * 4, 16, 3 * 16, 3};
    CHECK(count == 4);
    for (int i = 0; i < count; i++) {
        CHECK(strcmp(cg_model_parameter_name(model, i), expected[i]) == 0);
        CHECK(cg_numel(parameters[i]) == sizes[i]);
        CHECK(cg_requires_grad(parameters[i]));
    }
    CHECK(cg_model_parameter_total(model) == 4 * 16 + 16 + 16 * 3 + 3);
    CHECK_ERROR(cg_model_parameter_name(model, 4), "no parameter 4");
    CHECK(cg_model_layer_count(model) == 3);
    CHECK(strcmp(cg_layer_type(cg_model_layer(model, 1)), "dropout") == 0);
    CHECK_ERROR(cg_model_layer(model, 3), "no layer 3");
    cg_model_free(model);
}

typedef struct {
    char names[8][32];
    int trainable_count, count;
} visited_tensors;

static int record_tensor(const char *name, cg_tensor *tensor, bool trainable, void *userdata) {
    (void)tensor;
    visited_tensors *visited = userdata;
    if (visited->count == 8) return 1;
    snprintf(visited->names[visited->count++], sizeof visited->names[0], "%s", name);
    visited->trainable_count += trainable;
    return 0;
}

TEST(visit_tensors_includes_buffers_in_layer_order) {
    cg_model *model = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE), cg_layer_batch_norm());
    CHECK(model && cg_model_build(model, CG_SHAPE(3)) == 0);
    visited_tensors visited = {0};
    CHECK(cg_model_visit_tensors(model, record_tensor, &visited) == 0);
    cg_model_free(model);
    const char *expected[6] = {"0.weight", "0.bias",         "1.weight",
                               "1.bias",   "1.running_mean", "1.running_var"};
    CHECK(visited.count == 6 && visited.trainable_count == 4);
    for (int i = 0; i < 6; i++)
        CHECK(strcmp(visited.names[i], expected[i]) == 0);
}

TEST(forward_builds_lazily_and_checks_its_input) {
    cg_model *model =
        cg_sequential(cg_layer_dense(3, CG_ACTIVATION_NONE), cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(model && !cg_model_is_built(model));
    cg_tensor *x = cg_ones(CG_SHAPE(5, 4), CG_FLOAT32);
    cg_tensor *y = cg_model_forward(model, x, false);
    CHECK(y && cg_dim(y, 0) == 5 && cg_dim(y, 1) == 2);
    CHECK(cg_model_is_built(model));
    const cg_shape in = cg_model_input_shape(model), out = cg_model_output_shape(model);
    CHECK(in.ndim == 1 && in.dims[0] == 4 && out.ndim == 1 && out.dims[0] == 2);
    cg_tensor *wrong = cg_ones(CG_SHAPE(5, 6), CG_FLOAT32);
    cg_tensor *doubles = cg_ones(CG_SHAPE(5, 4), CG_FLOAT64);
    cg_tensor *labels = cg_zeros(CG_SHAPE(5, 4), CG_INT64);
    CHECK_ERROR(cg_model_forward(model, wrong, false), "takes samples of 4");
    CHECK_ERROR(cg_model_forward(model, doubles, false), "input is float64 but the parameters");
    CHECK_ERROR(cg_model_forward(model, labels, false), "cg_model_forward");
    CHECK_ERROR(cg_model_build(model, CG_SHAPE(6)), "built for samples of 4, not 6");
    CHECK(cg_model_build(model, CG_SHAPE(4)) == 0);
    cg_release(y), cg_release(x), cg_release(wrong), cg_release(doubles), cg_release(labels);
    cg_model_free(model);
}

TEST(layers_added_to_a_built_model_are_built_at_once) {
    cg_model *model = small_classifier();
    CHECK(model);
    CHECK(cg_model_add(model, cg_layer_dense(7, CG_ACTIVATION_SIGMOID)) == 0);
    CHECK(cg_model_output_shape(model).dims[0] == 7);
    CHECK(strcmp(cg_model_parameter_name(model, 4), "3.weight") == 0);
    CHECK(cg_model_layer_count(model) == 4);
    cg_model_free(model);
    model = cg_sequential(cg_layer_batch_norm());
    CHECK(model && cg_model_build(model, CG_SHAPE(2, 3, 3)) == 0);
    CHECK_ERROR(cg_model_add(model, cg_layer_dense(2, CG_ACTIVATION_NONE)),
                "layer 1 (dense): expects samples of 1 dim, got 2x3x3");
    CHECK(cg_model_layer_count(model) == 1);
    CHECK(cg_model_add(model, cg_layer_flatten()) == 0);
    CHECK(cg_model_output_shape(model).dims[0] == 18);
    cg_model_free(model);
}

TEST(sequential_with_a_failed_layer_fails_and_frees_the_rest) {
    cg_clear_error();
    cg_model *model = cg_sequential(cg_layer_dense(4, CG_ACTIVATION_RELU), cg_layer_dropout(2.0),
                                    cg_layer_flatten());
    CHECK(model == NULL);
    CHECK(strstr(cg_last_error(), "rate must be in [0, 1)"));
}

TEST(build_rejects_invalid_shapes_and_names_the_failing_layer) {
    cg_model *model = cg_sequential(cg_layer_flatten(), cg_layer_batch_norm(),
                                    cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(model);
    CHECK_ERROR(cg_model_build(model, CG_SHAPE(0, 3)), "invalid sample shape");
    CHECK(cg_model_build(model, CG_SHAPE(2, 3)) == 0);
    CHECK(cg_model_output_shape(model).dims[0] == 2);
    cg_model_free(model);
    model = cg_sequential(cg_layer_new(&NARROWING_CLASS, NULL));
    CHECK(model);
    cg_tensor *x = cg_ones(CG_SHAPE(2, 3), CG_FLOAT32);
    CHECK_ERROR(cg_model_forward(model, x, false),
                "layer 0 (narrowing) returned [2x1], but its build announced samples of 3");
    cg_release(x);
    cg_model_free(model);
}

TEST(to_dtype_converts_parameters_and_buffers) {
    cg_model *model = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE), cg_layer_batch_norm());
    CHECK(model && cg_model_build(model, CG_SHAPE(3)) == 0);
    cg_tensor *before = cg_clone(cg_layer_tensor(cg_model_layer(model, 0), "weight"));
    CHECK(cg_model_to_dtype(model, CG_FLOAT64) == 0);
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    CHECK(count == 4 && parameters[0] == cg_layer_tensor(cg_model_layer(model, 0), "weight"));
    for (int i = 0; i < count; i++)
        CHECK(cg_tensor_dtype(parameters[i]) == CG_FLOAT64 && cg_requires_grad(parameters[i]));
    cg_tensor *running = cg_layer_tensor(cg_model_layer(model, 1), "running_var");
    CHECK(cg_tensor_dtype(running) == CG_FLOAT64 && !cg_requires_grad(running));
    CHECK_TENSOR_CLOSE(parameters[0], before, 0, 0);
    CHECK_ERROR(cg_model_to_dtype(model, CG_INT32), "float32 or float64");
    cg_release(before);
    cg_model_free(model);
}

/* ----- custom layers and training ----- */

TEST(custom_layer_parameter_trains_through_autograd) {
    enum { N = 3, F = 2, OUT = 2 };
    cg_model *model =
        cg_sequential(cg_layer_new(&SCALE_CLASS, NULL), cg_layer_dense(OUT, CG_ACTIVATION_NONE));
    CHECK(model);
    cg_tensor *x = cg_randn(CG_SHAPE(N, F), CG_FLOAT32);
    /* The lazy build happens inside the step's scope; the parameters must outlive it. */
    cg_scope_begin();
    CHECK(cg_backward(cg_sum(cg_model_forward(model, x, true), CG_ALL_DIMS, false)) == 0);
    cg_scope_end();
    cg_layer *scale = cg_model_layer(model, 0);
    CHECK(strcmp(cg_model_parameter_name(model, 0), "0.alpha") == 0);
    CHECK(cg_layer_state(scale) == NULL && strcmp(cg_layer_type(scale), "scale") == 0);
    /* d/d alpha_j of sum(x * alpha @ W^T + b) = sum_n x_nj * sum_k W_kj. */
    float xv[N * F], wv[OUT * F], grad[F];
    CHECK(cg_copy_to_array(x, xv, sizeof xv) == 0);
    CHECK(cg_copy_to_array(cg_layer_tensor(cg_model_layer(model, 1), "weight"), wv, sizeof wv) ==
          0);
    CHECK(cg_copy_to_array(cg_grad(cg_layer_tensor(scale, "alpha")), grad, sizeof grad) == 0);
    for (int j = 0; j < F; j++) {
        double expected = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < OUT; k++)
                expected += xv[n * F + j] * wv[k * F + j];
        CHECK(grad[j] != 0);
        CHECK_NEAR(grad[j], expected, 1e-5);
    }
    cg_model_zero_grad(model);
    CHECK(cg_grad(cg_layer_tensor(scale, "alpha")) == NULL);
    cg_release(x);
    cg_model_free(model);
}

TEST(hand_written_loop_fits_a_line_through_the_model) {
    enum { N = 32, STEPS = 200 };
    cg_model *model = cg_sequential(cg_layer_dense(1, CG_ACTIVATION_NONE));
    CHECK(model);
    cg_tensor *x = cg_randn(CG_SHAPE(N, 1), CG_FLOAT32);
    cg_scope_begin();
    cg_tensor *y = cg_keep(cg_add_scalar(cg_mul_scalar(x, 3.0), -2.0));
    cg_scope_end();
    double first = NAN, last = NAN;
    for (int step = 0; step < STEPS; step++) {
        cg_scope_begin();
        cg_tensor *loss = cg_loss_compute(CG_LOSS_MSE, cg_model_forward(model, x, true), y);
        last = cg_item(loss);
        if (step == 0) first = last;
        cg_model_zero_grad(model);
        int count = 0;
        cg_tensor *const *parameters = cg_model_parameters(model, &count);
        bool ok = cg_backward(loss) == 0;
        for (int i = 0; ok && i < count; i++)
            ok = cg_add_scaled_(parameters[i], cg_grad(parameters[i]), -0.1) == 0;
        cg_scope_end();
        if (!ok) break;
    }
    const int64_t origin[2] = {0, 0};
    const double slope = cg_get(cg_layer_tensor(cg_model_layer(model, 0), "weight"), origin);
    const double intercept = cg_get(cg_layer_tensor(cg_model_layer(model, 0), "bias"), origin);
    cg_release(y), cg_release(x);
    cg_model_free(model);
    CHECK(first > 1.0);
    CHECK(last < 1e-6);
    CHECK_NEAR(slope, 3.0, 1e-3);
    CHECK_NEAR(intercept, -2.0, 1e-3);
}

/* ----- layer objects ----- */

TEST(layer_tensors_are_validated) {
    cg_layer *layer = cg_layer_new(&SCALE_CLASS, NULL);
    CHECK(layer);
    CHECK(cg_layer_add_parameter(layer, "w", cg_zeros(CG_SHAPE(2), CG_FLOAT32)));
    CHECK(cg_layer_add_buffer(layer, "count", cg_zeros(CG_SHAPE(1), CG_INT64)));
    CHECK(!cg_requires_grad(cg_layer_tensor(layer, "count")));
    CHECK_ERROR(cg_layer_add_parameter(layer, "w", cg_zeros(CG_SHAPE(2), CG_FLOAT32)),
                "scale layer already has a tensor of that name, tensor 'w'");
    CHECK_ERROR(cg_layer_add_parameter(layer, "steps", cg_zeros(CG_SHAPE(1), CG_INT64)),
                "floating-point");
    CHECK_ERROR(cg_layer_add_parameter(layer, "", cg_zeros(CG_SHAPE(1), CG_FLOAT32)), "name");
    CHECK(cg_layer_tensor(layer, "missing") == NULL);
    char line[64];
    CHECK_ERROR(cg_layer_spec_line(layer, line, sizeof line),
                "layer type 'scale' has no config function");
    CHECK_ERROR(cg_layer_new(&(cg_layer_class){.type = "incomplete"}, NULL),
                "needs a type name, build and forward");
    cg_layer_free(layer);
}

TEST(layer_created_inside_a_scope_keeps_its_parameter) {
    cg_layer *layer = cg_layer_new(&SCALE_CLASS, NULL);
    CHECK(layer);
    cg_scope_begin();
    cg_layer_add_parameter(layer, "w", cg_ones(CG_SHAPE(3), CG_FLOAT32));
    cg_scope_end();
    const int64_t index[1] = {2};
    CHECK_NEAR(cg_get(cg_layer_tensor(layer, "w"), index), 1.0, 0);
    cg_layer_free(layer);
}

/* ----- summary ----- */

TEST(summary_lists_layers_shapes_and_totals) {
    cg_model *model = small_classifier();
    CHECK(model);
    char *text = summary_text(model);
    cg_model_free(model);
    CHECK(text);
    const char *expected[] = {"Layer (type)",
                              "Output Shape",
                              "Param #",
                              "dense (Dense)",
                              "(None, 16)",
                              "80\n",
                              "dropout (Dropout)",
                              "dense_1 (Dense)",
                              "(None, 3)",
                              "51\n",
                              "Total params: 131\n",
                              "Trainable params: 131\n",
                              "Non-trainable params: 0\n"};
    const char *missing = NULL;
    for (size_t i = 0; !missing && i < sizeof expected / sizeof expected[0]; i++)
        if (!strstr(text, expected[i])) missing = expected[i];
    if (missing) printf("%s", text);
    free(text);
    CHECK(missing == NULL);
}

TEST(summary_counts_buffers_as_non_trainable) {
    cg_model *model = cg_sequential(cg_layer_flatten(), cg_layer_batch_norm(),
                                    cg_layer_dense(10, CG_ACTIVATION_SOFTMAX));
    CHECK(model && cg_model_build(model, CG_SHAPE(1, 2, 3)) == 0);
    char *text = summary_text(model);
    CHECK_ERROR(cg_model_summary(NULL, stdout), "needs a model");
    cg_model_free(model);
    CHECK(text);
    /* batch norm: 6 weights + 6 biases trainable, 12 running statistics; dense: 6*10 + 10. */
    const bool complete = strstr(text, "(None, 6)") && strstr(text, "Total params: 94\n") &&
                          strstr(text, "Trainable params: 82\n") &&
                          strstr(text, "Non-trainable params: 12\n") &&
                          strstr(text, "batchnorm (Batchnorm)");
    if (!complete) printf("%s", text);
    free(text);
    CHECK(complete);
}

TEST(summary_of_an_unbuilt_model_is_an_error) {
    cg_model *model = cg_sequential(cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(model);
    CHECK_ERROR(cg_model_summary(model, stdout), "not built");
    cg_model_free(model);
}

/* ----- metadata and compile ----- */

TEST(metadata_is_stored_and_replaced) {
    cg_model *model = cg_sequential(cg_layer_flatten());
    CHECK(model);
    CHECK(cg_model_metadata(model, "classes") == NULL);
    CHECK(cg_model_set_metadata(model, "classes", "setosa,versicolor") == 0);
    CHECK(cg_model_set_metadata(model, "mean", "5.8") == 0);
    CHECK(cg_model_set_metadata(model, "classes", "a,b,c") == 0);
    CHECK(strcmp(cg_model_metadata(model, "classes"), "a,b,c") == 0);
    CHECK(strcmp(cg_model_metadata(model, "mean"), "5.8") == 0);
    CHECK_ERROR(cg_model_set_metadata(model, "", "x"), "non-empty key");
    cg_model_free(model);
}

TEST(compile_validates_and_replaces_the_optimizer) {
    cg_model *model = small_classifier();
    CHECK(model);
    CHECK_ERROR(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_COUNT, 0), "unknown loss");
    CHECK_ERROR(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_MSE, 1u << 7), "unknown metric");
    CHECK_ERROR(cg_compile(model, cg_sgd(0.1, 0, false), CG_LOSS_MSE, CG_METRIC_ACCURACY),
                "accuracy metric needs the cross_entropy loss");
    CHECK_ERROR(cg_compile(model, cg_adam(1e-3), CG_LOSS_CROSS_ENTROPY, CG_METRIC_BINARY_ACCURACY),
                "binary accuracy metric needs the binary_cross_entropy loss");
    CHECK_ERROR(cg_compile(model, NULL, CG_LOSS_MSE, 0), "no optimizer");
    CHECK_ERROR(cg_compile(NULL, cg_adam(1e-3), CG_LOSS_MSE, 0), "no model");
    CHECK(cg_model_optimizer(model) == NULL);

    cg_optimizer *adam = cg_adam(1e-3);
    CHECK(cg_compile(model, adam, CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY | CG_METRIC_MAE) == 0);
    CHECK(cg_model_optimizer(model) == adam && cg_model_loss(model) == CG_LOSS_CROSS_ENTROPY);
    CHECK(cg_model_metrics(model) == (CG_METRIC_ACCURACY | CG_METRIC_MAE));
    /* Compiling again with the same optimizer keeps it; a new one replaces (and frees) it. */
    CHECK(cg_compile(model, adam, CG_LOSS_MSE, 0) == 0 && cg_model_optimizer(model) == adam);
    cg_optimizer *sgd = cg_sgd(0.01, 0.9, true);
    CHECK(cg_compile(model, sgd, CG_LOSS_BINARY_CROSS_ENTROPY, CG_METRIC_BINARY_ACCURACY) == 0);
    CHECK(cg_model_optimizer(model) == sgd && cg_model_loss(model) == CG_LOSS_BINARY_CROSS_ENTROPY);
    cg_model_free(model);
}
