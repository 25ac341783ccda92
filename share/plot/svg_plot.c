/*
 * svg_plot.c — draw panels of line series into an SVG file, or a PNG.
 *
 * The figure is always drawn as SVG text, in memory; a .png path renders
 * that text with librsvg and cairo where the build found them (-DLMPIPE_RSVG).
 */
#include "plot/svg_plot.h"
#include "util/error.h"
#include "util/io.h"
#include "util/num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef LMPIPE_RSVG
#include <cairo.h>
#include <librsvg/rsvg.h>
#endif

#define FIG_WIDTH 900.0
#define PANEL_HEIGHT 300.0
#define MARGIN_LEFT 80.0
#define MARGIN_RIGHT 200.0   /* the legend */
#define MARGIN_TOP 40.0
#define MARGIN_BOTTOM 50.0
#define MAX_TICKS 8

static const char *const palette[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};
#define N_COLORS (sizeof palette / sizeof palette[0])

typedef struct {
	double lo, hi;   /* data range shown */
	bool log;
} axis;

/* ---- ranges and ticks ------------------------------------------------------- */

static double axis_value(const axis *a, double v)
{
	return a->log ? log10(v) : v;
}

static void axis_include(axis *a, double v)
{
	if (!isfinite(v) || (a->log && v <= 0))
		return;
	v = axis_value(a, v);
	if (v < a->lo) a->lo = v;
	if (v > a->hi) a->hi = v;
}

static void axis_finish(axis *a)
{
	if (a->lo > a->hi) {   /* no data */
		a->lo = 0;
		a->hi = 1;
	}
	if (a->hi - a->lo < 1e-12) {
		a->lo -= 0.5;
		a->hi += 0.5;
	}
}

/* A "nice" tick step near range/target: 1, 2 or 5 times a power of ten. */
static double nice_step(double range, int target)
{
	double raw = range / target, p = pow(10, floor(log10(raw)));
	double f = raw / p;
	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* Map a data value to a pixel between lo_px and hi_px. */
static double to_px(const axis *a, double v, double lo_px, double hi_px)
{
	return lo_px + (axis_value(a, v) - a->lo) / (a->hi - a->lo) * (hi_px - lo_px);
}

/* ---- drawing --------------------------------------------------------------- */

static void tick_label(double v, char *buf)
{
	if (fabs(v) >= 1e4)
		num_si(v, "", buf);
	else
		snprintf(buf, 32, "%.3g", v);
}

static void draw_x_axis(FILE *fp, const axis *x, double y0, double x0, double x1, bool labels)
{
	double step = nice_step(x->hi - x->lo, MAX_TICKS);
	for (double v = ceil(x->lo / step) * step; v <= x->hi + step * 1e-9; v += step) {
		double px = to_px(x, v, x0, x1);
		char buf[32];
		fprintf(fp, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n",
			px, y0, px, y0 - PANEL_HEIGHT + MARGIN_TOP + MARGIN_BOTTOM);
		if (labels) {
			tick_label(v, buf);
			fprintf(fp, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n",
				px, y0 + 16, buf);
		}
	}
}

static void draw_y_axis(FILE *fp, const axis *y, double x0, double x1, double y0, double y1)
{
	double step = nice_step(y->hi - y->lo, MAX_TICKS / 2 + 1);
	for (double v = ceil(y->lo / step) * step; v <= y->hi + step * 1e-9; v += step) {
		double py = y0 + (v - y->lo) / (y->hi - y->lo) * (y1 - y0);
		char buf[32];
		tick_label(y->log ? pow(10, v) : v, buf);
		fprintf(fp, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n",
			x0, py, x1, py);
		fprintf(fp, "<text x='%.1f' y='%.1f' text-anchor='end'>%s</text>\n", x0 - 6, py + 4, buf);
	}
}

static void draw_series(FILE *fp, const plot_series *s, const axis *x, const axis *y,
			double x0, double x1, double y0, double y1)
{
	const char *color = palette[s->color % N_COLORS];
	bool pen_down = false;
	fprintf(fp, "<path fill='none' stroke='%s' stroke-width='%.1f' d='", color, s->width);
	for (size_t i = 0; i < s->n; i++) {
		if (!isfinite(s->y[i]) || !isfinite(s->x[i]) || (y->log && s->y[i] <= 0)) {
			pen_down = false;
			continue;
		}
		fprintf(fp, "%c%.1f,%.1f ", pen_down ? 'L' : 'M', to_px(x, s->x[i], x0, x1),
			to_px(y, s->y[i], y0, y1));
		pen_down = true;
	}
	fputs("'/>\n", fp);
	for (size_t i = 0; s->markers && i < s->n; i++)
		if (isfinite(s->y[i]) && isfinite(s->x[i]))
			fprintf(fp, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'/>\n",
				to_px(x, s->x[i], x0, x1), to_px(y, s->y[i], y0, y1), color);
}

static void draw_legend(FILE *fp, const plot_panel *p, double left, double top)
{
	double y = top + 10;
	for (size_t i = 0; i < p->n_series; i++) {
		const plot_series *s = &p->series[i];
		if (!s->label)
			continue;
		fprintf(fp, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' "
			"stroke-width='%.1f'/>\n", left, y, left + 24, y,
			palette[s->color % N_COLORS], s->width + 1);
		fprintf(fp, "<text x='%.1f' y='%.1f'>%s</text>\n", left + 30, y + 4, s->label);
		y += 18;
	}
}

static void draw_panel(FILE *fp, const plot_panel *p, const axis *x, double top, bool last,
		       const char *x_label)
{
	axis y = {INFINITY, -INFINITY, p->log_y};
	for (size_t i = 0; i < p->n_series; i++)
		for (size_t j = 0; j < p->series[i].n; j++)
			axis_include(&y, p->series[i].y[j]);
	axis_finish(&y);
	double x0 = MARGIN_LEFT, x1 = FIG_WIDTH - MARGIN_RIGHT;
	double y_top = top + MARGIN_TOP, y_bottom = top + PANEL_HEIGHT - MARGIN_BOTTOM;
	fprintf(fp, "<text x='%.1f' y='%.1f' font-weight='bold'>%s</text>\n", x0, top + 24,
		p->title ? p->title : "");
	draw_x_axis(fp, x, y_bottom, x0, x1, true);
	draw_y_axis(fp, &y, x0, x1, y_bottom, y_top);
	fprintf(fp, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#444'/>\n",
		x0, y_top, x1 - x0, y_bottom - y_top);
	for (size_t i = 0; i < p->n_series; i++)
		draw_series(fp, &p->series[i], x, &y, x0, x1, y_bottom, y_top);
	draw_legend(fp, p, x1 + 16, y_top);
	fprintf(fp, "<text transform='translate(%.1f,%.1f) rotate(-90)' text-anchor='middle'>%s</text>\n",
		20.0, (y_top + y_bottom) / 2, p->y_label ? p->y_label : "");
	if (last)
		fprintf(fp, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>\n",
			(x0 + x1) / 2, y_bottom + 38, x_label ? x_label : "");
}

/* The whole figure as SVG into fp. */
static void draw_figure(FILE *fp, const plot_figure *fig)
{
	axis x = {INFINITY, -INFINITY, false};
	for (size_t p = 0; p < fig->n_panels; p++)
		for (size_t i = 0; i < fig->panels[p].n_series; i++)
			for (size_t j = 0; j < fig->panels[p].series[i].n; j++)
				axis_include(&x, fig->panels[p].series[i].x[j]);
	axis_finish(&x);
	double height = PANEL_HEIGHT * (double)fig->n_panels;
	fprintf(fp, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
		"font-family='sans-serif' font-size='12'>\n", FIG_WIDTH, height);
	fprintf(fp, "<rect width='100%%' height='100%%' fill='white'/>\n");
	for (size_t p = 0; p < fig->n_panels; p++)
		draw_panel(fp, &fig->panels[p], &x, PANEL_HEIGHT * (double)p,
			   p + 1 == fig->n_panels, fig->x_label);
	fputs("</svg>\n", fp);
}

static bool is_png_path(const char *path)
{
	size_t n = strlen(path);
	return n >= 4 && strcasecmp(path + n - 4, ".png") == 0;
}

#ifdef LMPIPE_RSVG
static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int n)
{
	return fwrite(data, 1, n, closure) == n ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Render SVG text into a PNG at af (already open). */
static int render_png(const char *svg, size_t n, atomic_file *af)
{
	GError *gerr = NULL;
	RsvgHandle *h = rsvg_handle_new_from_data((const guint8 *)svg, n, &gerr);
	if (!h) {
		lm_fail("cannot render '%s': %s", af->path, gerr ? gerr->message : "bad SVG");
		g_clear_error(&gerr);
		return -1;
	}
	double w = 0, hgt = 0;
	rsvg_handle_get_intrinsic_size_in_pixels(h, &w, &hgt);
	cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)w, (int)hgt);
	cairo_t *cr = cairo_create(surface);
	RsvgRectangle viewport = {0, 0, w, hgt};
	int rc = 0;
	if (!rsvg_handle_render_document(h, cr, &viewport, &gerr)) {
		rc = lm_fail("cannot render '%s': %s", af->path, gerr ? gerr->message : "");
		g_clear_error(&gerr);
	} else if (cairo_surface_write_to_png_stream(surface, write_to_file, af->fp) !=
		   CAIRO_STATUS_SUCCESS) {
		rc = lm_fail_errno("cannot write '%s'", af->path);
	}
	cairo_destroy(cr);
	cairo_surface_destroy(surface);
	g_object_unref(h);
	return rc;
}
#else
static int render_png(const char *svg, size_t n, atomic_file *af)
{
	(void)svg;
	(void)n;
	return lm_fail("cannot write '%s': PNG needs lmpipe built with librsvg and cairo "
		       "(librsvg2-dev); write .svg instead", af->path);
}
#endif

int svg_plot_write(const plot_figure *fig, const char *path)
{
	char *svg = NULL;
	size_t n = 0;
	FILE *mem = open_memstream(&svg, &n);
	if (!mem)
		return lm_fail("out of memory");
	draw_figure(mem, fig);
	fclose(mem);
	atomic_file af;
	int rc = atomic_file_open(&af, path, true);
	if (rc == 0) {
		if (is_png_path(path))
			rc = render_png(svg, n, &af);
		else if (fwrite(svg, 1, n, af.fp) != n)
			rc = lm_fail_errno("cannot write '%s'", path);
		if (rc == 0)
			rc = atomic_file_commit(&af);
		else
			atomic_file_abort(&af);
	}
	free(svg);
	return rc;
}
