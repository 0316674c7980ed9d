/*
 * probe-events.c: migration events to mark on ovn-lm-probe's timeline.
 */
#include "probe-events.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe-util.h"

/* Times after this (year 2242) are certainly mistakes, e.g. milliseconds
 * given as seconds, and would overflow nanoseconds in int64_t soon. */
#define MAX_UNIX_SECONDS 8589934592.0

/* Returns the 1-based line of 'text' at which 'offset' lies. */
static size_t
line_of(const char *text, size_t offset)
{
    size_t line = 1;

    for (size_t i = 0; i < offset; i++) {
        line += text[i] == '\n';
    }
    return line;
}

static size_t
skip_space(const char *text, size_t len, size_t pos)
{
    while (pos < len && (text[pos] == ' ' || text[pos] == '\t'
                         || text[pos] == '\n' || text[pos] == '\r')) {
        pos++;
    }
    return pos;
}

/* Converts event object 'item' into '*event'.  Returns NULL or an error
 * message, naming the event as 'where', that the caller must free. */
static char *
parse_event(const cJSON *item, const char *where, struct probe_event *event)
{
    const cJSON *t, *label;
    double sec, whole;

    if (!cJSON_IsObject(item)) {
        return probe_xasprintf("%s: an event must be a JSON object", where);
    }
    t = cJSON_GetObjectItemCaseSensitive(item, "t");
    if (!t) {
        return probe_xasprintf("%s: \"t\" (Unix time in seconds) is "
                               "missing", where);
    }
    if (!cJSON_IsNumber(t)) {
        return probe_xasprintf("%s: \"t\" must be a number", where);
    }
    sec = t->valuedouble;
    if (!isfinite(sec) || sec <= 0 || sec >= MAX_UNIX_SECONDS) {
        return probe_xasprintf("%s: \"t\" %.17g is not a Unix time in "
                               "seconds", where, sec);
    }
    label = cJSON_GetObjectItemCaseSensitive(item, "label");
    if (label && !cJSON_IsNull(label) && !cJSON_IsString(label)) {
        return probe_xasprintf("%s: \"label\" must be a string", where);
    }
    if (cJSON_IsString(label)
        && strlen(label->valuestring) > PROBE_EVENTS_MAX_LABEL) {
        return probe_xasprintf("%s: \"label\" is longer than %d bytes",
                               where, PROBE_EVENTS_MAX_LABEL);
    }

    /* Whole seconds and the fraction separately, so that the fraction
     * keeps all the precision the double has. */
    whole = floor(sec);
    event->t_ns = ((int64_t) whole * PROBE_NS_PER_SEC
                   + llround((sec - whole) * 1e9));
    event->label = probe_xstrdup(cJSON_IsString(label)
                                 ? label->valuestring : "");
    return NULL;
}

static int
compare_events(const void *a_, const void *b_)
{
    const struct probe_event *a = a_;
    const struct probe_event *b = b_;

    return a->t_ns < b->t_ns ? -1 : a->t_ns > b->t_ns;
}

static char *
add_event(struct probe_events *events, const cJSON *item, const char *where)
{
    struct probe_event event;
    char *error;

    if (events->n >= PROBE_EVENTS_MAX) {
        return probe_xasprintf("%s: more than %d events", where,
                               PROBE_EVENTS_MAX);
    }
    error = parse_event(item, where, &event);
    if (!error) {
        events->events = probe_xreallocarray(events->events, events->n + 1,
                                             sizeof *events->events);
        events->events[events->n++] = event;
    }
    return error;
}

/* Parses the 'len' bytes of 'text' as an events file (see probe-events.h)
 * into '*eventsp'.  Returns 0, or EINVAL and an error message in '*errorp'
 * that the caller must free; '*eventsp' is left alone on failure.  An
 * empty file (or only white space) has no events. */
int
probe_events_parse(const char *text, size_t len,
                   struct probe_events *eventsp, char **errorp)
{
    struct probe_events events = { NULL, 0 };
    size_t pos = skip_space(text, len, 0);
    size_t index = 0;
    char *error = NULL;
    bool array = false;

    while (pos < len && !error) {
        const char *end = NULL;
        cJSON *json;
        char where[64];

        json = cJSON_ParseWithLengthOpts(text + pos, len - pos, &end, 0);
        if (!json) {
            size_t at = (end && end >= text + pos
                         ? (size_t) (end - text) : pos);

            error = probe_xasprintf("line %zu: not valid JSON",
                                    line_of(text, at < len ? at : len));
            break;
        }
        if (cJSON_IsArray(json)) {
            const cJSON *item;

            if (index) {
                error = probe_xasprintf("line %zu: an array of events must "
                                        "be the only value in the file",
                                        line_of(text, pos));
            }
            cJSON_ArrayForEach (item, json) {
                if (error) {
                    break;
                }
                snprintf(where, sizeof where, "event %zu", index++);
                error = add_event(&events, item, where);
            }
            array = true;
        } else if (array) {
            error = probe_xasprintf("line %zu: an array of events must be "
                                    "the only value in the file",
                                    line_of(text, pos));
        } else {
            snprintf(where, sizeof where, "line %zu (event %zu)",
                     line_of(text, pos), index++);
            error = add_event(&events, json, where);
        }
        cJSON_Delete(json);
        pos = skip_space(text, len, end - text);
        if (array && !error && pos < len) {
            error = probe_xasprintf("line %zu: an array of events must be "
                                    "the only value in the file",
                                    line_of(text, pos));
        }
    }

    if (error) {
        probe_events_destroy(&events);
        *errorp = error;
        return EINVAL;
    }
    if (events.n) {
        qsort(events.events, events.n, sizeof *events.events,
              compare_events);
    }
    *eventsp = events;
    return 0;
}

/* Reads the events file 'file_name' into '*eventsp'.  Returns 0, or a
 * positive errno value and an error message in '*errorp' that the caller
 * must free; '*eventsp' is left alone on failure. */
int
probe_events_read(const char *file_name, struct probe_events *eventsp,
                  char **errorp)
{
    char *text, *error;
    size_t len;
    int retval;

    retval = probe_read_file(file_name, PROBE_EVENTS_MAX_FILE, &text, &len);
    if (retval) {
        *errorp = probe_xasprintf("%s: %s", file_name,
                                  retval == EFBIG ? "file too large"
                                  : strerror(retval));
        return retval;
    }
    retval = probe_events_parse(text, len, eventsp, &error);
    if (retval) {
        *errorp = probe_xasprintf("%s: %s", file_name, error);
        free(error);
    }
    free(text);
    return retval;
}

/* Frees the events in 'events' and empties it (NULL is fine). */
void
probe_events_destroy(struct probe_events *events)
{
    if (events) {
        for (size_t i = 0; i < events->n; i++) {
            free(events->events[i].label);
        }
        free(events->events);
        events->events = NULL;
        events->n = 0;
    }
}
