/* Charts: 1-2-5 axis ticks, SVG plots of lines and points, and training-history charts. */
#include <stdlib.h>
#include <string.h>

#include "io/axis_ticks.h"
#include "nn/history.h"
#include "temp_dir.h"
#include "test.h"

/* ----- helpers ----- */

/* The file as a NUL-terminated string (malloc'd), or NULL. */
static char *file_string(const char *path) {
    size_t size = 0;
    unsigned char *bytes = read_file(path, &size);
    char *text = bytes ? realloc(bytes, size + 1) : NULL;
    if (!text) {
        free(bytes);
        return NULL;
    }
    text[size] = '\0';
    return text;
}

static int count_of(const char *text, const char *wanted) {
    int count = 0;
    for (const char *at = strstr(text, wanted); at; at = strstr(at + 1, wanted))
        count++;
    return count;
}

static bool is_entity(const char *at) {
    static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (strncmp(at, entities[i], strlen(entities[i])) == 0) return true;
    return false;
}

/* Whether every element is closed in order, with no stray '<' or '&' in text: enough of XML's
 * well-formedness to catch a broken writer. */
static bool xml_is_balanced(const char *text) {
    enum { MAX_DEPTH = 32, MAX_NAME = 32 };
    char open[MAX_DEPTH][MAX_NAME];
    int depth = 0;
    for (const char *at = text; *at; at++) {
        if (*at == '&' && !is_entity(at)) return false;
        if (*at != '<') continue;
        const char *end = strchr(at, '>');
        if (!end) return false;
        if (at[1] == '?' || at[1] == '!') {
            at = end;
            continue;
        }
        const bool closing = at[1] == '/';
        const char *name = at + 1 + closing;
        const size_t length = strcspn(name, " />");
        if (length == 0 || length >= MAX_NAME) return false;
        if (closing) {
            if (depth == 0 || strlen(open[depth - 1]) != length ||
                strncmp(open[depth - 1], name, length) != 0)
                return false;
            depth--;
        } else if (end[-1] != '/') {
            if (depth == MAX_DEPTH) return false;
            memcpy(open[depth], name, length);
            open[depth++][length] = '\0';
        }
        at = end;
    }
    return depth == 0;
}

/* ----- axis ticks ----- */

TEST(axis_ticks_use_1_2_5_steps_enclosing_the_range) {
    cg_axis_ticks ticks = cg_axis_ticks_for(0.03, 0.87, 5);
    CHECK_NEAR(ticks.step, 0.2, 1e-15);
    CHECK(ticks.count == 6 && ticks.decimals == 1);
    CHECK_NEAR(cg_axis_tick_value(&ticks, 0), 0.0, 0);
    CHECK_NEAR(cg_axis_tick_value(&ticks, 5), 1.0, 1e-15);
    ticks = cg_axis_ticks_for(-3.2, 7.9, 5); /* 2.22 a step rounds up to 5 */
    CHECK_NEAR(ticks.step, 5, 0);
    CHECK(ticks.count == 4 && ticks.decimals == 0);
    CHECK_NEAR(cg_axis_tick_value(&ticks, 0), -5, 0);
    ticks = cg_axis_ticks_for(1, 20, 6); /* 3.17 a step rounds up to 5 */
    CHECK_NEAR(ticks.step, 5, 0);
    CHECK_NEAR(cg_axis_tick_value(&ticks, 0), 0, 0);
    CHECK(ticks.count == 5);
    ticks = cg_axis_ticks_for(0.6, 1.4, 4); /* ends exactly on ticks despite rounding */
    CHECK_NEAR(ticks.step, 0.2, 1e-15);
    CHECK(ticks.count == 5);
    CHECK_NEAR(cg_axis_tick_value(&ticks, 0), 0.6, 1e-15);
    ticks = cg_axis_ticks_for(120, 1130, 5);
    CHECK_NEAR(ticks.step, 500, 0); /* 202 a step: 500 */
    ticks = cg_axis_ticks_for(-0.5, 0.5, 2);
    CHECK(!signbit(cg_axis_tick_value(&ticks, 1))); /* 0, not -0 */
    ticks = cg_axis_ticks_for(3, 3, 5);             /* a single value gets a range around it */
    CHECK(cg_axis_tick_value(&ticks, 0) < 3 && cg_axis_tick_value(&ticks, ticks.count - 1) > 3);
}

/* ----- plots ----- */

TEST(plot_svg_has_lines_points_legend_axes_and_markers) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "fit.svg");
    const double xs[5] = {0, 1, 2, 3, 4}, ys[5] = {1.0, 0.6, 0.5, 0.9, 1.7};
    const double line_y[5] = {1.1, 0.5, NAN, 1.0, 1.6}; /* broken at the NaN */
    cg_plot *plot = cg_plot_new("Fit <degree 2> & noise");
    CHECK(plot);
    CHECK(cg_plot_set_axes(plot, "x value", "y value") == 0);
    CHECK(cg_plot_add_points(plot, "samples", xs, ys, 5) == 0);
    CHECK(cg_plot_add_line(plot, "model", xs, line_y, 5) == 0);
    CHECK(cg_plot_add_vertical_marker(plot, 2.5, "split here") == 0);
    CHECK(cg_plot_write_svg(plot, path) == 0);
    cg_plot_free(plot);
    char *svg = file_string(path);
    CHECK(svg);
    const bool ok = xml_is_balanced(svg) &&
                    strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"") &&
                    count_of(svg, "<polyline") == 2 && count_of(svg, "<circle") >= 5 &&
                    strstr(svg, ">samples</text>") && strstr(svg, ">model</text>") &&
                    strstr(svg, ">x value</text>") && strstr(svg, ">y value</text>") &&
                    strstr(svg, ">split here</text>") && strstr(svg, "stroke-dasharray") &&
                    strstr(svg, "Fit &lt;degree 2&gt; &amp; noise") && !strstr(svg, "<degree") &&
                    !strstr(svg, "<script");
    free(svg);
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(plot_y_range_fixes_the_axis_and_clips_what_leaves_it) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "wild.svg");
    const double xs[3] = {0, 5, 10}, ys[3] = {0, 1, 100}; /* x ticks 0, 2, ..., 10 */
    cg_plot *plot = cg_plot_new("wild curve");
    CHECK(plot);
    CHECK(cg_plot_add_line(plot, "curve", xs, ys, 3) == 0);
    CHECK(cg_plot_set_y_range(plot, 0, 2) == 0);
    CHECK(cg_plot_write_svg(plot, path) == 0);
    char *fixed = file_string(path);
    CHECK(cg_plot_set_y_range(plot, 0, 200) == 0);
    CHECK(cg_plot_write_svg(plot, path) == 0);
    char *wide = file_string(path);
    cg_plot_free(plot);
    CHECK(fixed && wide);
    /* 0 to 2 in steps of 0.5, the line clipped to the plot area; 0 to 200 in steps of 50. */
    const bool ok = xml_is_balanced(fixed) && strstr(fixed, ">2.0</text>") &&
                    !strstr(fixed, ">100</text>") &&
                    strstr(fixed, "clip-path=\"url(#plot-area-0)\"") &&
                    strstr(wide, ">200</text>") && !strstr(wide, ">2.0</text>");
    free(fixed);
    free(wide);
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(plot_rejects_bad_arguments) {
    cg_plot *plot = cg_plot_new(NULL);
    CHECK(plot);
    const double xs[1] = {0};
    CHECK_ERROR(cg_plot_add_line(plot, "a", NULL, xs, 1), "x and y values");
    CHECK_ERROR(cg_plot_add_vertical_marker(plot, NAN, "m"), "finite");
    CHECK_ERROR(cg_plot_set_y_range(plot, 1, 1), "low < high");
    CHECK_ERROR(cg_plot_write_svg(plot, "no-such-directory/chart.svg"), "cannot open");
    CHECK_ERROR(cg_plot_write_svg_stack(NULL, 1, NULL, "chart.svg"), "at least one plot");
    cg_plot_free(plot);
}

/* ----- history charts ----- */

static cg_history *sample_history(bool with_accuracy) {
    cg_history *history = cg_history_new();
    for (int epoch = 0; history && epoch < 6; epoch++) {
        cg_history_record(history, "loss", epoch, 1.0 / (epoch + 1));
        if (with_accuracy) cg_history_record(history, "accuracy", epoch, 0.5 + 0.08 * epoch);
        cg_history_record(history, "val_loss", epoch, 0.8 + 0.05 * (epoch - 2) * (epoch - 2));
        if (with_accuracy) cg_history_record(history, "val_accuracy", epoch, 0.6 + 0.02 * epoch);
        cg_history_record(history, "lr", epoch, 0.01);
    }
    return history;
}

TEST(history_chart_has_loss_and_accuracy_panels_and_the_early_stop) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "curves.svg");
    cg_history *history = sample_history(true);
    CHECK(history);
    cg_history_set_stopped(history, 5, "patience");
    cg_history_set_best_epoch(history, 2);
    CHECK(cg_history_plot_svg(history, path, "Iris & friends") == 0);
    cg_history_free(history);
    char *svg = file_string(path);
    CHECK(svg);
    /* Two panels, each with a training and a validation curve and both markers. */
    const bool ok =
        xml_is_balanced(svg) && count_of(svg, "<polyline") == 4 &&
        count_of(svg, ">training</text>") == 2 && count_of(svg, ">validation</text>") == 2 &&
        count_of(svg, ">epoch</text>") == 2 && count_of(svg, ">loss</text>") >= 2 &&
        count_of(svg, ">accuracy</text>") >= 2 && count_of(svg, ">early stop</text>") == 2 &&
        count_of(svg, ">best epoch</text>") == 2 && strstr(svg, ">Iris &amp; friends<");
    free(svg);
    temp_dir_remove(&dir);
    CHECK(ok);
}

TEST(history_chart_without_accuracy_has_one_panel) {
    temp_dir dir;
    CHECK(temp_dir_create(&dir));
    const char *path = temp_dir_file(&dir, "loss.svg");
    cg_history *history = sample_history(false);
    CHECK(history);
    CHECK(cg_history_plot_svg(history, path, NULL) == 0);
    char *svg = file_string(path);
    CHECK(svg);
    const bool ok = xml_is_balanced(svg) && count_of(svg, "<polyline") == 2 &&
                    !strstr(svg, "accuracy") && !strstr(svg, "early stop");
    free(svg);
    cg_history *empty = cg_history_new();
    CHECK_ERROR(cg_history_plot_svg(empty, path, NULL), "no loss");
    cg_history_free(empty);
    cg_history_free(history);
    temp_dir_remove(&dir);
    CHECK(ok);
}
