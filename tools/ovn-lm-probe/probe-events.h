/*
 * probe-events.h: migration events to mark on ovn-lm-probe's timeline.
 *
 * An events file is either a JSON array of event objects or a sequence of
 * event objects (JSON lines; any white space between objects will do):
 *
 *     [{"t": 1732228201.123456, "label": "duplication on"},
 *      {"t": 1732228201.180000, "label": "port claimed on chassis-2"}]
 *
 *     {"t": 1732228201.123456, "label": "duplication on"}
 *     {"t": 1732228201.180000, "label": "port claimed on chassis-2"}
 *
 * "t" is a Unix time in seconds, a JSON number (a fraction gives sub-second
 * precision; a double holds about a quarter of a microsecond at today's
 * times).  "label" is a string and may be left out.  Other members are
 * ignored, so that producers can add their own.  Events are sorted by
 * time.
 */
#ifndef PROBE_EVENTS_H
#define PROBE_EVENTS_H 1

#include <stddef.h>
#include <stdint.h>

/* Most events and longest label taken, to keep a bad file from costing
 * the SVG renderer much. */
#define PROBE_EVENTS_MAX 10000
#define PROBE_EVENTS_MAX_LABEL 1024

/* Largest events file read. */
#define PROBE_EVENTS_MAX_FILE (16 * 1024 * 1024)

struct probe_event {
    int64_t t_ns;               /* Unix time in nanoseconds. */
    char *label;                /* Never NULL, possibly "". */
};

struct probe_events {
    struct probe_event *events; /* Sorted by 't_ns'. */
    size_t n;
};

int probe_events_parse(const char *text, size_t len,
                       struct probe_events *, char **errorp);
int probe_events_read(const char *file_name, struct probe_events *,
                      char **errorp);
void probe_events_destroy(struct probe_events *);

#endif /* probe-events.h */
