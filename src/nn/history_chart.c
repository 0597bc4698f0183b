/* Training curves of a history as an SVG chart: a loss panel and, when accuracy was recorded, an
 * accuracy panel, each with the training and the validation series, so overfitting shows as the
 * two curves parting. Drawn with the plots of cgrad/plot.h. */
#include <stdio.h>
#include <stdlib.h>

#include "cgrad.h"
#include "core/error.h"

/* A panel of series name and "val_<name>" against xs, with the epochs where training stopped and
 * where the restored weights came from; NULL with an error. */
static cg_plot *history_panel(const cg_history *history, const double *xs, const char *name,
                              const char *axis_title) {
    char validation_name[80];
    snprintf(validation_name, sizeof validation_name, "val_%s", name);
    const double *validation = cg_history_series(history, validation_name);
    const int epochs = cg_history_epochs(history);
    const int stopped = cg_history_stopped_epoch(history), best = cg_history_best_epoch(history);
    cg_plot *plot = cg_plot_new(axis_title);
    int status = plot ? cg_plot_set_axes(plot, "epoch", axis_title) : -1;
    if (status == 0)
        status = cg_plot_add_line(plot, "training", xs, cg_history_series(history, name), epochs);
    if (status == 0 && validation)
        status = cg_plot_add_line(plot, "validation", xs, validation, epochs);
    if (status == 0 && stopped >= 0)
        status = cg_plot_add_vertical_marker(plot, stopped + 1, "early stop");
    if (status == 0 && best >= 0)
        status = cg_plot_add_vertical_marker(plot, best + 1, "best epoch");
    if (status != 0) {
        cg_plot_free(plot);
        return NULL;
    }
    return plot;
}

static const char *accuracy_series_name(const cg_history *history) {
    if (cg_history_series(history, "accuracy")) return "accuracy";
    if (cg_history_series(history, "binary_accuracy")) return "binary_accuracy";
    return NULL;
}

int cg_history_plot_svg(const cg_history *history, const char *path, const char *title) {
    if (!history || !path) {
        cg_error_set("cg_history_plot_svg: needs a history and a path");
        return -1;
    }
    const int epochs = cg_history_epochs(history);
    if (epochs == 0 || !cg_history_series(history, "loss")) {
        cg_error_set("cg_history_plot_svg: the history has no loss recorded");
        return -1;
    }
    /* Epochs are shown counted from 1, as the progress display counts them. */
    double *xs = malloc(sizeof(double) * (size_t)epochs);
    if (!xs) {
        cg_error_set("cg_history_plot_svg: out of memory");
        return -1;
    }
    for (int row = 0; row < epochs; row++)
        xs[row] = cg_history_epoch_index(history, row) + 1;
    const char *accuracy = accuracy_series_name(history);
    cg_plot *panels[2] = {history_panel(history, xs, "loss", "loss"),
                          accuracy ? history_panel(history, xs, accuracy, "accuracy") : NULL};
    const int panel_count = accuracy ? 2 : 1;
    int status = -1;
    if (panels[0] && (!accuracy || panels[1]))
        status = cg_plot_write_svg_stack((const cg_plot *const *)panels, panel_count,
                                         title ? title : "training history", path);
    cg_plot_free(panels[0]);
    cg_plot_free(panels[1]);
    free(xs);
    return status;
}
