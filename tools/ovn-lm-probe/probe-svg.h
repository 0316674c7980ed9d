/*
 * probe-svg.h: ovn-lm-probe's timeline as an SVG picture.
 *
 * The top panel shows the whole run: the round-trip time of each answered
 * probe against the time it was sent (log scale; one dot per pixel, so
 * that a long run at 10 kHz stays a small file), lost probes as red ticks
 * along the bottom, duplicated ones in orange, the longest reply gap
 * shaded red and other long gaps grey, and each migration event as a
 * numbered vertical line.  If the longest gap is an outage (at least five
 * probe intervals), a second panel zooms in on it.  The events are listed
 * below, with their times relative to the first probe.
 */
#ifndef PROBE_SVG_H
#define PROBE_SVG_H 1

#include <stddef.h>
#include <stdint.h>

#include "probe-events.h"
#include "probe-stats.h"
#include "probe-util.h"

struct probe_svg_input {
    const struct probe_sample *samples;
    size_t n_samples;
    const struct probe_stats_result *result;
    const struct probe_event *events;
    size_t n_events;
    const char *title;          /* Top line, or NULL. */
    const char *subtitle;       /* Second line, or NULL. */
};

char *probe_svg_render(const struct probe_svg_input *);
void probe_svg_escape(struct probe_buf *, const char *, size_t max_chars);

#endif /* probe-svg.h */
