/*
 * svg_plot.h — line charts as SVG, for looking at training curves.
 *
 * A figure is a column of panels sharing one x axis; each panel has series
 * (points, a color index, a label, solid line or dots). Axes get "nice"
 * ticks (1, 2, 5 x 10^k); a y axis may be logarithmic. The SVG is written
 * by hand, so nothing beyond libc is needed to draw a run's curves; PNG
 * comes from rendering that SVG with librsvg.
 */
#ifndef LMPIPE_SVG_PLOT_H
#define LMPIPE_SVG_PLOT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
	const double *x, *y;   /* n points; NaN y values are gaps */
	size_t n;
	int color;             /* index into the palette */
	const char *label;     /* legend text, NULL for none */
	bool markers;          /* dots at the points (evaluations) */
	double width;          /* stroke width */
} plot_series;

typedef struct {
	const char *title;
	const char *y_label;
	bool log_y;
	plot_series *series;
	size_t n_series;
} plot_panel;

typedef struct {
	const char *x_label;
	plot_panel *panels;
	size_t n_panels;
} plot_figure;

/* Write the figure to PATH atomically: SVG, or PNG for a .png path (where
 * the build has librsvg; an error naming the cause elsewhere). -1 with an
 * error. */
int svg_plot_write(const plot_figure *fig, const char *path);

#endif
