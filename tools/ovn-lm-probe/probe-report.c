/*
 * probe-report.c: what ovn-lm-probe tells about a run.
 */
#include "probe-report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe-net.h"
#include "probe-svg.h"
#include "probe-util.h"

#ifndef OVN_LM_VERSION
#define OVN_LM_VERSION "unknown"
#endif

extern char **environ;

/* A clock step this large during a run deserves a warning: a slewing NTP
 * daemon moves the clock by at most 0.05 % of the run's length. */
#define CLOCK_STEP_WARN_NS (100 * PROBE_NS_PER_US)

struct warnings {
    char **msgs;
    size_t n;
};

static void PROBE_PRINTF_FORMAT(2, 3)
warn(struct warnings *w, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    w->msgs = probe_xreallocarray(w->msgs, w->n + 1, sizeof *w->msgs);
    w->msgs[w->n++] = probe_xvasprintf(format, args);
    va_end(args);
}

static void
warnings_destroy(struct warnings *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->msgs[i]);
    }
    free(w->msgs);
}

static void
collect_warnings(const struct probe_report *rep, struct warnings *w)
{
    const struct probe_run_info *info = rep->info;
    const struct probe_stats_result *r = rep->result;
    int64_t step = info->clock_step_ns;

    memset(w, 0, sizeof *w);
    if (info->rx_ts == PROBE_RX_TS_USER) {
        warn(w, "no kernel receive timestamps: arrival times are read in "
             "user space and include scheduling delays");
    } else if (info->n_rx_user) {
        warn(w, "%llu of %llu replies had no kernel receive timestamp "
             "(user-space time used)",
             (unsigned long long) info->n_rx_user,
             (unsigned long long) info->n_replies);
    }
    if (info->tx_ts == PROBE_TX_TS_USER) {
        warn(w, "no kernel send timestamps: send times are read in user "
             "space just before sendmsg(), which adds its latency to the "
             "round-trip times (not to the gaps)");
    } else if (info->n_tx_kernel < info->n_sent - info->n_send_errors) {
        warn(w, "%llu of %llu probes had no usable kernel send timestamp "
             "(user-space time used; %llu rejected)",
             (unsigned long long) (info->n_sent - info->n_send_errors
                                   - info->n_tx_kernel),
             (unsigned long long) (info->n_sent - info->n_send_errors),
             (unsigned long long) info->n_tx_rejected);
    }
    if (step > CLOCK_STEP_WARN_NS || step < -CLOCK_STEP_WARN_NS) {
        warn(w, "the wall clock moved %+.3f ms against the monotonic clock "
             "during the run (NTP?): kernel timestamps follow the wall "
             "clock, so a gap spanning the step is off by up to that",
             step / 1e6);
    }
    if (info->realtime_error) {
        warn(w, "--realtime: could not make the sender SCHED_FIFO: %s",
             strerror(info->realtime_error));
    }
    if (info->n_slips) {
        warn(w, "the sender fell more than one interval behind its "
             "schedule %llu times (at worst %.3f ms late): the machine is "
             "busy, and probes were missing from the schedule then",
             (unsigned long long) info->n_slips, info->late.max / 1e6);
    }
    if (info->n_send_errors) {
        warn(w, "%llu probes could not be sent (first error: %s); they "
             "count as lost",
             (unsigned long long) info->n_send_errors,
             strerror(info->first_send_error));
    }
    if (r->n_gaps) {
        const struct probe_gap *g = &r->gaps[0];
        int64_t len = g->end_ns - g->start_ns;

        if (g->quiet_ns > 2 * r->interval_ns && g->quiet_ns * 10 > len) {
            warn(w, "the prober itself sent nothing for %.3f ms of the "
                 "longest gap: that part of the gap is the prober's, not "
                 "the path's", g->quiet_ns / 1e6);
        }
        if (g->open) {
            warn(w, "no reply arrived after the longest gap before the run "
                 "ended: its length is a lower bound");
        }
    }
    if (rep->events_error) {
        warn(w, "no events shown: --events %s", rep->events_error);
    }
    if (r->n_sent && !r->n_answered) {
        warn(w, "no probe was answered at all");
    }
    if (r->n_stray) {
        warn(w, "%llu replies named probes never sent",
             (unsigned long long) r->n_stray);
    }
}

/* The time zero of relative times: the first probe sent. */
static int64_t
time_zero(const struct probe_report *rep)
{
    return (rep->result->first_send_ns != PROBE_STATS_NONE
            ? rep->result->first_send_ns : rep->info->start_ns);
}

/* Returns the index of the last event at or before 't', or -1. */
static long
event_before(const struct probe_events *events, int64_t t)
{
    long found = -1;

    for (size_t i = 0; events && i < events->n; i++) {
        if (events->events[i].t_ns <= t) {
            found = i;
        }
    }
    return found;
}

static const char *
mode_name(const struct probe_report *rep)
{
    if (strcmp(rep->mode, "icmp")) {
        return rep->mode;
    }
    return rep->info->icmp_raw ? "icmp (raw socket)" : "icmp (ping socket)";
}

/* Returns the one-line description of the run that tops the picture. */
char *
probe_report_subtitle(const struct probe_report *rep)
{
    const struct probe_stats_result *r = rep->result;
    char start[64], port[24] = "";

    probe_format_utc(time_zero(rep), start, sizeof start);
    if (rep->port >= 0) {
        snprintf(port, sizeof port, " port %d", rep->port);
    }
    return probe_xasprintf("%s %s%s at %g Hz from %s: longest gap %.3f ms, "
                           "lost %llu of %llu, duplicated %llu, reordered "
                           "%llu, rtt p50 %.1f us p99 %.1f us",
                           mode_name(rep), rep->target, port, rep->rate_hz,
                           start,
                           r->n_gaps ? (r->gaps[0].end_ns
                                        - r->gaps[0].start_ns) / 1e6 : 0.0,
                           (unsigned long long) r->n_lost,
                           (unsigned long long) r->n_sent,
                           (unsigned long long) r->n_dup_replies,
                           (unsigned long long) r->n_reordered,
                           r->rtt.p50 / 1e3, r->rtt.p99 / 1e3);
}

static void
print_dist_us(FILE *f, const struct probe_dist *d)
{
    fprintf(f, "min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  "
            "max %.3f", d->min / 1e3, d->p50 / 1e3, d->p90 / 1e3,
            d->p99 / 1e3, d->p999 / 1e3, d->max / 1e3);
}

static void
print_gap_end(FILE *f, const struct probe_report *rep, const char *what,
              int64_t t, int64_t seq, const char *seq_what)
{
    char utc[64];

    probe_format_utc(t, utc, sizeof utc);
    fprintf(f, "  %s %s (%+.6f s", what, utc, (t - time_zero(rep)) / 1e9);
    if (seq >= 0) {
        fprintf(f, ", %s seq %lld", seq_what, (long long) seq);
    }
    fputs(")\n", f);
}

/* Prints the human summary of 'rep' to 'f'. */
void
probe_report_text(FILE *f, const struct probe_report *rep)
{
    const struct probe_run_info *info = rep->info;
    const struct probe_stats_result *r = rep->result;
    int64_t t0 = time_zero(rep);
    struct warnings w;
    char utc[64];

    collect_warnings(rep, &w);
    probe_format_utc(t0, utc, sizeof utc);
    fprintf(f, "ovn-lm-probe: %s %s", mode_name(rep), rep->target);
    if (rep->port >= 0) {
        fprintf(f, " port %d", rep->port);
    }
    fprintf(f, ", %g Hz (every %.3f us), %zu-byte payload\n",
            rep->rate_hz, r->interval_ns / 1e3, rep->payload_len);
    fprintf(f, "  from %s for %.3f s%s\n", utc,
            r->n_sent ? (r->last_send_ns - t0) / 1e9 : 0.0,
            rep->interrupted ? " (interrupted)" : "");
    fprintf(f, "  receive timestamps: %s, %llu/%llu replies\n",
            probe_net_rx_ts_name(info->rx_ts),
            (unsigned long long) (info->n_replies - info->n_rx_user),
            (unsigned long long) info->n_replies);
    fprintf(f, "  send timestamps:    %s, %llu/%llu probes\n\n",
            probe_net_tx_ts_name(info->tx_ts),
            (unsigned long long) info->n_tx_kernel,
            (unsigned long long) info->n_sent);

    fprintf(f, "sent %llu, answered %llu, lost %llu (%.3f%%), duplicated "
            "%llu (%llu probes), reordered %llu\n\n",
            (unsigned long long) r->n_sent,
            (unsigned long long) r->n_answered,
            (unsigned long long) r->n_lost,
            r->n_sent ? 100.0 * r->n_lost / r->n_sent : 0.0,
            (unsigned long long) r->n_dup_replies,
            (unsigned long long) r->n_dup_seqs,
            (unsigned long long) r->n_reordered);

    if (r->n_gaps) {
        const struct probe_gap *g = &r->gaps[0];
        long ev = event_before(rep->events, g->start_ns);

        fprintf(f, "downtime (longest reply gap): %.3f ms%s\n",
                (g->end_ns - g->start_ns) / 1e6,
                g->open ? " or more (no reply after it)" : "");
        print_gap_end(f, rep, "from", g->start_ns, g->seq_before,
                      "last reply before:");
        print_gap_end(f, rep, "to  ", g->end_ns, g->seq_after,
                      "first reply after:");
        if (g->leading) {
            fputs("  (from the first probe sent: no reply had come yet)\n",
                  f);
        }
        if (g->open) {
            fputs("  (to the last probe sent: the run ended first)\n", f);
        }
        fprintf(f, "  probes sent in the gap: %llu, lost %llu%s\n",
                (unsigned long long) g->n_sent,
                (unsigned long long) g->n_lost,
                g->n_sent > 1 && !g->n_lost
                ? " (all answered late: queued, not dropped)" : "");
        if (ev >= 0) {
            fprintf(f, "  after event %ld \"%s\", by %.3f ms\n", ev + 1,
                    rep->events->events[ev].label,
                    (g->start_ns - rep->events->events[ev].t_ns) / 1e6);
        }
    } else {
        fputs("downtime: nothing was sent\n", f);
    }
    fprintf(f, "loss-based view: longest run of lost probes %llu, x "
            "interval = %.3f ms", (unsigned long long) r->loss_run.count,
            r->loss_run.duration_ns / 1e6);
    if (r->loss_run.count) {
        fprintf(f, " (seq %llu-%llu, from %+.6f s)",
                (unsigned long long) r->loss_run.first_seq,
                (unsigned long long) (r->loss_run.first_seq
                                      + r->loss_run.count - 1),
                (r->loss_run.start_ns - t0) / 1e9);
    }
    fputs("\n\n", f);

    fprintf(f, "rtt (us):            ");
    print_dist_us(f, &r->rtt);
    fprintf(f, "\nsend late (us):      ");
    print_dist_us(f, &info->late);
    fprintf(f, "\nsend interval (us):  ");
    print_dist_us(f, &info->interval);
    fprintf(f, "\n  (late: against the schedule, user space; interval: "
            "between send timestamps; %llu schedule slips; %s)\n",
            (unsigned long long) info->n_slips,
            rep->realtime && !info->realtime_error ? "SCHED_FIFO"
            : "SCHED_OTHER");

    if (r->n_gaps > 1) {
        fprintf(f, "\n%zu longest gaps:\n"
                "   # duration ms  from (s)     to (s)       seq before  "
                "seq after  sent   lost\n", r->n_gaps);
        for (size_t i = 0; i < r->n_gaps; i++) {
            const struct probe_gap *g = &r->gaps[i];

            fprintf(f, "%4zu %11.3f  %+.6f  %+.6f  %10lld  %9lld  %5llu  "
                    "%5llu%s%s\n", i + 1, (g->end_ns - g->start_ns) / 1e6,
                    (g->start_ns - t0) / 1e9, (g->end_ns - t0) / 1e9,
                    (long long) g->seq_before, (long long) g->seq_after,
                    (unsigned long long) g->n_sent,
                    (unsigned long long) g->n_lost,
                    g->leading ? "  leading" : "", g->open ? "  open" : "");
        }
    }
    if (rep->events && rep->events->n) {
        fputs("\nevents:\n", f);
        for (size_t i = 0; i < rep->events->n; i++) {
            const struct probe_event *e = &rep->events->events[i];

            fprintf(f, "%4zu  %+.6f s  %s\n", i + 1, (e->t_ns - t0) / 1e9,
                    e->label);
        }
    }
    if (w.n) {
        fputs("\nwarnings:\n", f);
        for (size_t i = 0; i < w.n; i++) {
            fprintf(f, "  - %s\n", w.msgs[i]);
        }
    }
    fflush(f);
    warnings_destroy(&w);
}

/* JSON helpers that keep integers exact and fix decimals. */
static void PROBE_PRINTF_FORMAT(3, 4)
add_raw(cJSON *obj, const char *key, const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    s = probe_xvasprintf(format, args);
    va_end(args);
    if (!cJSON_AddRawToObject(obj, key, s)) {
        abort();
    }
    free(s);
}

static void
add_int(cJSON *obj, const char *key, long long v)
{
    add_raw(obj, key, "%lld", v);
}

static void
add_uint(cJSON *obj, const char *key, unsigned long long v)
{
    add_raw(obj, key, "%llu", v);
}

static cJSON *
add_object(cJSON *obj, const char *key)
{
    cJSON *child = cJSON_AddObjectToObject(obj, key);

    if (!child) {
        abort();
    }
    return child;
}

static void
add_string(cJSON *obj, const char *key, const char *s)
{
    if (!cJSON_AddStringToObject(obj, key, s)) {
        abort();
    }
}

static void
add_bool(cJSON *obj, const char *key, bool b)
{
    if (!cJSON_AddBoolToObject(obj, key, b)) {
        abort();
    }
}

static void
add_time(const struct probe_report *rep, cJSON *obj, const char *key,
         int64_t t)
{
    cJSON *o = add_object(obj, key);
    char utc[64];

    probe_format_utc(t, utc, sizeof utc);
    add_int(o, "unix_ns", t);
    add_string(o, "utc", utc);
    add_raw(o, "rel_s", "%.6f", (t - time_zero(rep)) / 1e9);
}

static void
add_dist_us(cJSON *obj, const char *key, const struct probe_dist *d)
{
    cJSON *o = add_object(obj, key);

    add_uint(o, "n", d->n);
    add_raw(o, "min", "%.3f", d->min / 1e3);
    add_raw(o, "p50", "%.3f", d->p50 / 1e3);
    add_raw(o, "p90", "%.3f", d->p90 / 1e3);
    add_raw(o, "p99", "%.3f", d->p99 / 1e3);
    add_raw(o, "p99_9", "%.3f", d->p999 / 1e3);
    add_raw(o, "max", "%.3f", d->max / 1e3);
    add_raw(o, "mean", "%.3f", d->mean / 1e3);
}

static cJSON *
gap_json(const struct probe_report *rep, const struct probe_gap *g)
{
    cJSON *o = cJSON_CreateObject();
    long ev = event_before(rep->events, g->start_ns);

    if (!o) {
        abort();
    }
    add_raw(o, "duration_ms", "%.3f", (g->end_ns - g->start_ns) / 1e6);
    add_int(o, "duration_ns", g->end_ns - g->start_ns);
    add_time(rep, o, "start", g->start_ns);
    add_time(rep, o, "end", g->end_ns);
    add_int(o, "seq_before", g->seq_before);
    add_int(o, "seq_after", g->seq_after);
    add_bool(o, "leading", g->leading);
    add_bool(o, "open", g->open);
    add_uint(o, "probes_sent", g->n_sent);
    add_uint(o, "probes_lost", g->n_lost);
    add_raw(o, "quiet_ms", "%.3f", g->quiet_ns / 1e6);
    if (ev >= 0) {
        cJSON *e = add_object(o, "after_event");

        add_int(e, "index", ev);
        add_string(e, "label", rep->events->events[ev].label);
        add_raw(e, "ms", "%.3f",
                (g->start_ns - rep->events->events[ev].t_ns) / 1e6);
    }
    return o;
}

/* Returns the JSON report for 'rep', which the caller must free. */
char *
probe_report_json(const struct probe_report *rep)
{
    const struct probe_run_info *info = rep->info;
    const struct probe_stats_result *r = rep->result;
    cJSON *root = cJSON_CreateObject();
    cJSON *o, *array;
    struct warnings w;
    char *s;

    if (!root) {
        abort();
    }
    collect_warnings(rep, &w);
    add_string(root, "tool", "ovn-lm-probe");
    add_string(root, "version", OVN_LM_VERSION);
    add_int(root, "format", 1);
    add_string(root, "mode", rep->mode);
    if (!strcmp(rep->mode, "icmp")) {
        add_string(root, "icmp_socket", info->icmp_raw ? "raw" : "ping");
    }
    add_string(root, "target", rep->target);
    if (rep->port >= 0) {
        add_int(root, "port", rep->port);
    }
    add_raw(root, "rate_hz", "%.10g", rep->rate_hz);
    add_int(root, "interval_ns", r->interval_ns);
    add_uint(root, "payload_bytes", rep->payload_len);
    add_time(rep, root, "start", time_zero(rep));
    add_time(rep, root, "end", r->n_sent ? r->last_send_ns
                                         : time_zero(rep));
    add_bool(root, "interrupted", rep->interrupted);

    o = add_object(root, "timestamps");
    add_string(o, "rx", probe_net_rx_ts_name(info->rx_ts));
    add_string(o, "tx", probe_net_tx_ts_name(info->tx_ts));
    add_uint(o, "rx_kernel", info->n_replies - info->n_rx_user);
    add_uint(o, "rx_user", info->n_rx_user);
    add_uint(o, "tx_kernel", info->n_tx_kernel);
    add_uint(o, "tx_rejected", info->n_tx_rejected);
    add_int(o, "clock_step_ns", info->clock_step_ns);

    add_uint(root, "sent", r->n_sent);
    add_uint(root, "received", r->n_answered);
    add_uint(root, "replies", info->n_replies);
    add_uint(root, "lost", r->n_lost);
    add_raw(root, "loss_pct", "%.3f",
            r->n_sent ? 100.0 * r->n_lost / r->n_sent : 0.0);
    add_uint(root, "duplicated", r->n_dup_replies);
    add_uint(root, "duplicated_probes", r->n_dup_seqs);
    add_uint(root, "reordered", r->n_reordered);
    add_uint(root, "stray", r->n_stray);
    add_uint(root, "foreign", info->n_foreign);
    add_uint(root, "send_errors", info->n_send_errors);
    if (info->n_send_errors) {
        add_string(root, "first_send_error",
                   strerror(info->first_send_error));
    }

    if (r->n_gaps) {
        cJSON_AddItemToObject(root, "downtime", gap_json(rep, &r->gaps[0]));
    } else if (!cJSON_AddNullToObject(root, "downtime")) {
        abort();
    }
    array = cJSON_AddArrayToObject(root, "gaps");
    for (size_t i = 0; array && i < r->n_gaps; i++) {
        cJSON_AddItemToArray(array, gap_json(rep, &r->gaps[i]));
    }

    o = add_object(root, "loss_run");
    add_uint(o, "count", r->loss_run.count);
    add_raw(o, "duration_ms", "%.3f", r->loss_run.duration_ns / 1e6);
    add_int(o, "duration_ns", r->loss_run.duration_ns);
    if (r->loss_run.count) {
        add_uint(o, "first_seq", r->loss_run.first_seq);
        add_time(rep, o, "start", r->loss_run.start_ns);
    }

    add_dist_us(root, "rtt_us", &r->rtt);
    o = add_object(root, "send");
    add_dist_us(o, "late_us", &info->late);
    add_dist_us(o, "interval_us", &info->interval);
    add_uint(o, "slips", info->n_slips);
    add_int(o, "realtime_priority",
            rep->realtime && !info->realtime_error ? rep->realtime : 0);

    array = cJSON_AddArrayToObject(root, "events");
    for (size_t i = 0; array && rep->events && i < rep->events->n; i++) {
        const struct probe_event *e = &rep->events->events[i];
        cJSON *ev = cJSON_CreateObject();

        if (!ev) {
            abort();
        }
        add_raw(ev, "t", "%lld.%09lld",
                (long long) (e->t_ns / PROBE_NS_PER_SEC),
                (long long) (e->t_ns % PROBE_NS_PER_SEC));
        add_raw(ev, "rel_s", "%.6f", (e->t_ns - time_zero(rep)) / 1e9);
        add_string(ev, "label", e->label);
        cJSON_AddItemToArray(array, ev);
    }
    array = cJSON_AddArrayToObject(root, "warnings");
    for (size_t i = 0; array && i < w.n; i++) {
        cJSON *msg = cJSON_CreateString(w.msgs[i]);

        if (!msg) {
            abort();
        }
        cJSON_AddItemToArray(array, msg);
    }

    s = cJSON_Print(root);
    if (!s) {
        abort();
    }
    cJSON_Delete(root);
    warnings_destroy(&w);
    return s;
}

/* Writes the raw samples of 'rep' to 'file_name' ("-" for standard
 * output) as CSV: seq, send_ns, recv_ns, rtt_us, dup, with Unix
 * nanoseconds, empty recv_ns and rtt_us for a lost probe, and in 'dup' the
 * number of replies beyond the first.  Returns 0 or a positive errno. */
int
probe_report_raw(const char *file_name, const struct probe_report *rep)
{
    bool to_stdout = !strcmp(file_name, "-");
    FILE *f = to_stdout ? stdout : fopen(file_name, "we");
    int error = 0;

    if (!f) {
        return errno;
    }
    fputs("seq,send_ns,recv_ns,rtt_us,dup\n", f);
    for (size_t i = 0; i < rep->n_samples; i++) {
        const struct probe_sample *s = &rep->samples[i];

        if (s->n_replies) {
            int64_t rtt = s->recv_ns - s->send_ns;

            fprintf(f, "%zu,%lld,%lld,%s%lld.%03lld,%u\n", i,
                    (long long) s->send_ns, (long long) s->recv_ns,
                    rtt < 0 ? "-" : "", llabs(rtt) / 1000,
                    llabs(rtt) % 1000, s->n_replies - 1);
        } else {
            fprintf(f, "%zu,%lld,,,0\n", i, (long long) s->send_ns);
        }
    }
    if (ferror(f)) {
        error = EIO;
    }
    if (to_stdout ? fflush(f) : fclose(f)) {
        error = error ? error : errno;
    }
    return error;
}

/* Returns the SVG timeline of 'rep', titled 'title' (NULL for the
 * default), which the caller must free. */
char *
probe_report_svg(const struct probe_report *rep, const char *title)
{
    struct probe_svg_input in;
    char *subtitle = probe_report_subtitle(rep);
    char *svg;

    memset(&in, 0, sizeof in);
    in.samples = rep->samples;
    in.n_samples = rep->n_samples;
    in.result = rep->result;
    in.events = rep->events ? rep->events->events : NULL;
    in.n_events = rep->events ? rep->events->n : 0;
    in.title = title ? title : "ovn-lm-probe timeline";
    in.subtitle = subtitle;
    svg = probe_svg_render(&in);
    free(subtitle);
    return svg;
}

/* Converts 'svg' into the PNG file 'png_file' with rsvg-convert (Debian
 * package librsvg2-bin), if it is installed.  Returns 0, or a positive
 * errno value and an error message in '*errorp' that the caller must
 * free. */
int
probe_report_png(const char *svg, const char *png_file, char **errorp)
{
    char *tmp = probe_xasprintf("%s.svg.tmp%ld", png_file, (long) getpid());
    char *argv[] = { "rsvg-convert", "--format", "png", "--output",
                     (char *) png_file, tmp, NULL };
    int error, status;
    pid_t pid;

    error = probe_write_file(tmp, svg, strlen(svg));
    if (error) {
        *errorp = probe_xasprintf("%s: %s", tmp, strerror(error));
        free(tmp);
        return error;
    }
    error = posix_spawnp(&pid, "rsvg-convert", NULL, NULL, argv, environ);
    if (error) {
        *errorp = probe_xasprintf("--png needs rsvg-convert (Debian: "
                                  "apt-get install librsvg2-bin): %s",
                                  strerror(error));
    } else if (waitpid(pid, &status, 0) < 0) {
        error = errno;
        *errorp = probe_xasprintf("waitpid: %s", strerror(error));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        error = EIO;
        *errorp = probe_xasprintf("rsvg-convert failed to write %s",
                                  png_file);
    }
    unlink(tmp);
    free(tmp);
    return error;
}
