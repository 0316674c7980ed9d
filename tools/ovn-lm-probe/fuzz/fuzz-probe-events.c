/*
 * fuzz-probe-events.c: ovn-lm-probe's events file parser, and the SVG
 * escaping that the labels go through.
 *
 * Input: an events file.  Whatever parses is also drawn on the timeline
 * of a tiny run; the raw input is also escaped as a label would be.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe-events.h"
#include "probe-stats.h"
#include "probe-svg.h"
#include "probe-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
draw(const struct probe_events *events)
{
    struct probe_stats *stats = probe_stats_create(1000000);
    int64_t t0 = events->n ? events->events[0].t_ns : 0;
    struct probe_stats_result r;
    struct probe_svg_input in;
    size_t n;

    for (size_t i = 0; i < 4; i++) {
        probe_stats_sent(stats, i, t0 + i * 1000000);
        if (i != 2) {
            probe_stats_reply(stats, i, t0 + i * 1000000 + 50000);
        }
    }
    probe_stats_finish(stats, t0 + 4000000, 3, &r);
    memset(&in, 0, sizeof in);
    in.samples = probe_stats_samples(stats, &n);
    in.n_samples = n;
    in.result = &r;
    in.events = events->events;
    in.n_events = events->n;
    free(probe_svg_render(&in));
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct probe_events events;
    struct probe_buf buf;
    char *text = malloc(size + 1);
    char *error = NULL;

    memcpy(text, data, size);
    text[size] = '\0';

    if (!probe_events_parse((const char *) data, size, &events, &error)) {
        draw(&events);
        probe_events_destroy(&events);
    } else {
        free(error);
    }

    probe_buf_init(&buf);
    probe_svg_escape(&buf, text, size % 64);
    probe_svg_escape(&buf, text, SIZE_MAX);
    probe_buf_destroy(&buf);
    free(text);
    return 0;
}
