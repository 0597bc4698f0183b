/* The convolution and pooling layers: output shapes for every option, forward values against the
 * ops they wrap, initialisation, spec round trips, summary shapes and parameter counts, a float64
 * gradient check through a small convolutional model, save and load, and their errors. */
#include <stdlib.h>
#include <string.h>

#include "temp_dir.h"
#include "test.h"

/* ----- helpers ----- */

static bool shape_is(cg_shape shape, cg_shape expected) {
    return shape.ndim == expected.ndim &&
           memcmp(shape.dims, expected.dims, sizeof(int64_t) * (size_t)shape.ndim) == 0;
}

/* The per-sample output shape of layer built for input_shape, checked against a forward pass of
 * a batch of two; ndim -1 when building or the forward pass fails. */
static cg_shape layer_output_shape(cg_layer *layer, cg_shape input_shape) {
    const cg_shape failed = {.ndim = -1};
    cg_model *model = cg_sequential(layer);
    if (!model || cg_model_build(model, input_shape) != 0) {
        cg_model_free(model);
        return failed;
    }
    cg_shape batch_shape = {.ndim = input_shape.ndim + 1, .dims = {2}};
    memcpy(batch_shape.dims + 1, input_shape.dims, sizeof(int64_t) * (size_t)input_shape.ndim);
    cg_scope_begin();
    const cg_tensor *y = cg_model_forward(model, cg_randn(batch_shape, CG_FLOAT32), true);
    cg_shape shape = y ? cg_model_output_shape(model) : failed;
    cg_scope_end();
    cg_model_free(model);
    return shape;
}

/* The text a model's summary prints (malloc'd; the caller frees). */
static char *summary_text(const cg_model *model) {
    FILE *file = tmpfile();
    if (!file) return NULL;
    char *text = NULL;
    if (cg_model_summary(model, file) == 0) {
        const long size = ftell(file);
        text = malloc((size_t)size + 1);
        rewind(file);
        if (text) text[fread(text, 1, (size_t)size, file)] = '\0';
    }
    fclose(file);
    return text;
}

/* ----- shapes ----- */

TEST(conv2d_layer_output_shapes_for_every_option) {
    const cg_shape input = CG_SHAPE(3, 9, 8);
    CHECK(shape_is(layer_output_shape(cg_layer_conv2d(4, 3, NULL), input), CG_SHAPE(4, 7, 6)));
    const cg_conv2d_layer_options strided = {.stride = 2};
    CHECK(shape_is(layer_output_shape(cg_layer_conv2d(4, 3, &strided), input), CG_SHAPE(4, 4, 3)));
    const cg_conv2d_layer_options same = {.padding_same = true};
    CHECK(shape_is(layer_output_shape(cg_layer_conv2d(5, 3, &same), input), CG_SHAPE(5, 9, 8)));
    const cg_conv2d_layer_options same_strided = {.stride = 2, .padding_same = true};
    CHECK(shape_is(layer_output_shape(cg_layer_conv2d(5, 4, &same_strided), input),
                   CG_SHAPE(5, 5, 4)));
    const cg_conv2d_layer_options relu_no_bias = {.activation = CG_ACTIVATION_RELU,
                                                  .no_bias = true};
    CHECK(shape_is(layer_output_shape(cg_layer_conv2d(2, 1, &relu_no_bias), input),
                   CG_SHAPE(2, 9, 8)));
    /* "same" padding makes room for a kernel larger than the image. */
    CHECK(shape_is(layer_output_shape(cg_layer_conv2d(2, 5, &same), CG_SHAPE(1, 3, 3)),
                   CG_SHAPE(2, 3, 3)));
}

TEST(pooling_layer_output_shapes) {
    const cg_shape input = CG_SHAPE(3, 9, 8);
    CHECK(shape_is(layer_output_shape(cg_layer_max_pool2d(2), input), CG_SHAPE(3, 4, 4)));
    CHECK(shape_is(layer_output_shape(cg_layer_avg_pool2d(3), input), CG_SHAPE(3, 3, 2)));
    CHECK(shape_is(layer_output_shape(cg_layer_max_pool2d(8), input), CG_SHAPE(3, 1, 1)));
    CHECK(shape_is(layer_output_shape(cg_layer_global_avg_pool2d(), input), CG_SHAPE(3)));
}

TEST(conv2d_layer_parameters_have_pytorch_shapes) {
    const cg_conv2d_layer_options no_bias = {.no_bias = true};
    cg_model *model = cg_sequential(cg_layer_conv2d(6, 5, NULL), cg_layer_conv2d(4, 3, &no_bias));
    CHECK(model && cg_model_build(model, CG_SHAPE(2, 12, 12)) == 0);
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    const bool shapes = count == 3 &&
                        shape_is(cg_tensor_shape(parameters[0]), CG_SHAPE(6, 2, 5, 5)) &&
                        shape_is(cg_tensor_shape(parameters[1]), CG_SHAPE(6)) &&
                        shape_is(cg_tensor_shape(parameters[2]), CG_SHAPE(4, 6, 3, 3));
    const bool names = count == 3 && strcmp(cg_model_parameter_name(model, 0), "0.weight") == 0 &&
                       strcmp(cg_model_parameter_name(model, 1), "0.bias") == 0 &&
                       strcmp(cg_model_parameter_name(model, 2), "1.weight") == 0;
    cg_model_free(model);
    CHECK(shapes);
    CHECK(names);
}

/* ----- forward values ----- */

TEST(conv2d_layer_is_the_convolution_plus_bias_then_the_activation) {
    const cg_conv2d_layer_options options = {
        .stride = 2, .padding_same = true, .activation = CG_ACTIVATION_TANH};
    cg_model *model = cg_sequential(cg_layer_conv2d(3, 3, &options));
    CHECK(model && cg_model_build(model, CG_SHAPE(2, 7, 6)) == 0);
    cg_layer *layer = cg_model_layer(model, 0);
    cg_tensor *bias = cg_layer_tensor(layer, "bias");
    cg_scope_begin();
    /* A non-zero bias, so that adding it is seen. */
    CHECK(cg_copy_(bias, cg_randn(CG_SHAPE(3), CG_FLOAT32)) == 0);
    cg_tensor *x = cg_randn(CG_SHAPE(4, 2, 7, 6), CG_FLOAT32);
    const cg_conv2d_options op_options = {.stride_h = 2, .stride_w = 2, .padding_same = true};
    cg_tensor *expected =
        cg_tanh(cg_conv2d(x, cg_layer_tensor(layer, "weight"), bias, &op_options));
    const bool close = test_tensor_close(cg_model_forward(model, x, false), expected, 1e-6, 1e-6,
                                         __FILE__, __LINE__);
    cg_scope_end();
    cg_model_free(model);
    CHECK(close);
}

TEST(pooling_layers_are_the_pooling_ops) {
    cg_model *model =
        cg_sequential(cg_layer_max_pool2d(2), cg_layer_avg_pool2d(2), cg_layer_global_avg_pool2d());
    CHECK(model && cg_model_build(model, CG_SHAPE(3, 8, 9)) == 0);
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(2, 3, 8, 9), CG_FLOAT32);
    cg_tensor *expected =
        cg_global_avg_pool2d(cg_avg_pool2d(cg_max_pool2d(x, 2, 2, 2, 2), 2, 2, 2, 2));
    const bool close =
        test_tensor_close(cg_model_forward(model, x, true), expected, 0, 0, __FILE__, __LINE__);
    cg_scope_end();
    cg_model_free(model);
    CHECK(close);
}

/* ----- initialisation ----- */

/* The mean and standard deviation of t's elements. */
static void moments(const cg_tensor *t, double *mean, double *std) {
    cg_scope_begin();
    *mean = cg_item(cg_mean(t, CG_ALL_DIMS, false));
    *std = sqrt(cg_item(cg_var(t, CG_ALL_DIMS, false, false)));
    cg_scope_end();
}

TEST(conv2d_layer_initialises_like_dense_with_the_kernel_fan_in) {
    enum { FILTERS = 64, CHANNELS = 16, KERNEL = 3, FAN_IN = CHANNELS * KERNEL * KERNEL };
    const cg_conv2d_layer_options relu = {.activation = CG_ACTIVATION_RELU};
    cg_model *model = cg_sequential(cg_layer_conv2d(FILTERS, KERNEL, &relu),
                                    cg_layer_conv2d(FILTERS, KERNEL, NULL));
    CHECK(model && cg_model_build(model, CG_SHAPE(CHANNELS, 8, 8)) == 0);
    double he_mean, he_std, glorot_mean, glorot_std;
    moments(cg_layer_tensor(cg_model_layer(model, 0), "weight"), &he_mean, &he_std);
    moments(cg_layer_tensor(cg_model_layer(model, 1), "weight"), &glorot_mean, &glorot_std);
    cg_model_free(model);
    /* He normal: std sqrt(2 / fan_in). Glorot uniform: limit sqrt(6 / (fan_in + fan_out)), so std
     * limit / sqrt(3); the second layer's fan-in and fan-out are both FILTERS K K. With 9,216 and
     * 36,864 draws, 5% is ample. */
    CHECK_NEAR(he_mean, 0, 0.01);
    CHECK_NEAR(he_std, sqrt(2.0 / FAN_IN), 0.05 * sqrt(2.0 / FAN_IN));
    const double glorot_limit = sqrt(6.0 / (2 * FILTERS * KERNEL * KERNEL));
    CHECK_NEAR(glorot_mean, 0, 0.01);
    CHECK_NEAR(glorot_std, glorot_limit / sqrt(3.0), 0.05 * glorot_limit / sqrt(3.0));
}

/* ----- specs and summaries ----- */

TEST(conv_spec_round_trips_every_option) {
    static const char spec[] = "input 3 12 12\n"
                               "conv2d 8 3 stride=2 padding=same relu no_bias\n"
                               "conv2d 4 2 tanh\n"
                               "maxpool 2\n"
                               "avgpool 1\n"
                               "batchnorm\n"
                               "globalavgpool\n"
                               "dense 2\n";
    cg_model *model = cg_model_from_spec(spec);
    CHECK(model);
    char *text = cg_model_to_spec(model);
    const bool same_text = text && strcmp(text, spec) == 0;
    if (!same_text) printf("    got:\n%s", text ? text : cg_last_error());
    cg_model *copy = text ? cg_model_from_spec(text) : NULL;
    const bool same_output = copy && shape_is(cg_model_output_shape(copy), CG_SHAPE(2)) &&
                             cg_model_parameter_total(copy) == cg_model_parameter_total(model);
    free(text);
    cg_model_free(copy);
    cg_model_free(model);
    CHECK(same_text);
    CHECK(same_output);
}

TEST(conv_spec_options_come_in_any_order_and_write_back_in_one) {
    cg_model *model = cg_model_from_spec("input 1 8 8\nconv2d 2 3 relu padding=same stride=1\n"
                                         "conv2d 2 3 padding=valid\n");
    CHECK(model);
    char *text = cg_model_to_spec(model);
    const bool canonical =
        text && strcmp(text, "input 1 8 8\nconv2d 2 3 padding=same relu\nconv2d 2 3\n") == 0;
    if (!canonical) printf("    got:\n%s", text ? text : cg_last_error());
    free(text);
    cg_model_free(model);
    CHECK(canonical);
}

TEST(summary_shows_image_shapes_and_conv_parameter_counts) {
    cg_model *model = cg_model_from_spec("input 1 28 28\n"
                                         "conv2d 32 3 relu\n"
                                         "maxpool 2\n"
                                         "conv2d 64 3 relu\n"
                                         "maxpool 2\n"
                                         "flatten\n"
                                         "dense 128 relu\n"
                                         "dense 10\n");
    CHECK(model);
    char *text = summary_text(model);
    const int64_t total = cg_model_parameter_total(model);
    cg_model_free(model);
    CHECK(text);
    const char *expected_lines[] = {
        "conv2d (Conv2d)                (None, 32, 26, 26)         320\n",
        "maxpool (Maxpool)              (None, 32, 13, 13)         0\n",
        "conv2d_1 (Conv2d)              (None, 64, 11, 11)         18496\n",
        "maxpool_1 (Maxpool)            (None, 64, 5, 5)           0\n",
        "flatten (Flatten)              (None, 1600)               0\n",
        "dense (Dense)                  (None, 128)                204928\n",
        "Total params: 225034\n",
    };
    bool found = true;
    for (size_t i = 0; found && i < sizeof expected_lines / sizeof expected_lines[0]; i++) {
        found = strstr(text, expected_lines[i]) != NULL;
        if (!found) printf("    missing: %s    in:\n%s", expected_lines[i], text);
    }
    free(text);
    CHECK(found);
    CHECK(total == 320 + 18496 + 204928 + 1290);
}

/* ----- gradients ----- */

typedef struct {
    cg_model *model;
    cg_tensor *x;
} model_and_input;

static cg_tensor *model_output(cg_tensor **parameters, void *userdata) {
    (void)parameters; /* the model reads them itself; gradcheck perturbs them in place */
    const model_and_input *m = userdata;
    return cg_model_forward(m->model, m->x, true);
}

TEST(conv_model_gradients_match_finite_differences_in_float64) {
    /* Smooth activations, so that no finite difference straddles a kink; the max pool's windows
     * hold random values, so their maxima are apart by far more than the step. */
    cg_model *model = cg_model_from_spec("input 2 7 7\n"
                                         "conv2d 3 3 stride=2 padding=same tanh\n"
                                         "batchnorm\n"
                                         "maxpool 2\n"
                                         "conv2d 4 2 sigmoid no_bias\n"
                                         "avgpool 1\n"
                                         "globalavgpool\n"
                                         "dense 2\n");
    CHECK(model);
    CHECK(cg_model_to_dtype(model, CG_FLOAT64) == 0);
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    CHECK(count == 7 && cg_tensor_dtype(parameters[0]) == CG_FLOAT64);
    model_and_input m = {model, cg_randn(CG_SHAPE(3, 2, 7, 7), CG_FLOAT64)};
    const int status =
        cg_gradcheck(model_output, (cg_tensor **)parameters, count, &m, 1e-6, 1e-7, 1e-5);
    cg_release(m.x);
    cg_model_free(model);
    CHECK(status == 0);
}

/* ----- save and load ----- */

TEST(conv_model_saves_and_loads_with_identical_outputs) {
    temp_dir dir;
    if (!temp_dir_create(&dir)) return;
    const char *path = temp_dir_file(&dir, "cnn.safetensors");
    cg_model *model = cg_model_from_spec("input 1 10 10\nconv2d 4 3 padding=same relu\n"
                                         "avgpool 2\nflatten\ndense 3\n");
    cg_model *loaded = model && cg_model_save(model, path) == 0 ? cg_model_load(path) : NULL;
    cg_scope_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(2, 1, 10, 10), CG_FLOAT32);
    const bool same =
        loaded && test_tensor_close(cg_model_forward(loaded, x, false),
                                    cg_model_forward(model, x, false), 0, 0, __FILE__, __LINE__);
    cg_scope_end();
    cg_model_free(loaded);
    cg_model_free(model);
    temp_dir_remove(&dir);
    CHECK(same);
}

/* ----- errors ----- */

/* Building a model of the one layer for input_shape fails with an error containing text. */
#define CHECK_BUILD_ERROR(layer, input_shape, text)                                                \
    do {                                                                                           \
        cg_model *model_ = cg_sequential(layer);                                                   \
        CHECK(model_);                                                                             \
        cg_clear_error();                                                                          \
        const int status_ = cg_model_build(model_, input_shape);                                   \
        const bool matched_ = test_expect_error(status_ != 0, cg_last_error(), text, __FILE__,     \
                                                __LINE__, "cg_model_build");                       \
        cg_model_free(model_);                                                                     \
        if (!matched_) return;                                                                     \
    } while (0)

TEST(conv_and_pooling_layers_reject_samples_that_are_not_images) {
    CHECK_BUILD_ERROR(cg_layer_conv2d(4, 3, NULL), CG_SHAPE(784),
                      "layer 0 (conv2d): expects samples of shape (C, H, W), got 784");
    CHECK_BUILD_ERROR(cg_layer_max_pool2d(2), CG_SHAPE(28, 28),
                      "layer 0 (maxpool): expects samples of shape (C, H, W), got 28x28");
    CHECK_BUILD_ERROR(cg_layer_global_avg_pool2d(), CG_SHAPE(1, 1, 4, 4),
                      "layer 0 (globalavgpool): expects samples of shape (C, H, W)");
}

TEST(conv_and_pooling_layers_reject_windows_larger_than_the_input) {
    CHECK_BUILD_ERROR(cg_layer_conv2d(4, 5, NULL), CG_SHAPE(1, 3, 8),
                      "layer 0 (conv2d): the 5x5 kernel is larger than the 3x8 input");
    CHECK_BUILD_ERROR(cg_layer_avg_pool2d(4), CG_SHAPE(2, 4, 3),
                      "layer 0 (avgpool): the 4x4 window is larger than the 4x3 input");
}

TEST(conv2d_layer_rejects_a_weight_too_large_for_a_tensor) {
    const cg_conv2d_layer_options same = {.padding_same = true};
    CHECK_BUILD_ERROR(cg_layer_conv2d(INT64_MAX / 4, 3, &same), CG_SHAPE(8, 4, 4),
                      "make a weight too large for a tensor");
}

TEST(conv_and_pooling_constructors_reject_bad_arguments) {
    CHECK_ERROR(cg_layer_conv2d(0, 3, NULL), "cg_layer_conv2d: filters and kernel_size must be");
    CHECK_ERROR(cg_layer_conv2d(4, 0, NULL), "got 4, 0 and 0");
    CHECK_ERROR(cg_layer_conv2d(4, 3, &(cg_conv2d_layer_options){.stride = -1}), "got 4, 3 and -1");
    CHECK_ERROR(
        cg_layer_conv2d(4, 3, &(cg_conv2d_layer_options){.activation = CG_ACTIVATION_COUNT}),
        "cg_layer_conv2d: unknown activation");
    CHECK_ERROR(cg_layer_max_pool2d(0), "cg_layer_max_pool2d: size must be positive, got 0");
    CHECK_ERROR(cg_layer_avg_pool2d(-2), "cg_layer_avg_pool2d: size must be positive, got -2");
}

#define CHECK_SPEC_ERROR(text, message) CHECK_ERROR(cg_model_from_spec(text), message)

TEST(conv_spec_errors_name_the_line_and_what_was_expected) {
    CHECK_SPEC_ERROR("input 1 8 8\nconv2d\n",
                     "spec line 2: conv2d expects FILTERS (a positive integer), got nothing");
    CHECK_SPEC_ERROR("conv2d 8\n", "spec line 1: conv2d expects KERNEL (a positive integer)");
    CHECK_SPEC_ERROR("conv2d 8 3 stride=0\n", "conv2d expects stride=S (S a positive integer), "
                                              "got '0'");
    CHECK_SPEC_ERROR("conv2d 8 3 padding=full\n",
                     "conv2d expects padding=same or padding=valid, got 'padding=full'");
    CHECK_SPEC_ERROR("conv2d 8 3 swish\n", "unexpected 'swish'");
    CHECK_SPEC_ERROR("conv2d 8 3 relu tanh\n", "'tanh' repeats an option given before");
    CHECK_SPEC_ERROR("conv2d 8 99999999999 relu\n", "(too large)");
    CHECK_SPEC_ERROR("maxpool\n", "maxpool expects SIZE (a positive integer), got nothing");
    CHECK_SPEC_ERROR("avgpool 2 2\n", "avgpool takes SIZE; unexpected '2'");
    CHECK_SPEC_ERROR("globalavgpool 2\n", "globalavgpool takes no arguments; unexpected '2'");
    CHECK_SPEC_ERROR("input 1 4 4\nmaxpool 5\n", "the 5x5 window is larger than the 4x4 input");
}
