/*
 * probe-svg.c: ovn-lm-probe's timeline as an SVG picture.
 */
#include "probe-svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 1200
#define LEFT 80                 /* Room for the y axis labels. */
#define RIGHT 30
#define PLOT_W (WIDTH - LEFT - RIGHT)
#define TOP 78                  /* Room for the title and the legend. */
#define MAIN_H 300
#define ZOOM_GAP 70             /* Between the panels: axis labels. */
#define ZOOM_H 240
#define LINE_H 16               /* One line of text. */
#define MAX_EVENT_LINES 30

/* Gaps at least this many probe intervals long are outages, not normal
 * spacing, and get shaded. */
#define OUTAGE_INTERVALS 5

#define COLOR_RTT "#1f77b4"
#define COLOR_DUP "#ff7f0e"
#define COLOR_LOST "#d62728"
#define COLOR_EVENT "#2ca02c"

/* One panel: a time window mapped onto a rectangle. */
struct panel {
    int id;
    double x, y, w, h;          /* Plot area, pixels. */
    int64_t t_lo, t_hi;         /* Window, ns (absolute). */
    int64_t t0;                 /* Time zero of the axis labels. */
    double y_lo, y_hi;          /* log10 of the RTT range in us. */
    bool zoom;
};

/* Appends 's' to 'buf' as XML character data or attribute value, at most
 * 'max_chars' characters of it (then an ellipsis), with control
 * characters and invalid UTF-8 replaced by '?'. */
void
probe_svg_escape(struct probe_buf *buf, const char *s, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t n_chars = 0;

    while (*p) {
        size_t len = 1;

        if (n_chars++ >= max_chars) {
            probe_buf_puts(buf, "\xe2\x80\xa6");
            return;
        }
        if (*p < 0x80) {
            switch (*p) {
            case '&':
                probe_buf_puts(buf, "&amp;");
                break;
            case '<':
                probe_buf_puts(buf, "&lt;");
                break;
            case '>':
                probe_buf_puts(buf, "&gt;");
                break;
            case '"':
                probe_buf_puts(buf, "&quot;");
                break;
            case '\'':
                probe_buf_puts(buf, "&apos;");
                break;
            default:
                probe_buf_put(buf, *p < 0x20 || *p == 0x7f ? "?"
                              : (const char *) p, 1);
                break;
            }
            p++;
            continue;
        }

        /* A well-formed UTF-8 sequence of 2 to 4 bytes, not an overlong
         * form, a surrogate or beyond U+10FFFF. */
        if (*p >= 0xc2 && *p <= 0xdf) {
            len = 2;
        } else if (*p >= 0xe0 && *p <= 0xef) {
            len = 3;
        } else if (*p >= 0xf0 && *p <= 0xf4) {
            len = 4;
        } else {
            len = 0;
        }
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                len = 0;
                break;
            }
        }
        if (len >= 3) {
            if ((p[0] == 0xe0 && p[1] < 0xa0)
                || (p[0] == 0xed && p[1] >= 0xa0)
                || (p[0] == 0xf0 && p[1] < 0x90)
                || (p[0] == 0xf4 && p[1] >= 0x90)) {
                len = 0;
            }
        }
        if (len) {
            probe_buf_put(buf, (const char *) p, len);
            p += len;
        } else {
            probe_buf_puts(buf, "?");
            p++;
        }
    }
}

static double
px_x(const struct panel *pn, int64_t t)
{
    return pn->x + (double) (t - pn->t_lo) / (double) (pn->t_hi - pn->t_lo)
                   * pn->w;
}

/* The y pixel of an RTT of 'rtt_ns', clamped to the panel. */
static double
px_y(const struct panel *pn, int64_t rtt_ns)
{
    double us = rtt_ns / 1e3;
    double v = us > 0 ? log10(us) : pn->y_lo;
    double f = (v - pn->y_lo) / (pn->y_hi - pn->y_lo);

    f = f < 0 ? 0 : f > 1 ? 1 : f;
    return pn->y + pn->h - f * pn->h;
}

static bool
in_window(const struct panel *pn, int64_t t)
{
    return t >= pn->t_lo && t <= pn->t_hi;
}

static void
format_duration(char *buf, size_t size, double us)
{
    if (us >= 1e6) {
        snprintf(buf, size, "%g s", us / 1e6);
    } else if (us >= 1e3) {
        snprintf(buf, size, "%g ms", us / 1e3);
    } else {
        snprintf(buf, size, "%g \xc2\xb5s", us);
    }
}

/* Sets the RTT range of 'pn' to whole decades around the RTTs of the
 * answered probes sent within its window. */
static void
panel_set_y_range(struct panel *pn, const struct probe_svg_input *in)
{
    int64_t lo = INT64_MAX, hi = 0;

    for (size_t i = 0; i < in->n_samples; i++) {
        const struct probe_sample *s = &in->samples[i];
        int64_t rtt;

        if (!s->n_replies || !in_window(pn, s->send_ns)) {
            continue;
        }
        rtt = s->recv_ns - s->send_ns;
        if (rtt > 0) {
            lo = rtt < lo ? rtt : lo;
            hi = rtt > hi ? rtt : hi;
        }
    }
    if (!hi) {
        pn->y_lo = 1;           /* 10 us to 1 ms. */
        pn->y_hi = 3;
        return;
    }
    pn->y_lo = floor(log10(lo / 1e3));
    pn->y_hi = ceil(log10(hi / 1e3));
    if (pn->y_hi <= pn->y_lo) {
        pn->y_hi = pn->y_lo + 1;
    }
}

/* A round step of about a tenth of 'range'. */
static double
nice_step(double range)
{
    double raw = range / 8;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;

    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void
draw_axes(struct probe_buf *b, const struct panel *pn)
{
    double range = (pn->t_hi - pn->t_lo) / 1e9;
    double step = nice_step(range > 0 ? range : 1e-6);
    int decimals = step >= 1 ? 0 : (int) ceil(-log10(step) - 1e-9);
    double first = ceil(((pn->t_lo - pn->t0) / 1e9) / step - 1e-9) * step;

    probe_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                     "height=\"%.1f\" fill=\"#fafafa\" stroke=\"#999\"/>\n",
                     pn->x, pn->y, pn->w, pn->h);

    /* Decades of RTT. */
    for (double d = pn->y_lo; d <= pn->y_hi + 1e-9; d++) {
        double y = px_y(pn, (int64_t) llround(pow(10, d) * 1e3));
        char label[32];

        format_duration(label, sizeof label, pow(10, d));
        probe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                         "y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                         pn->x, y, pn->x + pn->w, y);
        probe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" "
                         "text-anchor=\"end\">%s</text>\n",
                         pn->x - 6, y + 4, label);
    }
    probe_buf_printf(b, "<text transform=\"translate(%.1f,%.1f) "
                     "rotate(-90)\" text-anchor=\"middle\">round-trip "
                     "time</text>\n", pn->x - 62, pn->y + pn->h / 2);

    /* Time since the first probe. */
    for (double t = first; ; t += step) {
        int64_t abs_t = pn->t0 + (int64_t) llround(t * 1e9);
        double x;

        if (abs_t > pn->t_hi) {
            break;
        }
        x = px_x(pn, abs_t);
        if (fabs(t) < step / 1e6) {
            t = 0;              /* Not "-0.0". */
        }
        probe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                         "y2=\"%.1f\" stroke=\"#eee\"/>\n",
                         x, pn->y, x, pn->y + pn->h);
        probe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" "
                         "text-anchor=\"middle\">%.*f</text>\n",
                         x, pn->y + pn->h + 16, decimals, t);
    }
    probe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" "
                     "text-anchor=\"middle\">probe send time, seconds "
                     "since the first probe%s</text>\n",
                     pn->x + pn->w / 2, pn->y + pn->h + 34,
                     pn->zoom ? " (zoom on the longest gap)" : "");
}

static void
draw_gap(struct probe_buf *b, const struct panel *pn,
         const struct probe_gap *gap, bool longest)
{
    int64_t lo = gap->start_ns > pn->t_lo ? gap->start_ns : pn->t_lo;
    int64_t hi = gap->end_ns < pn->t_hi ? gap->end_ns : pn->t_hi;
    double x0, x1;

    if (lo > hi) {
        return;
    }
    x0 = px_x(pn, lo);
    x1 = px_x(pn, hi);
    if (x1 - x0 < 2) {
        x0 = (x0 + x1) / 2 - 1;
        x1 = x0 + 2;
    }
    probe_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                     "height=\"%.1f\" fill=\"%s\" fill-opacity=\"%s\"/>\n",
                     x0, pn->y, x1 - x0, pn->h,
                     longest ? COLOR_LOST : "#777777",
                     longest ? "0.18" : "0.15");
    if (longest) {
        probe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" "
                         "font-weight=\"bold\">longest gap %.3f ms%s"
                         "</text>\n",
                         x1 + 4 > pn->x + pn->w - 190 ? x0 - 190 : x1 + 4,
                         pn->y + 14, COLOR_LOST,
                         (gap->end_ns - gap->start_ns) / 1e6,
                         gap->open ? " (open)" : "");
    }
}

/* Draws one dot per pixel for the answered probes in the window, those
 * answered once in 'color' if '!dups', else the duplicated ones. */
static void
draw_points(struct probe_buf *b, const struct panel *pn,
            const struct probe_svg_input *in, bool dups)
{
    int w = (int) pn->w + 1, h = (int) pn->h + 1;
    unsigned char *seen = probe_xcalloc((size_t) w * h, 1);
    size_t n = 0;

    probe_buf_printf(b, "<path fill=\"none\" stroke=\"%s\" "
                     "stroke-width=\"2.4\" stroke-linecap=\"round\" d=\"",
                     dups ? COLOR_DUP : COLOR_RTT);
    for (size_t i = 0; i < in->n_samples; i++) {
        const struct probe_sample *s = &in->samples[i];
        double x, y;
        int ix, iy;

        if (!s->n_replies || (s->n_replies > 1) != dups
            || !in_window(pn, s->send_ns)) {
            continue;
        }
        x = px_x(pn, s->send_ns);
        y = px_y(pn, s->recv_ns - s->send_ns);
        ix = (int) (x - pn->x);
        iy = (int) (y - pn->y);
        if (ix < 0 || ix >= w || iy < 0 || iy >= h
            || seen[(size_t) iy * w + ix]) {
            continue;
        }
        seen[(size_t) iy * w + ix] = 1;
        probe_buf_printf(b, "%sM%.1f %.1fh0", n++ % 8 ? "" : "\n", x, y);
    }
    probe_buf_puts(b, "\"/>\n");
    free(seen);
}

static void
draw_lost(struct probe_buf *b, const struct panel *pn,
          const struct probe_svg_input *in)
{
    int w = (int) pn->w + 1;
    unsigned char *seen = probe_xcalloc(w, 1);
    size_t n = 0;

    probe_buf_printf(b, "<path stroke=\"%s\" stroke-width=\"1\" d=\"",
                     COLOR_LOST);
    for (size_t i = 0; i < in->n_samples; i++) {
        const struct probe_sample *s = &in->samples[i];
        int ix;

        if (s->n_replies || !in_window(pn, s->send_ns)) {
            continue;
        }
        ix = (int) (px_x(pn, s->send_ns) - pn->x);
        if (ix < 0 || ix >= w || seen[ix]) {
            continue;
        }
        seen[ix] = 1;
        probe_buf_printf(b, "%sM%.1f %.1fv-10", n++ % 8 ? "" : "\n",
                         pn->x + ix + 0.5, pn->y + pn->h);
    }
    probe_buf_puts(b, "\"/>\n");
    free(seen);
}

static void
draw_events(struct probe_buf *b, const struct panel *pn,
            const struct probe_svg_input *in)
{
    for (size_t i = 0; i < in->n_events; i++) {
        const struct probe_event *e = &in->events[i];
        double x;

        if (!in_window(pn, e->t_ns)) {
            continue;
        }
        x = px_x(pn, e->t_ns);
        probe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                         "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\" "
                         "stroke-dasharray=\"5,3\"/>\n",
                         x, pn->y, x, pn->y + pn->h, COLOR_EVENT);
        probe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" "
                         "font-weight=\"bold\">%zu</text>\n",
                         x + 3, pn->y + pn->h - 14, COLOR_EVENT, i + 1);
        if (pn->zoom) {
            probe_buf_printf(b, "<text transform=\"translate(%.1f,%.1f) "
                             "rotate(90)\" fill=\"%s\" font-size=\"11\">",
                             x + 4, pn->y + 22, COLOR_EVENT);
            probe_svg_escape(b, e->label, 40);
            probe_buf_puts(b, "</text>\n");
        }
    }
}

static void
draw_panel(struct probe_buf *b, struct panel *pn,
           const struct probe_svg_input *in)
{
    const struct probe_stats_result *r = in->result;

    panel_set_y_range(pn, in);
    draw_axes(b, pn);
    probe_buf_printf(b, "<clipPath id=\"clip%d\"><rect x=\"%.1f\" "
                     "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
                     "</clipPath>\n<g clip-path=\"url(#clip%d)\">\n",
                     pn->id, pn->x, pn->y, pn->w, pn->h, pn->id);
    for (size_t i = r->n_gaps; i-- > 1;) {
        const struct probe_gap *gap = &r->gaps[i];

        if (gap->end_ns - gap->start_ns
            >= OUTAGE_INTERVALS * r->interval_ns) {
            draw_gap(b, pn, gap, false);
        }
    }
    if (r->n_gaps) {
        draw_gap(b, pn, &r->gaps[0], true);
    }
    draw_points(b, pn, in, false);
    draw_points(b, pn, in, true);
    draw_lost(b, pn, in);
    draw_events(b, pn, in);
    probe_buf_puts(b, "</g>\n");
}

static void
draw_legend(struct probe_buf *b, double y)
{
    double x = LEFT;

    probe_buf_printf(b, "<g font-size=\"12\">\n"
                     "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                     "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">answered"
                     "</text>\n", x, y - 4, COLOR_RTT, x + 8, y);
    x += 85;
    probe_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                     "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">duplicated"
                     "</text>\n", x, y - 4, COLOR_DUP, x + 8, y);
    x += 95;
    probe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                     "y2=\"%.1f\" stroke=\"%s\"/><text x=\"%.1f\" "
                     "y=\"%.1f\">lost</text>\n",
                     x, y + 1, x, y - 9, COLOR_LOST, x + 6, y);
    x += 50;
    probe_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" "
                     "height=\"10\" fill=\"%s\" fill-opacity=\"0.3\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\">longest reply gap"
                     "</text>\n", x, y - 9, COLOR_LOST, x + 16, y);
    x += 135;
    probe_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" "
                     "height=\"10\" fill=\"#777\" fill-opacity=\"0.3\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\">other gaps of %d+ "
                     "intervals</text>\n", x, y - 9, x + 16, y,
                     OUTAGE_INTERVALS);
    x += 190;
    probe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                     "y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"3,2\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\">event</text>\n</g>\n",
                     x, y + 1, x, y - 10, COLOR_EVENT, x + 6, y);
}

/* Returns the SVG document for 'in', which the caller must free. */
char *
probe_svg_render(const struct probe_svg_input *in)
{
    const struct probe_stats_result *r = in->result;
    const struct probe_gap *longest = r->n_gaps ? &r->gaps[0] : NULL;
    bool zoom = (longest && r->interval_ns > 0
                 && (longest->end_ns - longest->start_ns
                     >= OUTAGE_INTERVALS * r->interval_ns));
    size_t n_lines = in->n_events < MAX_EVENT_LINES
                     ? in->n_events : MAX_EVENT_LINES + 1;
    struct panel main_pn, zoom_pn;
    struct probe_buf b;
    double y, height;
    int64_t t0 = r->first_send_ns != PROBE_STATS_NONE ? r->first_send_ns : 0;
    int64_t t_end = t0;

    /* The window: every send, reply and gap of the run. */
    for (size_t i = 0; i < in->n_samples; i++) {
        const struct probe_sample *s = &in->samples[i];

        t_end = s->send_ns > t_end ? s->send_ns : t_end;
        if (s->n_replies && s->recv_ns > t_end) {
            t_end = s->recv_ns;
        }
    }
    for (size_t i = 0; i < r->n_gaps; i++) {
        t_end = r->gaps[i].end_ns > t_end ? r->gaps[i].end_ns : t_end;
    }
    if (t_end <= t0) {
        t_end = t0 + PROBE_NS_PER_MS;
    }

    memset(&main_pn, 0, sizeof main_pn);
    main_pn.id = 1;
    main_pn.x = LEFT;
    main_pn.y = TOP;
    main_pn.w = PLOT_W;
    main_pn.h = MAIN_H;
    main_pn.t_lo = t0;
    main_pn.t_hi = t_end;
    main_pn.t0 = t0;
    y = TOP + MAIN_H + 50;

    if (zoom) {
        int64_t len = longest->end_ns - longest->start_ns;
        int64_t pad = len / 2 > 2 * PROBE_NS_PER_MS ? len / 2
                      : 2 * PROBE_NS_PER_MS;

        zoom_pn = main_pn;
        zoom_pn.id = 2;
        zoom_pn.y = y + ZOOM_GAP - 40;
        zoom_pn.h = ZOOM_H;
        zoom_pn.t_lo = longest->start_ns - pad;
        zoom_pn.t_hi = longest->end_ns + pad;
        zoom_pn.zoom = true;
        y = zoom_pn.y + ZOOM_H + 50;
    }
    height = y + (n_lines ? (n_lines + 1) * LINE_H : 0) + 10;

    probe_buf_init(&b);
    probe_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                     "width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
                     "font-family=\"DejaVu Sans, Helvetica, Arial, "
                     "sans-serif\" font-size=\"12\">\n"
                     "<rect width=\"100%%\" height=\"100%%\" "
                     "fill=\"white\"/>\n", WIDTH, height, WIDTH, height);
    probe_buf_printf(&b, "<text x=\"%d\" y=\"22\" font-size=\"16\" "
                     "font-weight=\"bold\">", LEFT);
    probe_svg_escape(&b, in->title ? in->title : "ovn-lm-probe", 120);
    probe_buf_puts(&b, "</text>\n");
    if (in->subtitle) {
        probe_buf_printf(&b, "<text x=\"%d\" y=\"42\">", LEFT);
        probe_svg_escape(&b, in->subtitle, 170);
        probe_buf_puts(&b, "</text>\n");
    }
    draw_legend(&b, 64);

    draw_panel(&b, &main_pn, in);
    if (zoom) {
        draw_panel(&b, &zoom_pn, in);
    }

    if (n_lines) {
        probe_buf_printf(&b, "<text x=\"%d\" y=\"%.1f\" "
                         "font-weight=\"bold\">events</text>\n", LEFT, y);
        for (size_t i = 0; i < in->n_events && i < MAX_EVENT_LINES; i++) {
            const struct probe_event *e = &in->events[i];

            y += LINE_H;
            probe_buf_printf(&b, "<text x=\"%d\" y=\"%.1f\"><tspan "
                             "fill=\"%s\" font-weight=\"bold\">%zu"
                             "</tspan>  %+.6f s  ", LEFT, y, COLOR_EVENT,
                             i + 1, (e->t_ns - t0) / 1e9);
            probe_svg_escape(&b, e->label, 120);
            probe_buf_puts(&b, "</text>\n");
        }
        if (in->n_events > MAX_EVENT_LINES) {
            y += LINE_H;
            probe_buf_printf(&b, "<text x=\"%d\" y=\"%.1f\">... and %zu "
                             "more</text>\n", LEFT, y,
                             in->n_events - MAX_EVENT_LINES);
        }
    }
    probe_buf_puts(&b, "</svg>\n");
    return probe_buf_steal(&b);
}
