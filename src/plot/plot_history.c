/* plot_history.c - the training history figure of R's plot(history), drawn with cairo.
 *
 * What R keras (plot.keras_training_history, ggplot2 method) builds:
 *   ggplot(df, aes(epoch, value, color = data, fill = data)) +
 *     geom_point(shape = 21, col = 1) +                      # black ring, coloured fill
 *     geom_smooth(method = "loess", se = FALSE) +            # when epochs >= 10
 *     facet_grid(metric ~ ., switch = "y", scales = "free_y") +
 *     scale_x_continuous(breaks = int_breaks) +
 *     theme(axis.title.y = blank, strip.placement = "outside", strip.background = NA)
 * on theme_grey: grey92 panels with white major and minor grid lines, grey30 tick labels,
 * the legend "data" on the right. Without validation nothing is mapped to colour: black
 * rings without fill, blue (#3366FF) smooth lines and no legend.
 *
 * Sizes are ggplot2's in points (base size 11); one point is `s` pixels, 96 dpi at the
 * default 800 x 600 and scaled with the figure.
 */
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "plot_impl.h"

typedef struct rgb {
    double r, g, b;
} rgb;
#define RGB(hex)                                                                                   \
    {                                                                                              \
        ((hex) >> 16 & 255) / 255.0, ((hex) >> 8 & 255) / 255.0, ((hex)&255) / 255.0               \
    }

static const rgb C_WHITE = RGB(0xFFFFFF), C_BLACK = RGB(0x000000);
static const rgb C_PANEL = RGB(0xEBEBEB);     /* grey92 */
static const rgb C_KEY = RGB(0xF2F2F2);       /* grey95 legend keys */
static const rgb C_AXIS_TEXT = RGB(0x4D4D4D); /* grey30 */
static const rgb C_TICKS = RGB(0x333333);     /* grey20 */
static const rgb C_TRAIN = RGB(0xF8766D);     /* scales::hue_pal()(2) */
static const rgb C_VAL = RGB(0x00BFC4);
static const rgb C_SMOOTH = RGB(0x3366FF); /* geom_smooth's default colour */

#define IC_PI 3.14159265358979323846

enum { MAX_PANELS = 2, MAX_BREAKS = 64, SMOOTH_N = 80 };

/* ggplot2 theme_grey(base_size = 11) sizes in points. */
#define PT_HALF_LINE 5.5
#define PT_BASE 11.0
#define PT_SMALL 8.8  /* rel(0.8): tick labels, legend labels */
#define PT_TITLE 13.2 /* rel(1.2) */
#define PT_TICK_LEN 2.75
#define PT_LINE (0.5 * 72.27 / 96 * 72.27 / 25.4) /* linewidth 0.5 mm-ish -> pt (1.07) */
#define PT_SMOOTH_LINE (2 * PT_LINE)              /* geom_smooth linewidth 1 */
#define PT_POINT_R 1.955                          /* shape 21, size 1.5, stroke 0.5 */
#define PT_POINT_STROKE 0.709
#define PT_KEY 17.28

typedef struct series {
    const double *v; /* n values, NULL if not recorded */
    double sx[SMOOTH_N], sy[SMOOTH_N];
    int smooth; /* sx/sy hold a loess curve */
    rgb fill, line;
    int filled;
} series;

typedef struct panel {
    const char *name;
    series s[2];   /* training, validation */
    double lo, hi; /* expanded y range */
    double breaks[MAX_BREAKS], minor[MAX_BREAKS];
    int nbreaks, nminor;
    char labels[MAX_BREAKS][32];
    double top, bottom; /* pixels */
} panel;

typedef struct fig {
    cairo_t *cr;
    double s; /* pixels per point */
    int n;    /* epochs */
    double xlo, xhi;
    double xbreaks[MAX_BREAKS], xminor[MAX_BREAKS];
    int nxbreaks, nxminor;
    char xlabels[MAX_BREAKS][32];
    double left, right; /* panel edges, pixels */
} fig;

ic_plot_opts ic_plot_opts_default(void)
{
    ic_plot_opts o;
    memset(&o, 0, sizeof o);
    o.width = 800;
    o.height = 600;
    o.smooth = IC_PLOT_SMOOTH_AUTO;
    return o;
}

/* ---- Scales ---- */

/* scales::expand_range(limits, mul = 0.05, zero_width = 1). */
static void expand(double *lo, double *hi)
{
    double d = *hi - *lo;
    if (d <= 1e-10 * fmax(1, fmax(fabs(*lo), fabs(*hi)))) {
        *lo -= 0.5;
        *hi += 0.5;
    } else {
        *lo -= 0.05 * d;
        *hi += 0.05 * d;
    }
}

static int inside(double v, double lo, double hi)
{
    double tol = 1e-9 * (hi - lo);
    return v >= lo - tol && v <= hi + tol;
}

/* scales::regular_minor_breaks(): midpoints of the major breaks, one step beyond each end. */
static int minor_breaks(const double *b, int nb, double lo, double hi, double *out)
{
    int n = 0;
    if (nb < 2)
        return 0;
    double step = b[1] - b[0];
    for (int i = -1; i < nb; i++) {
        double m = b[0] + (i + 0.5) * step;
        if (inside(m, lo, hi) && n < MAX_BREAKS)
            out[n++] = m;
    }
    return n;
}

/* Keeps the breaks inside [lo, hi]. */
static int censor(double *b, int n, double lo, double hi)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (inside(b[i], lo, hi))
            b[k++] = b[i];
    return k;
}

static void x_scale(fig *f)
{
    f->xlo = 1;
    f->xhi = f->n;
    expand(&f->xlo, &f->xhi);
    /* int_breaks <- function(x) pretty(x)[pretty(x) %% 1 == 0], on the expanded range */
    double b[MAX_BREAKS];
    int nb = ic__pretty(f->xlo, f->xhi, 5, b, MAX_BREAKS), k = 0;
    for (int i = 0; i < nb; i++)
        if (fabs(b[i] - floor(b[i] + 0.5)) < 1e-9)
            b[k++] = floor(b[i] + 0.5);
    nb = censor(b, k, f->xlo, f->xhi);
    memcpy(f->xbreaks, b, (size_t)nb * sizeof(double));
    f->nxbreaks = nb;
    f->nxminor = minor_breaks(b, nb, f->xlo, f->xhi, f->xminor);
    ic__format_breaks(f->xbreaks, nb, f->xlabels);
}

static void y_scale(panel *p, int n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < 2; k++) {
        const series *s = &p->s[k];
        if (!s->v)
            continue;
        for (int e = 0; e < n; e++)
            if (isfinite(s->v[e]))
                lo = fmin(lo, s->v[e]), hi = fmax(hi, s->v[e]);
        if (s->smooth) /* stat output trains the scale too */
            for (int i = 0; i < SMOOTH_N; i++)
                if (isfinite(s->sy[i]))
                    lo = fmin(lo, s->sy[i]), hi = fmax(hi, s->sy[i]);
    }
    if (!(lo <= hi))
        lo = 0, hi = 1; /* no finite value */
    expand(&lo, &hi);
    p->lo = lo, p->hi = hi;
    p->nbreaks = ic__extended_breaks(lo, hi, 5, p->breaks, MAX_BREAKS);
    p->nbreaks = censor(p->breaks, p->nbreaks, lo, hi);
    p->nminor = minor_breaks(p->breaks, p->nbreaks, lo, hi, p->minor);
    ic__format_breaks(p->breaks, p->nbreaks, p->labels);
}

/* The loess line of one series over seq(min(x), max(x), length.out = 80), finite points
 * only. */
static ic_status smooth_series(series *s, int n)
{
    double *x = ic__malloc(2 * (size_t)n * sizeof(double));
    if (!x)
        return IC_ERR_NOMEM;
    double *y = x + n;
    int m = 0;
    for (int e = 0; e < n; e++)
        if (isfinite(s->v[e]))
            x[m] = e + 1, y[m] = s->v[e], m++;
    ic_status st = IC_OK;
    if (m >= 3) { /* R's loess cannot fit fewer points either */
        for (int i = 0; i < SMOOTH_N; i++)
            s->sx[i] = x[0] + (x[m - 1] - x[0]) * i / (SMOOTH_N - 1);
        st = ic__loess(x, y, m, 0.75, 2, s->sx, s->sy, SMOOTH_N);
        s->smooth = st == IC_OK;
    }
    ic__free(x);
    return st;
}

/* ---- Drawing helpers ---- */

static void set_rgb(cairo_t *cr, rgb c)
{
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

static void font(fig *f, double pt)
{
    cairo_select_font_face(f->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(f->cr, pt * f->s);
}

static double text_width(fig *f, const char *txt, double pt)
{
    cairo_text_extents_t e;
    font(f, pt);
    cairo_text_extents(f->cr, txt, &e);
    return e.x_advance;
}

/* Height of a line of text of this size from baseline to cap height (what grid centres). */
static double cap_height(fig *f, double pt)
{
    return 0.72 * pt * f->s;
}

/* Text with (x, y) at the point given by hjust (0 left .. 1 right) and vjust (0 baseline ..
 * 1 cap height), rotated by angle (radians, counter-clockwise). */
static void text(fig *f, const char *txt, double pt, rgb c, double x, double y, double hjust,
                 double vjust, double angle)
{
    cairo_t *cr = f->cr;
    font(f, pt);
    cairo_text_extents_t e;
    cairo_text_extents(cr, txt, &e);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle);
    cairo_move_to(cr, -hjust * e.x_advance, vjust * cap_height(f, pt));
    set_rgb(cr, c);
    cairo_show_text(cr, txt);
    cairo_restore(cr);
}

static void hline(cairo_t *cr, double x0, double x1, double y, double width)
{
    cairo_set_line_width(cr, width);
    cairo_move_to(cr, x0, y);
    cairo_line_to(cr, x1, y);
    cairo_stroke(cr);
}

static void vline(cairo_t *cr, double x, double y0, double y1, double width)
{
    cairo_set_line_width(cr, width);
    cairo_move_to(cr, x, y0);
    cairo_line_to(cr, x, y1);
    cairo_stroke(cr);
}

static double px_x(const fig *f, double v)
{
    return f->left + (v - f->xlo) / (f->xhi - f->xlo) * (f->right - f->left);
}

static double px_y(const panel *p, double v)
{
    return p->bottom - (v - p->lo) / (p->hi - p->lo) * (p->bottom - p->top);
}

static void point(fig *f, double x, double y, const series *s)
{
    cairo_t *cr = f->cr;
    cairo_new_path(cr);
    cairo_arc(cr, x, y, PT_POINT_R * f->s, 0, 2 * IC_PI);
    if (s->filled) {
        set_rgb(cr, s->fill);
        cairo_fill_preserve(cr);
    }
    set_rgb(cr, C_BLACK);
    cairo_set_line_width(cr, PT_POINT_STROKE * f->s);
    cairo_stroke(cr);
}

static void draw_panel(fig *f, const panel *p)
{
    cairo_t *cr = f->cr;
    double l = f->left, r = f->right, t = p->top, b = p->bottom;
    set_rgb(cr, C_PANEL);
    cairo_rectangle(cr, l, t, r - l, b - t);
    cairo_fill(cr);
    cairo_save(cr);
    cairo_rectangle(cr, l, t, r - l, b - t);
    cairo_clip(cr);
    set_rgb(cr, C_WHITE);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    for (int i = 0; i < p->nminor; i++)
        hline(cr, l, r, px_y(p, p->minor[i]), PT_LINE * 0.5 * f->s);
    for (int i = 0; i < f->nxminor; i++)
        vline(cr, px_x(f, f->xminor[i]), t, b, PT_LINE * 0.5 * f->s);
    for (int i = 0; i < p->nbreaks; i++)
        hline(cr, l, r, px_y(p, p->breaks[i]), PT_LINE * f->s);
    for (int i = 0; i < f->nxbreaks; i++)
        vline(cr, px_x(f, f->xbreaks[i]), t, b, PT_LINE * f->s);
    /* geom_point: training rows, then validation rows */
    for (int k = 0; k < 2; k++) {
        const series *s = &p->s[k];
        if (!s->v)
            continue;
        for (int e = 0; e < f->n; e++)
            if (isfinite(s->v[e]))
                point(f, px_x(f, e + 1), px_y(p, s->v[e]), s);
    }
    /* geom_smooth on top */
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int k = 0; k < 2; k++) {
        const series *s = &p->s[k];
        if (!s->v || !s->smooth)
            continue;
        cairo_new_path(cr);
        for (int i = 0; i < SMOOTH_N; i++)
            if (isfinite(s->sy[i]))
                cairo_line_to(cr, px_x(f, s->sx[i]), px_y(p, s->sy[i]));
        set_rgb(cr, s->line);
        cairo_set_line_width(cr, PT_SMOOTH_LINE * f->s);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    /* y axis: ticks and labels */
    set_rgb(cr, C_TICKS);
    double tick = PT_TICK_LEN * f->s;
    for (int i = 0; i < p->nbreaks; i++) {
        double y = px_y(p, p->breaks[i]);
        set_rgb(cr, C_TICKS);
        hline(cr, l - tick, l, y, PT_LINE * f->s);
        text(f, p->labels[i], PT_SMALL, C_AXIS_TEXT, l - tick - 0.8 * PT_TICK_LEN * f->s, y, 1, 0.5,
             0);
    }
}

/* ---- The figure ---- */

typedef struct png_sink {
    FILE *fp;
} png_sink;

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len)
{
    png_sink *sk = closure;
    return fwrite(data, 1, len, sk->fp) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static ic_status cairo_err(cairo_status_t cs, const char *path)
{
    if (cs == CAIRO_STATUS_NO_MEMORY)
        return ic_seterr(IC_ERR_NOMEM, "%s: cairo ran out of memory", path);
    return ic_seterr(IC_ERR_INTERNAL, "%s: cairo: %s", path, cairo_status_to_string(cs));
}

static void draw(fig *f, panel *pn, int np, int legend, const char *title, int w, int h)
{
    cairo_t *cr = f->cr;
    double s = f->s;
    set_rgb(cr, C_WHITE);
    cairo_paint(cr);

    /* Horizontal layout: margin | strip | pad | tick labels | tick | panels | spacing |
     * legend | margin. */
    double margin = PT_HALF_LINE * s;
    double strip_w = (PT_BASE * 0.72 + 2 * 4.4) * s;
    double lab_w = 0;
    for (int k = 0; k < np; k++)
        for (int i = 0; i < pn[k].nbreaks; i++)
            lab_w = fmax(lab_w, text_width(f, pn[k].labels[i], PT_SMALL));
    double axis_w = lab_w + 0.8 * PT_TICK_LEN * s + PT_TICK_LEN * s;
    f->left = margin + strip_w + PT_TICK_LEN * s + axis_w;

    const char *keys[2] = {"training", "validation"};
    double legend_w = 0, key = PT_KEY * s;
    if (legend) {
        double lw = text_width(f, "data", PT_BASE);
        for (int k = 0; k < 2; k++)
            lw = fmax(lw, key + PT_HALF_LINE * s + text_width(f, keys[k], PT_SMALL));
        legend_w = lw + 2 * PT_HALF_LINE * s + 2 * PT_HALF_LINE * s; /* margins + box spacing */
    }
    f->right = w - margin - legend_w;

    /* Vertical: margin | title | panels (spacing between) | ticks | labels | axis title |
     * margin. */
    double top = margin;
    if (title && *title)
        top += cap_height(f, PT_TITLE) + 0.3 * PT_TITLE * s + PT_HALF_LINE * s;
    double bottom_h = PT_TICK_LEN * s + 0.8 * PT_TICK_LEN * s + cap_height(f, PT_SMALL) +
                      PT_TICK_LEN * s + (PT_BASE + 0.3 * PT_BASE) * s;
    double bottom = h - margin - bottom_h;
    double spacing = PT_HALF_LINE * s;
    double ph = (bottom - top - spacing * (np - 1)) / np;
    for (int k = 0; k < np; k++) {
        pn[k].top = top + k * (ph + spacing);
        pn[k].bottom = pn[k].top + ph;
    }

    for (int k = 0; k < np; k++) {
        draw_panel(f, &pn[k]);
        /* strip on the left, outside the axis, text reading upwards */
        text(f, pn[k].name, PT_BASE, C_BLACK, margin + 4.4 * s + cap_height(f, PT_BASE),
             (pn[k].top + pn[k].bottom) / 2, 0.5, 0, IC_PI / 2);
    }

    /* x axis under the last panel */
    double tick = PT_TICK_LEN * s, yb = pn[np - 1].bottom;
    for (int i = 0; i < f->nxbreaks; i++) {
        double x = px_x(f, f->xbreaks[i]);
        set_rgb(cr, C_TICKS);
        vline(cr, x, yb, yb + tick, PT_LINE * s);
        text(f, f->xlabels[i], PT_SMALL, C_AXIS_TEXT, x,
             yb + tick + 0.8 * PT_TICK_LEN * s + cap_height(f, PT_SMALL), 0.5, 0, 0);
    }
    text(f, "epoch", PT_BASE, C_BLACK, (f->left + f->right) / 2, h - margin - 0.3 * PT_BASE * s,
         0.5, 0, 0);

    if (legend) {
        /* title "data", then one key per series: grey95 square, line (smooth), point */
        double lx = f->right + 2 * PT_HALF_LINE * s + PT_HALF_LINE * s;
        double title_h = cap_height(f, PT_BASE) + PT_HALF_LINE * s;
        double lh = title_h + 2 * key;
        double ly = (pn[0].top + pn[np - 1].bottom) / 2 - lh / 2;
        text(f, "data", PT_BASE, C_BLACK, lx, ly + cap_height(f, PT_BASE), 0, 0, 0);
        for (int k = 0; k < 2; k++) {
            double ky = ly + title_h + k * key;
            set_rgb(cr, C_KEY);
            cairo_rectangle(cr, lx, ky, key, key);
            cairo_fill(cr);
            const series *sr = &pn[0].s[k];
            point(f, lx + key / 2, ky + key / 2, sr);
            if (sr->smooth || pn[0].s[0].smooth) {
                set_rgb(cr, sr->line);
                cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
                hline(cr, lx + 0.1 * key, lx + 0.9 * key, ky + key / 2, PT_SMOOTH_LINE * s);
            }
            text(f, keys[k], PT_SMALL, C_BLACK, lx + key + PT_HALF_LINE * s, ky + key / 2, 0, 0.5,
                 0);
        }
    }
    if (title && *title)
        text(f, title, PT_TITLE, C_BLACK, f->left, margin + cap_height(f, PT_TITLE), 0, 0, 0);
}

ic_status ic_plot_history(const ic_history *h, const char *png_path, const ic_plot_opts *o)
{
    ic_plot_opts d = ic_plot_opts_default();
    if (!o)
        o = &d;
    if (!h || !png_path || !*png_path)
        return ic_seterr(IC_ERR_INVALID, "ic_plot_history: history and path must be given");
    int n = ic_history_epochs(h);
    if (n < 1)
        return ic_seterr(IC_ERR_INVALID, "ic_plot_history: the history has no epochs");
    if (o->width < 16 || o->height < 16 || o->width > 16384 || o->height > 16384)
        return ic_seterr(IC_ERR_INVALID, "ic_plot_history: size %dx%d outside 16..16384 pixels",
                         o->width, o->height);
    if (o->smooth < IC_PLOT_SMOOTH_NONE || o->smooth > IC_PLOT_SMOOTH_ALWAYS)
        return ic_seterr(IC_ERR_INVALID, "ic_plot_history: smooth must be 0, 1 or 2 (got %d)",
                         o->smooth);

    static panel pn_zero;
    panel pn[MAX_PANELS];
    const char *metric[MAX_PANELS][2] = {{"loss", "val_loss"}, {"acc", "val_acc"}};
    int np = 0, has_val = 0;
    int smooth =
        o->smooth == IC_PLOT_SMOOTH_ALWAYS || (o->smooth == IC_PLOT_SMOOTH_AUTO && n >= 10);
    for (int k = 0; k < MAX_PANELS; k++) {
        const double *tr = ic_history_metric(h, metric[k][0]);
        if (!tr)
            continue;
        panel *p = &pn[np++];
        *p = pn_zero;
        p->name = metric[k][0];
        p->s[0].v = tr;
        p->s[1].v = ic_history_metric(h, metric[k][1]);
        has_val |= p->s[1].v != NULL;
    }
    for (int k = 0; k < np; k++) {
        for (int j = 0; j < 2; j++) {
            series *sr = &pn[k].s[j];
            sr->filled = has_val;
            sr->fill = sr->line = j ? C_VAL : C_TRAIN;
            if (!has_val)
                sr->line = C_SMOOTH;
            ic_status st;
            if (sr->v && smooth && (st = smooth_series(sr, n)))
                return st;
        }
        y_scale(&pn[k], n);
    }

    fig f;
    memset(&f, 0, sizeof f);
    f.n = n;
    f.s = fmin(o->width / 800.0, o->height / 600.0) * 96.0 / 72.0;
    x_scale(&f);

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, o->width, o->height);
    cairo_status_t cs = cairo_surface_status(surf);
    if (cs) {
        cairo_surface_destroy(surf);
        return cairo_err(cs, png_path);
    }
    f.cr = cairo_create(surf);
    draw(&f, pn, np, has_val, o->title, o->width, o->height);
    cs = cairo_status(f.cr);
    cairo_destroy(f.cr);
    cairo_surface_flush(surf);
    ic_status st = IC_OK;
    if (cs) {
        st = cairo_err(cs, png_path);
    } else {
        ic__atomic_file af;
        if (!(st = ic__atomic_begin(&af, png_path, 1))) {
            png_sink sk = {af.fp};
            cs = cairo_surface_write_to_png_stream(surf, png_write, &sk);
            if (cs) {
                int e = errno;
                ic__atomic_abort(&af);
                st = cs == CAIRO_STATUS_WRITE_ERROR
                         ? ic_seterr(IC_ERR_IO, "cannot write '%s': %s", png_path, strerror(e))
                         : cairo_err(cs, png_path);
            } else {
                st = ic__atomic_commit(&af);
            }
        }
    }
    cairo_surface_destroy(surf);
    return st;
}
