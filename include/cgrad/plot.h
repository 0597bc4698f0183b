/* cgrad plots: line and point charts written as self-contained SVG files (no scripts, readable in
 * any browser). Training curves (cg_history_plot_svg) are drawn with the same functions. Included
 * by cgrad.h; errors follow the core convention (NULL or -1 plus cg_last_error()). */
#ifndef CGRAD_PLOT_H
#define CGRAD_PLOT_H

#ifdef __cplusplus
extern "C" {
#endif

/* A chart panel: series of (x, y) points drawn into axes with 1-2-5 tick values, a legend for
 * the labelled series and dashed vertical markers. Axis ranges cover every point and marker. */
typedef struct cg_plot cg_plot;

/* A new empty panel with a title (may be NULL or ""); the caller frees it with cg_plot_free. */
cg_plot *cg_plot_new(const char *title);
/* Sets the titles of the x and y axes (NULL leaves one unset). 0 or -1. */
int cg_plot_set_axes(cg_plot *plot, const char *x_label, const char *y_label);
/* Fixes the y axis to cover [low, high] (rounded out to ticks) instead of every point; what
 * falls outside is cut off. For curves that shoot far past the data. 0 or -1. */
int cg_plot_set_y_range(cg_plot *plot, double low, double high);
/* Adds a series of n points (copied) drawn as a line, or as separate dots. Points whose x or y is
 * not finite are skipped (a line is broken there). label names the series in the legend (NULL or
 * "" keeps it out). Series take the colours of a fixed palette in the order they are added.
 * 0, or -1 with an error. */
int cg_plot_add_line(cg_plot *plot, const char *label, const double *xs, const double *ys, int n);
int cg_plot_add_points(cg_plot *plot, const char *label, const double *xs, const double *ys, int n);
/* Adds a dashed vertical line at x, labelled at its top. 0 or -1. */
int cg_plot_add_vertical_marker(cg_plot *plot, double x, const char *label);
/* Writes the panel as an SVG file. 0, or -1 with an error naming the path. */
int cg_plot_write_svg(const cg_plot *plot, const char *path);
/* Writes count panels stacked from top to bottom in one SVG file under a common title (may be
 * NULL). 0, or -1 with an error naming the path. */
int cg_plot_write_svg_stack(const cg_plot *const *plots, int count, const char *title,
                            const char *path);
/* Frees a plot; NULL is ignored. */
void cg_plot_free(cg_plot *plot);

#ifdef __cplusplus
}
#endif

#endif /* CGRAD_PLOT_H */
