/* The overfitting demonstration, in two parts.
 *
 * 1. Five noisy points of a line, fitted by a 2-parameter model (a line) and a 7-parameter model
 *    (a degree-6 polynomial: six powers of x into one dense unit). The polynomial passes through
 *    the five points (training error near zero) but swings between them, so its error on fresh
 *    points of the same line is far larger than the line's. Both fits and the points are drawn
 *    in overfitting-fits.svg.
 * 2. A network far too large for its small, noisy training set: its validation loss falls, then
 *    turns upward while the training loss keeps falling. Early stopping notices, stops, and
 *    restores the weights of the best epoch; overfitting-curves.svg shows both curves and the
 *    stopping epoch.
 *
 * usage: overfitting [--output-dir DIR] [--seed N] */
#include <cgrad.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOISE 0.5
enum { TRAIN_POINTS = 5, VALIDATION_POINTS = 50, DEGREE = 6, CURVE_POINTS = 200 };

/* y = 2x + 1 plus Gaussian noise of standard deviation NOISE, at x uniform in [-1, 1]. */
static void noisy_line(int64_t count, cg_tensor **x, cg_tensor **y) {
    *x = cg_add_scalar(cg_mul_scalar(cg_rand(CG_SHAPE(count, 1), CG_FLOAT32), 2.0), -1.0);
    *y = cg_add(cg_add_scalar(cg_mul_scalar(*x, 2.0), 1.0),
                cg_mul_scalar(cg_randn(CG_SHAPE(count, 1), CG_FLOAT32), NOISE));
}

/* The columns x, x^2, ..., x^DEGREE of an (N, 1) tensor. */
static cg_tensor *powers(const cg_tensor *x) {
    cg_tensor *columns[DEGREE];
    for (int k = 0; k < DEGREE; k++)
        columns[k] = cg_pow_scalar(x, k + 1);
    return cg_concat(columns, DEGREE, 1);
}

static double mse(cg_model *model, const cg_tensor *x, const cg_tensor *y) {
    cg_evaluation result;
    return cg_evaluate(model, x, y, 0, &result) == 0 ? result.loss : NAN;
}

/* Fits model to (features, y) by full-batch Adam; returns the model, or NULL on failure. */
static cg_model *fit_curve(cg_model *model, const cg_tensor *features, const cg_tensor *y,
                           int epochs, double learning_rate) {
    if (!model || cg_compile(model, cg_adam(learning_rate), CG_LOSS_MSE, 0) != 0) return NULL;
    cg_history *history =
        cg_fit(model, features, y,
               &(cg_fit_options){
                   .epochs = epochs, .batch_size = TRAIN_POINTS, .verbose = CG_VERBOSE_SILENT});
    cg_history_free(history);
    return history ? model : NULL;
}

/* The model's predictions along the grid (of x, or of its powers for the polynomial). */
static int predict_curve(cg_model *model, const cg_tensor *grid, bool polynomial, double *ys) {
    cg_scope_begin();
    cg_tensor *prediction = cg_predict(model, polynomial ? powers(grid) : grid, 0);
    int status =
        cg_copy_to_array(cg_to_dtype(prediction, CG_FLOAT64), ys, sizeof(double) * CURVE_POINTS);
    cg_scope_end();
    return status;
}

static int part_one(const char *output_dir) {
    int status = -1;
    cg_scope_begin();
    cg_tensor *x, *y, *val_x, *val_y;
    noisy_line(TRAIN_POINTS, &x, &y);
    noisy_line(VALIDATION_POINTS, &val_x, &val_y);
    x = cg_reshape(cg_linspace(-1.0, 1.0, TRAIN_POINTS, CG_FLOAT32), CG_SHAPE(TRAIN_POINTS, 1));
    y = cg_add(cg_add_scalar(cg_mul_scalar(x, 2.0), 1.0),
               cg_mul_scalar(cg_randn(CG_SHAPE(TRAIN_POINTS, 1), CG_FLOAT32), NOISE));
    cg_model *line =
        fit_curve(cg_sequential(cg_layer_dense(1, CG_ACTIVATION_NONE)), x, y, 2000, 0.05);
    cg_model *polynomial =
        fit_curve(cg_sequential(cg_layer_dense(1, CG_ACTIVATION_NONE)), powers(x), y, 6000, 0.05);
    if (line && polynomial) {
        printf("line (%lld parameters): train mse %.6f, validation mse %.6f\n",
               (long long)cg_model_parameter_total(line), mse(line, x, y), mse(line, val_x, val_y));
        printf("polynomial (%lld parameters): train mse %.6f, validation mse %.6f\n",
               (long long)cg_model_parameter_total(polynomial), mse(polynomial, powers(x), y),
               mse(polynomial, powers(val_x), val_y));

        double grid_x[CURVE_POINTS], line_y[CURVE_POINTS], poly_y[CURVE_POINTS];
        double points_x[TRAIN_POINTS], points_y[TRAIN_POINTS];
        double fresh_x[VALIDATION_POINTS], fresh_y[VALIDATION_POINTS];
        cg_tensor *grid = cg_linspace(-1.0, 1.0, CURVE_POINTS, CG_FLOAT32);
        cg_tensor *x64 = cg_to_dtype(x, CG_FLOAT64), *y64 = cg_to_dtype(y, CG_FLOAT64);
        cg_tensor *val_x64 = cg_to_dtype(val_x, CG_FLOAT64);
        cg_tensor *val_y64 = cg_to_dtype(val_y, CG_FLOAT64);
        cg_tensor *grid_column = cg_reshape(grid, CG_SHAPE(CURVE_POINTS, 1));
        char path[1024];
        snprintf(path, sizeof path, "%s/overfitting-fits.svg", output_dir);
        cg_plot *plot = cg_plot_new("Five noisy points of y = 2x + 1");
        if (plot && cg_copy_to_array(cg_to_dtype(grid, CG_FLOAT64), grid_x, sizeof grid_x) == 0 &&
            predict_curve(line, grid_column, false, line_y) == 0 &&
            predict_curve(polynomial, grid_column, true, poly_y) == 0 &&
            cg_copy_to_array(x64, points_x, sizeof points_x) == 0 &&
            cg_copy_to_array(y64, points_y, sizeof points_y) == 0 &&
            cg_copy_to_array(val_x64, fresh_x, sizeof fresh_x) == 0 &&
            cg_copy_to_array(val_y64, fresh_y, sizeof fresh_y) == 0 &&
            cg_plot_set_axes(plot, "x", "y") == 0 && cg_plot_set_y_range(plot, -3.0, 5.0) == 0 &&
            cg_plot_add_points(plot, "training points", points_x, points_y, TRAIN_POINTS) == 0 &&
            cg_plot_add_points(plot, "fresh points", fresh_x, fresh_y, VALIDATION_POINTS) == 0 &&
            cg_plot_add_line(plot, "line (2 parameters)", grid_x, line_y, CURVE_POINTS) == 0 &&
            cg_plot_add_line(plot, "degree-6 polynomial (7 parameters)", grid_x, poly_y,
                             CURVE_POINTS) == 0 &&
            cg_plot_write_svg(plot, path) == 0) {
            printf("fitted curves written to %s\n", path);
            status = 0;
        }
        cg_plot_free(plot);
    }
    cg_model_free(line);
    cg_model_free(polynomial);
    cg_scope_end();
    return status;
}

/* Two overlapping Gaussian classes in the plane, and 20% of the labels flipped. */
static void noisy_classes(int64_t count, cg_tensor **x, cg_tensor **labels) {
    cg_tensor *class_of = cg_randint(0, 2, CG_SHAPE(count), CG_INT64);
    cg_tensor *centres = cg_mul_scalar(cg_to_dtype(cg_unsqueeze(class_of, 1), CG_FLOAT32), 1.5);
    *x = cg_add(cg_randn(CG_SHAPE(count, 2), CG_FLOAT32), centres);
    cg_tensor *flip = cg_to_dtype(
        cg_lt(cg_rand(CG_SHAPE(count), CG_FLOAT32), cg_scalar(0.2, CG_FLOAT32)), CG_INT64);
    /* label = class XOR flip */
    *labels = cg_sub(cg_add(class_of, flip),
                     cg_mul(cg_mul(class_of, flip), cg_full(CG_SCALAR_SHAPE, 2, CG_INT64)));
}

static int part_two(const char *output_dir, uint64_t seed) {
    int status = -1;
    cg_scope_begin();
    cg_tensor *x, *y, *val_x, *val_y;
    noisy_classes(40, &x, &y);
    noisy_classes(1000, &val_x, &val_y);
    cg_model *model = cg_sequential(cg_layer_dense(256, CG_ACTIVATION_RELU),
                                    cg_layer_dense(256, CG_ACTIVATION_RELU),
                                    cg_layer_dense(2, CG_ACTIVATION_NONE));
    cg_history *history = NULL;
    if (model &&
        cg_compile(model, cg_adam(0.003), CG_LOSS_CROSS_ENTROPY, CG_METRIC_ACCURACY) == 0) {
        history =
            cg_fit(model, x, y,
                   &(cg_fit_options){
                       .epochs = 500,
                       .batch_size = 8,
                       .seed = seed,
                       .validation_x = val_x,
                       .validation_y = val_y,
                       .verbose = CG_VERBOSE_SILENT,
                       .callbacks = CG_CALLBACKS(cg_early_stopping(&(cg_early_stopping_options){
                           .monitor = "val_loss", .patience = 30, .restore_best_weights = true}))});
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/overfitting-curves.svg", output_dir);
    if (history &&
        cg_history_plot_svg(history, path, "A network too large for 40 noisy samples") == 0) {
        const double *val_loss = cg_history_series(history, "val_loss");
        const double *loss = cg_history_series(history, "loss");
        const int best = cg_history_best_epoch(history), last = cg_history_epochs(history) - 1;
        /* Epochs are counted from 1 here, as on the chart. */
        printf("early stopping: best epoch %d (loss %.4f, val_loss %.4f), stopped at epoch %d "
               "(loss %.4f, val_loss %.4f)\n",
               best + 1, loss[best], val_loss[best], cg_history_stopped_epoch(history) + 1,
               loss[last], val_loss[last]);
        printf("training curves written to %s\n", path);
        status = 0;
    }
    cg_history_free(history);
    cg_model_free(model);
    cg_scope_end();
    return status;
}

int main(int argc, char **argv) {
    const char *output_dir = ".";
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output-dir") == 0 && i + 1 < argc)
            output_dir = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--output-dir DIR] [--seed N]\n", argv[0]);
            return 2;
        }
    }
    cg_manual_seed(seed);
    if (part_one(output_dir) != 0 || part_two(output_dir, seed) != 0) {
        fprintf(stderr, "overfitting: %s\n", cg_last_error());
        return 1;
    }
    return 0;
}
