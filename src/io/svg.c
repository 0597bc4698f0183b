/* Line and point charts as SVG: each plot is a panel with axes, ticks, a legend and markers; a
 * file holds one panel or several stacked under a common title. The output is plain SVG 1.1
 * (no scripts, no external resources) so any browser or editor shows it. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/plot.h"
#include "core/error.h"
#include "io/axis_ticks.h"

typedef enum { SERIES_LINE, SERIES_POINTS } series_style;

typedef struct {
    char *label;
    double *xs, *ys;
    int count;
    series_style style;
} plot_series;

typedef struct {
    double x;
    char *label;
} plot_marker;

struct cg_plot {
    char *title, *x_label, *y_label;
    bool fixed_y_range;
    double y_low, y_high;
    plot_series *series;
    int series_count, series_capacity;
    plot_marker *markers;
    int marker_count, marker_capacity;
};

/* Geometry of the image, in SVG user units (pixels). */
enum {
    IMAGE_WIDTH = 720,
    PANEL_HEIGHT = 400,
    STACK_TITLE_HEIGHT = 40,
    PLOT_LEFT = 80,
    PLOT_RIGHT = IMAGE_WIDTH - 30,
    PLOT_TOP = 44,
    PLOT_BOTTOM = PANEL_HEIGHT - 56,
    LEGEND_ROW_HEIGHT = 18,
    X_TICK_TARGET = 6,
    Y_TICK_TARGET = 5,
};

static const char *const PALETTE[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
enum { PALETTE_SIZE = sizeof PALETTE / sizeof PALETTE[0] };

/* A malloc'd copy of text ("" for NULL); NULL only when out of memory. */
static char *copy_text(const char *text) {
    if (!text) text = "";
    char *copy = malloc(strlen(text) + 1);
    if (copy) strcpy(copy, text);
    return copy;
}

cg_plot *cg_plot_new(const char *title) {
    cg_plot *plot = calloc(1, sizeof *plot);
    if (plot) plot->title = copy_text(title);
    if (plot) plot->x_label = copy_text(NULL);
    if (plot) plot->y_label = copy_text(NULL);
    if (!plot || !plot->title || !plot->x_label || !plot->y_label) {
        cg_plot_free(plot);
        cg_error_set("cg_plot_new: out of memory");
        return NULL;
    }
    return plot;
}

void cg_plot_free(cg_plot *plot) {
    if (!plot) return;
    for (int i = 0; i < plot->series_count; i++) {
        free(plot->series[i].label);
        free(plot->series[i].xs);
        free(plot->series[i].ys);
    }
    for (int i = 0; i < plot->marker_count; i++)
        free(plot->markers[i].label);
    free(plot->series);
    free(plot->markers);
    free(plot->title);
    free(plot->x_label);
    free(plot->y_label);
    free(plot);
}

static int replace_text(char **field, const char *text) {
    char *copy = copy_text(text);
    if (!copy) return -1;
    free(*field);
    *field = copy;
    return 0;
}

int cg_plot_set_axes(cg_plot *plot, const char *x_label, const char *y_label) {
    if (!plot) {
        cg_error_set("cg_plot_set_axes: plot is NULL");
        return -1;
    }
    if ((x_label && replace_text(&plot->x_label, x_label) != 0) ||
        (y_label && replace_text(&plot->y_label, y_label) != 0)) {
        cg_error_set("cg_plot_set_axes: out of memory");
        return -1;
    }
    return 0;
}

int cg_plot_set_y_range(cg_plot *plot, double low, double high) {
    if (!plot || !isfinite(low) || !isfinite(high) || !(low < high)) {
        cg_error_set("cg_plot_set_y_range: needs a plot and finite low < high, got %g and %g", low,
                     high);
        return -1;
    }
    plot->fixed_y_range = true;
    plot->y_low = low;
    plot->y_high = high;
    return 0;
}

/* Makes room for one more element in a growing array of element_size bytes. */
static int reserve_one(void **items, int count, int *capacity, size_t element_size) {
    if (count < *capacity) return 0;
    const int grown = *capacity ? *capacity * 2 : 4;
    void *resized = realloc(*items, element_size * (size_t)grown);
    if (!resized) return -1;
    *items = resized;
    *capacity = grown;
    return 0;
}

static double *copy_values(const double *values, int count) {
    double *copy = malloc(sizeof(double) * (size_t)(count > 0 ? count : 1));
    if (copy && count > 0) memcpy(copy, values, sizeof(double) * (size_t)count);
    return copy;
}

static int add_series(cg_plot *plot, const char *op, const char *label, const double *xs,
                      const double *ys, int count, series_style style) {
    if (!plot || count < 0 || (count > 0 && (!xs || !ys))) {
        cg_error_set("%s: needs a plot and %d x and y values", op, count);
        return -1;
    }
    void *items = plot->series;
    const int reserved =
        reserve_one(&items, plot->series_count, &plot->series_capacity, sizeof(plot_series));
    plot->series = items;
    plot_series series = {copy_text(label), copy_values(xs, count), copy_values(ys, count), count,
                          style};
    if (reserved != 0 || !series.label || !series.xs || !series.ys) {
        free(series.label);
        free(series.xs);
        free(series.ys);
        cg_error_set("%s: out of memory", op);
        return -1;
    }
    plot->series[plot->series_count++] = series;
    return 0;
}

int cg_plot_add_line(cg_plot *plot, const char *label, const double *xs, const double *ys, int n) {
    return add_series(plot, "cg_plot_add_line", label, xs, ys, n, SERIES_LINE);
}

int cg_plot_add_points(cg_plot *plot, const char *label, const double *xs, const double *ys,
                       int n) {
    return add_series(plot, "cg_plot_add_points", label, xs, ys, n, SERIES_POINTS);
}

int cg_plot_add_vertical_marker(cg_plot *plot, double x, const char *label) {
    if (!plot || !isfinite(x)) {
        cg_error_set("cg_plot_add_vertical_marker: needs a plot and a finite x");
        return -1;
    }
    void *items = plot->markers;
    const int reserved =
        reserve_one(&items, plot->marker_count, &plot->marker_capacity, sizeof(plot_marker));
    plot->markers = items;
    char *copy = copy_text(label);
    if (reserved != 0 || !copy) {
        free(copy);
        cg_error_set("cg_plot_add_vertical_marker: out of memory");
        return -1;
    }
    plot->markers[plot->marker_count++] = (plot_marker){x, copy};
    return 0;
}

/* ----- writing ----- */

static void write_escaped(FILE *out, const char *text) {
    for (; *text; text++) {
        switch (*text) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default: fputc(*text, out);
        }
    }
}

/* <text ATTRIBUTES>escaped text</text> */
static void write_text(FILE *out, const char *attributes, const char *text) {
    fprintf(out, "<text %s>", attributes);
    write_escaped(out, text);
    fputs("</text>\n", out);
}

typedef struct {
    double low, high;
} value_range;

static void widen(value_range *range, double value) {
    if (!isfinite(value)) return;
    if (value < range->low) range->low = value;
    if (value > range->high) range->high = value;
}

/* The axes of a panel: tick positions and the data-to-pixel mapping. */
typedef struct {
    cg_axis_ticks x_ticks, y_ticks;
} panel_axes;

static panel_axes axes_for(const cg_plot *plot) {
    value_range x = {INFINITY, -INFINITY}, y = {INFINITY, -INFINITY};
    for (int s = 0; s < plot->series_count; s++)
        for (int i = 0; i < plot->series[s].count; i++)
            if (isfinite(plot->series[s].xs[i]) && isfinite(plot->series[s].ys[i])) {
                widen(&x, plot->series[s].xs[i]);
                widen(&y, plot->series[s].ys[i]);
            }
    for (int m = 0; m < plot->marker_count; m++)
        widen(&x, plot->markers[m].x);
    if (x.low > x.high) x = (value_range){0, 1};
    if (y.low > y.high) y = (value_range){0, 1};
    if (plot->fixed_y_range) y = (value_range){plot->y_low, plot->y_high};
    return (panel_axes){cg_axis_ticks_for(x.low, x.high, X_TICK_TARGET),
                        cg_axis_ticks_for(y.low, y.high, Y_TICK_TARGET)};
}

static double axis_fraction(const cg_axis_ticks *ticks, double value) {
    const double span = ticks->step * (ticks->count - 1);
    return (value - cg_axis_tick_value(ticks, 0)) / span;
}

static double pixel_x(const panel_axes *axes, double x) {
    return PLOT_LEFT + axis_fraction(&axes->x_ticks, x) * (PLOT_RIGHT - PLOT_LEFT);
}

static double pixel_y(const panel_axes *axes, double y) {
    return PLOT_BOTTOM - axis_fraction(&axes->y_ticks, y) * (PLOT_BOTTOM - PLOT_TOP);
}

static void write_grid_and_ticks(FILE *out, const panel_axes *axes) {
    char attributes[128], label[64];
    fputs("<g stroke=\"#e5e5e5\" stroke-width=\"1\">\n", out);
    for (int i = 0; i < axes->x_ticks.count; i++) {
        const double px = pixel_x(axes, cg_axis_tick_value(&axes->x_ticks, i));
        fprintf(out, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>\n", px, PLOT_TOP, px,
                PLOT_BOTTOM);
    }
    for (int i = 0; i < axes->y_ticks.count; i++) {
        const double py = pixel_y(axes, cg_axis_tick_value(&axes->y_ticks, i));
        fprintf(out, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n", PLOT_LEFT, py,
                PLOT_RIGHT, py);
    }
    fputs("</g>\n<g fill=\"#333\">\n", out);
    for (int i = 0; i < axes->x_ticks.count; i++) {
        const double value = cg_axis_tick_value(&axes->x_ticks, i);
        snprintf(attributes, sizeof attributes, "x=\"%.2f\" y=\"%d\" text-anchor=\"middle\"",
                 pixel_x(axes, value), PLOT_BOTTOM + 18);
        snprintf(label, sizeof label, "%.*f", axes->x_ticks.decimals, value);
        write_text(out, attributes, label);
    }
    for (int i = 0; i < axes->y_ticks.count; i++) {
        const double value = cg_axis_tick_value(&axes->y_ticks, i);
        snprintf(attributes, sizeof attributes, "x=\"%d\" y=\"%.2f\" text-anchor=\"end\"",
                 PLOT_LEFT - 8, pixel_y(axes, value) + 4);
        snprintf(label, sizeof label, "%.*f", axes->y_ticks.decimals, value);
        write_text(out, attributes, label);
    }
    fputs("</g>\n", out);
}

static void write_frame_and_titles(FILE *out, const cg_plot *plot) {
    char attributes[160];
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
            PLOT_LEFT, PLOT_TOP, PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP);
    snprintf(attributes, sizeof attributes,
             "x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\"",
             (PLOT_LEFT + PLOT_RIGHT) / 2);
    write_text(out, attributes, plot->title);
    snprintf(attributes, sizeof attributes, "x=\"%d\" y=\"%d\" text-anchor=\"middle\"",
             (PLOT_LEFT + PLOT_RIGHT) / 2, PLOT_BOTTOM + 42);
    write_text(out, attributes, plot->x_label);
    snprintf(attributes, sizeof attributes,
             "x=\"24\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 24 %d)\"",
             (PLOT_TOP + PLOT_BOTTOM) / 2, (PLOT_TOP + PLOT_BOTTOM) / 2);
    write_text(out, attributes, plot->y_label);
}

static bool point_is_finite(const plot_series *series, int i) {
    return isfinite(series->xs[i]) && isfinite(series->ys[i]);
}

static void write_dot(FILE *out, const panel_axes *axes, const plot_series *series, int i,
                      double radius) {
    fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\"/>\n", pixel_x(axes, series->xs[i]),
            pixel_y(axes, series->ys[i]), radius);
}

/* A line is one polyline per run of finite points; a run of one point is a dot. */
static void write_line(FILE *out, const panel_axes *axes, const plot_series *series) {
    int i = 0;
    while (i < series->count) {
        if (!point_is_finite(series, i)) {
            i++;
            continue;
        }
        int end = i;
        while (end < series->count && point_is_finite(series, end))
            end++;
        if (end - i == 1) {
            write_dot(out, axes, series, i, 2.5);
        } else {
            fputs("<polyline fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"",
                  out);
            for (int k = i; k < end; k++)
                fprintf(out, "%s%.2f,%.2f", k > i ? " " : "", pixel_x(axes, series->xs[k]),
                        pixel_y(axes, series->ys[k]));
            fputs("\"/>\n", out);
        }
        i = end;
    }
}

static void write_series(FILE *out, const panel_axes *axes, const plot_series *series,
                         const char *color) {
    fprintf(out, "<g stroke=\"%s\" fill=\"%s\">\n<title>", color, color);
    write_escaped(out, series->label);
    fputs("</title>\n", out);
    if (series->style == SERIES_LINE) {
        write_line(out, axes, series);
    } else {
        for (int i = 0; i < series->count; i++)
            if (point_is_finite(series, i)) write_dot(out, axes, series, i, 3.5);
    }
    fputs("</g>\n", out);
}

static void write_markers(FILE *out, const panel_axes *axes, const cg_plot *plot) {
    char attributes[128];
    for (int m = 0; m < plot->marker_count; m++) {
        const double px = pixel_x(axes, plot->markers[m].x);
        fprintf(out,
                "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#555\" "
                "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
                px, PLOT_TOP, px, PLOT_BOTTOM);
        /* Labels go on the side of the line with more room. */
        const bool left_of_line = px > (PLOT_LEFT + PLOT_RIGHT) / 2.0;
        snprintf(attributes, sizeof attributes,
                 "x=\"%.2f\" y=\"%d\" fill=\"#555\" text-anchor=\"%s\"",
                 left_of_line ? px - 4 : px + 4, PLOT_BOTTOM - 6 - 14 * m,
                 left_of_line ? "end" : "start");
        write_text(out, attributes, plot->markers[m].label);
    }
}

/* The legend lists the labelled series in the top-right corner of the plot area. */
static void write_legend(FILE *out, const cg_plot *plot) {
    int rows = 0;
    size_t longest = 0;
    for (int s = 0; s < plot->series_count; s++) {
        if (!*plot->series[s].label) continue;
        rows++;
        if (strlen(plot->series[s].label) > longest) longest = strlen(plot->series[s].label);
    }
    if (rows == 0) return;
    const int width = 40 + 7 * (int)longest, left = PLOT_RIGHT - width - 10, top = PLOT_TOP + 10;
    fprintf(out,
            "<g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" "
            "fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
            left, top, width, rows * LEGEND_ROW_HEIGHT + 8);
    char attributes[96];
    int row = 0;
    for (int s = 0; s < plot->series_count; s++) {
        if (!*plot->series[s].label) continue;
        const char *color = PALETTE[s % PALETTE_SIZE];
        const int middle = top + 4 + row * LEGEND_ROW_HEIGHT + LEGEND_ROW_HEIGHT / 2;
        if (plot->series[s].style == SERIES_LINE)
            fprintf(out,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"2\"/>\n",
                    left + 8, middle, left + 28, middle, color);
        else
            fprintf(out, "<circle cx=\"%d\" cy=\"%d\" r=\"3.5\" fill=\"%s\"/>\n", left + 18, middle,
                    color);
        snprintf(attributes, sizeof attributes, "x=\"%d\" y=\"%d\" fill=\"#333\"", left + 34,
                 middle + 4);
        write_text(out, attributes, plot->series[s].label);
        row++;
    }
    fputs("</g>\n", out);
}

/* Series are clipped to the plot area, which a fixed y range may leave them. */
static void write_panel(FILE *out, const cg_plot *plot, int index, int top) {
    const panel_axes axes = axes_for(plot);
    fprintf(out, "<g transform=\"translate(0 %d)\">\n", top);
    fprintf(out,
            "<defs><clipPath id=\"plot-area-%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
            "height=\"%d\"/></clipPath></defs>\n",
            index, PLOT_LEFT, PLOT_TOP, PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP);
    write_grid_and_ticks(out, &axes);
    write_frame_and_titles(out, plot);
    fprintf(out, "<g clip-path=\"url(#plot-area-%d)\">\n", index);
    for (int s = 0; s < plot->series_count; s++)
        write_series(out, &axes, &plot->series[s], PALETTE[s % PALETTE_SIZE]);
    fputs("</g>\n", out);
    write_markers(out, &axes, plot);
    write_legend(out, plot);
    fputs("</g>\n", out);
}

int cg_plot_write_svg_stack(const cg_plot *const *plots, int count, const char *title,
                            const char *path) {
    bool every_plot_present = plots && count >= 1;
    for (int i = 0; every_plot_present && i < count; i++)
        every_plot_present = plots[i] != NULL;
    if (!every_plot_present || !path) {
        cg_error_set("cg_plot_write_svg: needs a path and at least one plot");
        return -1;
    }
    FILE *out = fopen(path, "w");
    if (!out) {
        cg_error_set("cg_plot_write_svg: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    const int title_height = title && *title ? STACK_TITLE_HEIGHT : 0;
    const int height = title_height + count * PANEL_HEIGHT;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            IMAGE_WIDTH, height, IMAGE_WIDTH, height, IMAGE_WIDTH, height);
    if (title_height) {
        char attributes[128];
        snprintf(attributes, sizeof attributes,
                 "x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\"",
                 IMAGE_WIDTH / 2);
        write_text(out, attributes, title);
    }
    for (int i = 0; i < count; i++)
        write_panel(out, plots[i], i, title_height + i * PANEL_HEIGHT);
    fputs("</svg>\n", out);
    const bool write_failed = ferror(out) != 0;
    if (fclose(out) != 0 || write_failed) {
        cg_error_set("cg_plot_write_svg: writing %s failed", path);
        return -1;
    }
    return 0;
}

int cg_plot_write_svg(const cg_plot *plot, const char *path) {
    const cg_plot *const plots[1] = {plot};
    return cg_plot_write_svg_stack(plots, 1, NULL, path);
}
