/*
 * probe-report.h: what ovn-lm-probe tells about a run.
 *
 * A human summary, a JSON document with the same figures and more, the
 * raw samples as CSV and the timeline as SVG or PNG.  The JSON document's
 * members are described in ovn-lm-probe(1); integers are exact (cJSON's
 * doubles would round Unix nanoseconds), times in milliseconds carry
 * microseconds.
 */
#ifndef PROBE_REPORT_H
#define PROBE_REPORT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "probe-events.h"
#include "probe-run.h"
#include "probe-stats.h"

struct probe_report {
    const char *mode;           /* "udp" or "icmp". */
    const char *target;         /* The address, as text. */
    int port;                   /* UDP only, else -1. */
    double rate_hz;
    size_t payload_len;
    bool interrupted;           /* Stopped by a signal. */
    int realtime;               /* SCHED_FIFO priority asked for, or 0. */
    const struct probe_run_info *info;
    const struct probe_stats_result *result;
    const struct probe_sample *samples;
    size_t n_samples;
    const struct probe_events *events;
    const char *events_error;   /* Why the events file was not read. */
};

void probe_report_text(FILE *, const struct probe_report *);
char *probe_report_json(const struct probe_report *);
int probe_report_raw(const char *file_name, const struct probe_report *);
char *probe_report_svg(const struct probe_report *, const char *title);
int probe_report_png(const char *svg, const char *png_file,
                     char **errorp);
char *probe_report_subtitle(const struct probe_report *);

#endif /* probe-report.h */
