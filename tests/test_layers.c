/* The built-in layers (dense, activation, dropout, flatten, batch norm), activations and losses:
 * forward values against independent C arithmetic, initialisation statistics, a float64
 * gradient check through a model, batch-norm statistics and the compiled losses. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ----- helpers ----- */

/* The elements of t as doubles in row-major order (malloc'd; the caller frees). */
static double *values_of(const cg_tensor *t) {
    const int64_t n = cg_numel(t);
    double *values = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    cg_scope_begin();
    const int status =
        values ? cg_copy_to_array(cg_to_dtype(t, CG_FLOAT64), values, sizeof(double) * (size_t)n)
               : -1;
    cg_scope_end();
    if (status != 0) {
        free(values);
        return NULL;
    }
    return values;
}

/* A one-layer model built for samples of `features` values. */
static cg_model *built_model(cg_layer *layer, cg_shape input_shape) {
    cg_model *model = cg_sequential(layer);
    if (model && cg_model_build(model, input_shape) != 0) {
        cg_model_free(model);
        return NULL;
    }
    return model;
}

typedef struct {
    double mean, variance; /* biased */
    double max_abs;
} statistics;

static statistics statistics_of(const double *values, int64_t n) {
    statistics s = {0};
    for (int64_t i = 0; i < n; i++) {
        s.mean += values[i];
        if (fabs(values[i]) > s.max_abs) s.max_abs = fabs(values[i]);
    }
    s.mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        s.variance += (values[i] - s.mean) * (values[i] - s.mean);
    s.variance /= (double)n;
    return s;
}

/* ----- dense ----- */

TEST(dense_forward_is_x_times_weight_transposed_plus_bias) {
    enum { BATCH = 3, IN = 4, OUT = 5 };
    cg_model *model = built_model(cg_layer_dense(OUT, CG_ACTIVATION_RELU), CG_SHAPE(IN));
    CHECK(model);
    cg_layer *dense = cg_model_layer(model, 0);
    cg_tensor *weight = cg_layer_tensor(dense, "weight");
    cg_tensor *bias = cg_layer_tensor(dense, "bias");
    CHECK(cg_ndim(weight) == 2 && cg_dim(weight, 0) == OUT && cg_dim(weight, 1) == IN);
    CHECK(cg_ndim(bias) == 1 && cg_dim(bias, 0) == OUT);
    cg_tensor *new_bias = cg_randn(CG_SHAPE(OUT), CG_FLOAT32);
    CHECK(cg_copy_(bias, new_bias) == 0);
    cg_release(new_bias);
    cg_tensor *x = cg_randn(CG_SHAPE(BATCH, IN), CG_FLOAT32);
    cg_tensor *y = cg_model_forward(model, x, false);
    CHECK(y && cg_dim(y, 0) == BATCH && cg_dim(y, 1) == OUT);

    double *xv = values_of(x), *wv = values_of(weight), *bv = values_of(bias), *yv = values_of(y);
    int checked = 0;
    for (int n = 0; xv && wv && bv && yv && n < BATCH; n++) {
        for (int o = 0; o < OUT; o++, checked++) {
            double z = bv[o];
            for (int i = 0; i < IN; i++)
                z += xv[n * IN + i] * wv[o * IN + i];
            if (fabs(yv[n * OUT + o] - (z > 0 ? z : 0)) > 1e-5) break;
        }
    }
    free(xv), free(wv), free(bv), free(yv);
    cg_release(y);
    cg_release(x);
    cg_model_free(model);
    CHECK(checked == BATCH * OUT);
}

TEST(dense_glorot_uniform_initialisation_has_the_right_bound_and_variance) {
    enum { IN = 300, OUT = 200 };
    cg_model *model = built_model(cg_layer_dense(OUT, CG_ACTIVATION_TANH), CG_SHAPE(IN));
    CHECK(model);
    double *w = values_of(cg_layer_tensor(cg_model_layer(model, 0), "weight"));
    const statistics s = statistics_of(w, IN * OUT);
    free(w);
    cg_model_free(model);
    const double bound = sqrt(6.0 / (IN + OUT));
    CHECK(s.max_abs <= bound);
    CHECK(s.max_abs > 0.99 * bound);
    CHECK_NEAR(s.mean, 0.0, 0.01 * bound);
    CHECK_NEAR(s.variance, bound * bound / 3, 0.03 * bound * bound / 3);
}

TEST(dense_he_normal_initialisation_has_the_right_spread) {
    enum { IN = 300, OUT = 200 };
    cg_model *model = built_model(cg_layer_dense(OUT, CG_ACTIVATION_RELU), CG_SHAPE(IN));
    CHECK(model);
    double *w = values_of(cg_layer_tensor(cg_model_layer(model, 0), "weight"));
    const statistics s = statistics_of(w, IN * OUT);
    free(w);
    cg_model_free(model);
    const double std = sqrt(2.0 / IN);
    CHECK_NEAR(s.mean, 0.0, 0.02 * std);
    CHECK_NEAR(sqrt(s.variance), std, 0.02 * std);
    CHECK(s.max_abs > 3 * std); /* a normal, not a bounded uniform */
}

TEST(dense_options_select_initializer_and_bias) {
    cg_dense_options options = {.initializer = CG_INIT_ZEROS, .no_bias = true};
    cg_model *model = built_model(cg_layer_dense_with(3, &options), CG_SHAPE(2));
    CHECK(model);
    cg_layer *dense = cg_model_layer(model, 0);
    CHECK(cg_layer_tensor(dense, "bias") == NULL);
    double *w = values_of(cg_layer_tensor(dense, "weight"));
    const statistics s = statistics_of(w, 6);
    free(w);
    cg_model_free(model);
    CHECK(s.max_abs == 0.0);
}

TEST(dense_rejects_bad_arguments_and_multi_dim_samples) {
    CHECK_ERROR(cg_layer_dense(0, CG_ACTIVATION_NONE), "units must be positive");
    CHECK_ERROR(cg_layer_dense(3, CG_ACTIVATION_COUNT), "unknown activation");
    cg_model *model = cg_sequential(cg_layer_dense(3, CG_ACTIVATION_NONE));
    CHECK(model);
    CHECK_ERROR(cg_model_build(model, CG_SHAPE(2, 5)),
                "layer 0 (dense): expects samples of 1 dim, got 2x5");
    cg_model_free(model);
}

/* ----- gradient check through a model ----- */

typedef struct {
    cg_model *model;
    cg_tensor *x;
} model_and_input;

static cg_tensor *model_output(cg_tensor **parameters, void *userdata) {
    (void)parameters; /* the model reads them itself; gradcheck perturbs them in place */
    const model_and_input *m = userdata;
    return cg_model_forward(m->model, m->x, true);
}

TEST(model_gradients_match_finite_differences_in_float64) {
    cg_model *model = cg_sequential(cg_layer_dense(5, CG_ACTIVATION_TANH), cg_layer_batch_norm(),
                                    cg_layer_dense(3, CG_ACTIVATION_SOFTMAX));
    CHECK(model);
    CHECK(cg_model_build(model, CG_SHAPE(4)) == 0);
    CHECK(cg_model_to_dtype(model, CG_FLOAT64) == 0);
    int count = 0;
    cg_tensor *const *parameters = cg_model_parameters(model, &count);
    CHECK(count == 6 && cg_tensor_dtype(parameters[0]) == CG_FLOAT64);
    /* Non-trivial batch-norm scale and shift, so their gradients are exercised off 1 and 0. */
    CHECK(cg_fill_(parameters[2], 1.5) == 0 && cg_fill_(parameters[3], -0.25) == 0);
    model_and_input m = {model, cg_randn(CG_SHAPE(6, 4), CG_FLOAT64)};
    const int status =
        cg_gradcheck(model_output, (cg_tensor **)parameters, count, &m, 1e-6, 1e-7, 1e-5);
    cg_release(m.x);
    cg_model_free(model);
    CHECK(status == 0);
}

/* ----- activations ----- */

TEST(activations_match_their_formulas) {
    const double input[4] = {-2.0, -0.5, 0.5, 1.0};
    cg_tensor *x = cg_from_array(input, CG_SHAPE(1, 4), CG_FLOAT64);
    double expected[CG_ACTIVATION_COUNT][4];
    double softmax_total = 0;
    for (int i = 0; i < 4; i++)
        softmax_total += exp(input[i]);
    for (int i = 0; i < 4; i++) {
        const double v = input[i];
        expected[CG_ACTIVATION_NONE][i] = v;
        expected[CG_ACTIVATION_RELU][i] = v > 0 ? v : 0;
        expected[CG_ACTIVATION_SIGMOID][i] = 1 / (1 + exp(-v));
        expected[CG_ACTIVATION_TANH][i] = tanh(v);
        expected[CG_ACTIVATION_SOFTMAX][i] = exp(v) / softmax_total;
        expected[CG_ACTIVATION_LEAKY_RELU][i] = v > 0 ? v : 0.01 * v;
        expected[CG_ACTIVATION_GELU][i] = 0.5 * v * (1 + erf(v / sqrt(2.0)));
    }
    for (int a = 0; a < CG_ACTIVATION_COUNT; a++) {
        cg_tensor *want = cg_from_array(expected[a], CG_SHAPE(1, 4), CG_FLOAT64);
        cg_tensor *got = cg_activate(x, (cg_activation)a);
        const bool close = test_tensor_close(got, want, 1e-12, 1e-12, __FILE__, __LINE__);
        cg_release(got);
        cg_release(want);
        if (!close) {
            cg_release(x);
            CHECK(!"activation mismatch");
        }
    }
    cg_release(x);
}

TEST(activation_names_parse_back) {
    for (int a = 0; a < CG_ACTIVATION_COUNT; a++) {
        cg_activation parsed = CG_ACTIVATION_COUNT;
        CHECK(cg_activation_parse(cg_activation_name((cg_activation)a), &parsed) == 0);
        CHECK(parsed == (cg_activation)a);
    }
    CHECK(strcmp(cg_activation_name(CG_ACTIVATION_LEAKY_RELU), "leaky_relu") == 0);
    cg_activation parsed;
    CHECK_ERROR(cg_activation_parse("swish", &parsed), "unknown activation 'swish'");
}

TEST(activation_layer_applies_its_activation) {
    const double input[3] = {-1.0, 0.0, 2.0}, expected[3] = {0.0, 0.0, 2.0};
    cg_model *model = built_model(cg_layer_activation(CG_ACTIVATION_RELU), CG_SHAPE(3));
    CHECK(model && cg_model_to_dtype(model, CG_FLOAT64) == 0);
    cg_tensor *x = cg_from_array(input, CG_SHAPE(1, 3), CG_FLOAT64);
    cg_tensor *want = cg_from_array(expected, CG_SHAPE(1, 3), CG_FLOAT64);
    cg_tensor *y = cg_model_forward(model, x, true);
    const bool close = test_tensor_close(y, want, 0, 0, __FILE__, __LINE__);
    cg_release(y), cg_release(want), cg_release(x);
    cg_model_free(model);
    CHECK(close);
    CHECK_ERROR(cg_layer_activation(CG_ACTIVATION_COUNT), "unknown activation");
}

/* ----- dropout and flatten ----- */

TEST(dropout_layer_drops_in_training_only) {
    enum { N = 4000 };
    cg_model *model = built_model(cg_layer_dropout(0.25), CG_SHAPE(N));
    CHECK(model);
    cg_tensor *x = cg_full(CG_SHAPE(1, N), 3.0, CG_FLOAT32);
    cg_tensor *evaluated = cg_model_forward(model, x, false);
    cg_tensor *trained = cg_model_forward(model, x, true);
    double *ev = values_of(evaluated), *tv = values_of(trained);
    int identical = 0, zeros = 0, scaled = 0;
    for (int i = 0; ev && tv && i < N; i++) {
        identical += ev[i] == 3.0;
        zeros += tv[i] == 0.0;
        scaled += fabs(tv[i] - 3.0 / 0.75) < 1e-5;
    }
    free(ev), free(tv);
    cg_release(trained), cg_release(evaluated), cg_release(x);
    cg_model_free(model);
    CHECK(identical == N);
    CHECK(zeros + scaled == N);
    CHECK_NEAR((double)zeros / N, 0.25, 0.03);
}

TEST(dropout_rate_is_validated) {
    CHECK_ERROR(cg_layer_dropout(1.0), "rate must be in [0, 1)");
    CHECK_ERROR(cg_layer_dropout(-0.1), "rate must be in [0, 1)");
    CHECK_ERROR(cg_layer_dropout(NAN), "rate must be in [0, 1)");
}

TEST(flatten_keeps_the_batch_and_row_major_order) {
    cg_model *model = built_model(cg_layer_flatten(), CG_SHAPE(2, 3, 4));
    CHECK(model);
    const cg_shape out = cg_model_output_shape(model);
    CHECK(out.ndim == 1 && out.dims[0] == 24);
    cg_tensor *x = cg_arange(0, 48, 1, CG_FLOAT32);
    cg_tensor *images = cg_reshape(x, CG_SHAPE(2, 2, 3, 4));
    cg_tensor *y = cg_model_forward(model, images, false);
    CHECK(y && cg_ndim(y) == 2 && cg_dim(y, 0) == 2 && cg_dim(y, 1) == 24);
    const int64_t index[2] = {1, 5};
    CHECK_NEAR(cg_get(y, index), 24 + 5, 0);
    cg_release(y), cg_release(images), cg_release(x);
    cg_model_free(model);
}

/* ----- batch norm ----- */

/* Features with different offsets and scales, so normalisation has work to do. */
static cg_tensor *shifted_features(int64_t batch, int64_t features) {
    cg_scope_begin();
    cg_tensor *scale = cg_arange(1, (double)features + 1, 1, CG_FLOAT32);
    cg_tensor *x = cg_add_scalar(cg_mul(cg_randn(CG_SHAPE(batch, features), CG_FLOAT32), scale), 5);
    cg_tensor *kept = cg_keep(x);
    cg_scope_end();
    return kept;
}

TEST(batch_norm_training_normalises_each_feature) {
    enum { N = 64, F = 3 };
    cg_model *model = built_model(cg_layer_batch_norm(), CG_SHAPE(F));
    CHECK(model);
    cg_tensor *x = shifted_features(N, F);
    cg_tensor *y = cg_model_forward(model, x, true);
    double *yv = values_of(y);
    cg_release(y), cg_release(x);
    cg_model_free(model);
    CHECK(yv);
    for (int f = 0; f < F; f++) {
        double column[N];
        for (int n = 0; n < N; n++)
            column[n] = yv[n * F + f];
        const statistics s = statistics_of(column, N);
        if (fabs(s.mean) > 1e-5 || fabs(s.variance - 1) > 1e-3) {
            free(yv);
            CHECK_NEAR(s.mean, 0, 1e-5);
            CHECK_NEAR(s.variance, 1, 1e-3);
        }
    }
    free(yv);
}

TEST(batch_norm_running_statistics_follow_pytorch_and_serve_evaluation) {
    enum { N = 8, F = 2 };
    const double momentum = 0.1, epsilon = 1e-5;
    cg_model *model = built_model(cg_layer_batch_norm(), CG_SHAPE(F));
    CHECK(model);
    cg_layer *bn = cg_model_layer(model, 0);
    const double gamma[F] = {2.0, 0.5}, beta[F] = {-1.0, 3.0};
    cg_tensor *g = cg_from_array(gamma, CG_SHAPE(F), CG_FLOAT64);
    cg_tensor *b = cg_from_array(beta, CG_SHAPE(F), CG_FLOAT64);
    CHECK(cg_copy_(cg_layer_tensor(bn, "weight"), g) == 0);
    CHECK(cg_copy_(cg_layer_tensor(bn, "bias"), b) == 0);
    cg_release(g), cg_release(b);

    cg_tensor *x = shifted_features(N, F);
    cg_tensor *trained = cg_model_forward(model, x, true);
    cg_release(trained);
    double *xv = values_of(x);
    double *running_mean = values_of(cg_layer_tensor(bn, "running_mean"));
    double *running_var = values_of(cg_layer_tensor(bn, "running_var"));
    cg_tensor *evaluated = cg_model_forward(model, x, false);
    double *ev = values_of(evaluated);
    cg_release(evaluated), cg_release(x);
    cg_model_free(model);
    CHECK(xv && running_mean && running_var && ev);

    int matched = 0;
    for (int f = 0; f < F; f++) {
        double mean = 0, var = 0;
        for (int n = 0; n < N; n++)
            mean += xv[n * F + f] / N;
        for (int n = 0; n < N; n++)
            var += pow(xv[n * F + f] - mean, 2) / (N - 1);
        const double expected_mean = (1 - momentum) * 0.0 + momentum * mean;
        const double expected_var = (1 - momentum) * 1.0 + momentum * var;
        matched += fabs(running_mean[f] - expected_mean) < 1e-5 * (1 + fabs(expected_mean));
        matched += fabs(running_var[f] - expected_var) < 1e-5 * (1 + expected_var);
        for (int n = 0; n < N; n++) {
            const double want =
                (xv[n * F + f] - expected_mean) / sqrt(expected_var + epsilon) * gamma[f] + beta[f];
            matched += fabs(ev[n * F + f] - want) < 1e-4 * (1 + fabs(want));
        }
    }
    free(xv), free(running_mean), free(running_var), free(ev);
    CHECK(matched == F * (2 + N));
}

TEST(batch_norm_normalises_images_per_channel) {
    enum { N = 4, C = 2, H = 3, W = 3 };
    cg_model *model = built_model(cg_layer_batch_norm(), CG_SHAPE(C, H, W));
    CHECK(model);
    cg_scope_begin();
    cg_tensor *channel_offset = cg_reshape(cg_arange(0, 10 * C, 10, CG_FLOAT32), CG_SHAPE(C, 1, 1));
    cg_tensor *x = cg_keep(cg_add(cg_randn(CG_SHAPE(N, C, H, W), CG_FLOAT32), channel_offset));
    cg_scope_end();
    cg_tensor *y = cg_model_forward(model, x, true);
    double *xv = values_of(x), *yv = values_of(y);
    double *running_mean = values_of(cg_layer_tensor(cg_model_layer(model, 0), "running_mean"));
    cg_release(y), cg_release(x);
    cg_model_free(model);
    CHECK(xv && yv && running_mean);
    int matched = 0;
    for (int c = 0; c < C; c++) {
        double xs[N * H * W], ys[N * H * W];
        int k = 0;
        for (int n = 0; n < N; n++)
            for (int p = 0; p < H * W; p++, k++) {
                xs[k] = xv[(n * C + c) * H * W + p];
                ys[k] = yv[(n * C + c) * H * W + p];
            }
        const statistics sx = statistics_of(xs, N * H * W), sy = statistics_of(ys, N * H * W);
        matched += fabs(sy.mean) < 1e-5 && fabs(sy.variance - 1) < 1e-3;
        matched += fabs(running_mean[c] - 0.1 * sx.mean) < 1e-5;
    }
    free(xv), free(yv), free(running_mean);
    CHECK(matched == 2 * C);
}

TEST(batch_norm_rejects_bad_shapes_and_single_value_batches) {
    cg_model *model = cg_sequential(cg_layer_batch_norm());
    CHECK(model);
    CHECK_ERROR(cg_model_build(model, CG_SHAPE(3, 4)),
                "layer 0 (batchnorm): expects samples of shape (F) or (C, H, W), got 3x4");
    cg_model_free(model);
    model = built_model(cg_layer_batch_norm(), CG_SHAPE(3));
    CHECK(model);
    cg_tensor *x = cg_ones(CG_SHAPE(1, 3), CG_FLOAT32);
    CHECK_ERROR(cg_model_forward(model, x, true), "more than one value per channel");
    cg_tensor *y = cg_model_forward(model, x, false);
    CHECK(y != NULL);
    cg_release(y), cg_release(x);
    cg_model_free(model);
}

/* ----- losses ----- */

static double loss_value(cg_loss loss, const cg_tensor *output, const cg_tensor *target) {
    cg_scope_begin();
    const double value = cg_item(cg_loss_compute(loss, output, target));
    cg_scope_end();
    return value;
}

TEST(cross_entropy_loss_matches_hand_computation) {
    const double logits[2][3] = {{1, 2, 3}, {1, 0, -1}};
    const int64_t labels[2] = {2, 0};
    const int32_t labels32[2] = {2, 0};
    double expected = 0;
    for (int n = 0; n < 2; n++) {
        const double total = exp(logits[n][0]) + exp(logits[n][1]) + exp(logits[n][2]);
        expected += -log(exp(logits[n][labels[n]]) / total) / 2;
    }
    cg_tensor *out = cg_from_array(logits, CG_SHAPE(2, 3), CG_FLOAT64);
    cg_tensor *y64 = cg_from_array(labels, CG_SHAPE(2), CG_INT64);
    cg_tensor *y32 = cg_from_array(labels32, CG_SHAPE(2), CG_INT32);
    cg_tensor *wrong = cg_from_array(labels, CG_SHAPE(1, 2), CG_INT64);
    cg_tensor *floats = cg_zeros(CG_SHAPE(2), CG_FLOAT64);
    const double v64 = loss_value(CG_LOSS_CROSS_ENTROPY, out, y64);
    const double v32 = loss_value(CG_LOSS_CROSS_ENTROPY, out, y32);
    CHECK_NEAR(v64, expected, 1e-12);
    CHECK_NEAR(v32, expected, 1e-12);
    CHECK_ERROR(cg_loss_compute(CG_LOSS_CROSS_ENTROPY, out, wrong), "class labels (N)");
    CHECK_ERROR(cg_loss_compute(CG_LOSS_CROSS_ENTROPY, out, floats), "float64 labels [2]");
    cg_release(out), cg_release(y64), cg_release(y32), cg_release(wrong), cg_release(floats);
}

TEST(regression_and_binary_losses_match_hand_computation) {
    const double outputs[3] = {0.5, -1.0, 2.0}, targets[3] = {1.0, 0.0, 1.0};
    double mse = 0, mae = 0, bce = 0;
    for (int i = 0; i < 3; i++) {
        const double d = outputs[i] - targets[i];
        mse += d * d / 3;
        mae += fabs(d) / 3;
        const double p = 1 / (1 + exp(-outputs[i]));
        bce += -(targets[i] * log(p) + (1 - targets[i]) * log(1 - p)) / 3;
    }
    cg_tensor *out = cg_from_array(outputs, CG_SHAPE(3, 1), CG_FLOAT64);
    cg_tensor *column = cg_from_array(targets, CG_SHAPE(3, 1), CG_FLOAT64);
    const float targets32[3] = {1.0f, 0.0f, 1.0f};
    cg_tensor *flat = cg_from_array(targets32, CG_SHAPE(3), CG_FLOAT32);
    cg_tensor *too_long = cg_zeros(CG_SHAPE(4), CG_FLOAT64);
    const double v_mse = loss_value(CG_LOSS_MSE, out, column);
    const double v_mae = loss_value(CG_LOSS_MAE, out, column);
    const double v_bce = loss_value(CG_LOSS_BINARY_CROSS_ENTROPY, out, column);
    /* Targets (N) against outputs (N, 1) pair up instead of broadcasting to (N, N). */
    const double v_flat = loss_value(CG_LOSS_MSE, out, flat);
    CHECK_NEAR(v_mse, mse, 1e-12);
    CHECK_NEAR(v_mae, mae, 1e-12);
    CHECK_NEAR(v_bce, bce, 1e-12);
    CHECK_NEAR(v_flat, mse, 1e-7);
    CHECK_ERROR(cg_loss_compute(CG_LOSS_MSE, out, too_long),
                "mse expects targets of the outputs' shape [3x1], got [4]");
    CHECK_ERROR(cg_loss_compute(CG_LOSS_COUNT, out, column), "unknown loss");
    cg_release(out), cg_release(column), cg_release(flat), cg_release(too_long);
}

TEST(loss_names_parse_back) {
    const char *names[CG_LOSS_COUNT] = {"cross_entropy", "binary_cross_entropy", "mse", "mae"};
    for (int i = 0; i < CG_LOSS_COUNT; i++) {
        cg_loss parsed = CG_LOSS_COUNT;
        CHECK(strcmp(cg_loss_name((cg_loss)i), names[i]) == 0);
        CHECK(cg_loss_parse(names[i], &parsed) == 0 && parsed == (cg_loss)i);
    }
    cg_loss parsed;
    CHECK_ERROR(cg_loss_parse("hinge", &parsed), "unknown loss 'hinge'");
}

/* The element count of a sample must not overflow int64 when flattened. */
TEST(flatten_rejects_samples_too_large_to_count) {
    cg_model *model = cg_sequential(cg_layer_flatten(), cg_layer_dense(2, CG_ACTIVATION_NONE));
    CHECK(model);
    CHECK_ERROR(cg_model_build(model, CG_SHAPE(INT64_MAX, 2)), "too many elements");
    cg_model_free(model);
}
