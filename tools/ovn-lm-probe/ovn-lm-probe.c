/*
 * ovn-lm-probe: measures the downtime of a path during a live migration.
 *
 * This file only parses the command line, enters the network namespace,
 * handles signals and wires the modules together: probe-run.c sends and
 * receives, probe-stats.c does the accounting, probe-report.c and
 * probe-svg.c tell the result, probe-responder.c is the other end.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "probe-events.h"
#include "probe-net.h"
#include "probe-packet.h"
#include "probe-report.h"
#include "probe-responder.h"
#include "probe-run.h"
#include "probe-stats.h"
#include "probe-util.h"

#ifndef OVN_LM_VERSION
#define OVN_LM_VERSION "unknown"
#endif

#define DEFAULT_PORT 7471
#define DEFAULT_RATE 1000.0
#define DEFAULT_WAIT_MS 500
#define DEFAULT_SPIN_US 50
#define DEFAULT_GAPS 5
#define DEFAULT_PAUSE_MS 50
#define MAX_RATE 1e6

/* Exit statuses. */
enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,           /* Could not measure, or not all of it. */
    EXIT_USAGE = 2,
};

struct options {
    bool responder;
    enum probe_mode mode;
    const char *target;
    double rate_hz;
    double duration_s;          /* 0: none. */
    uint64_t count;             /* 0: none. */
    int port;
    size_t size;
    const char *bind;
    int wait_ms;
    int spin_us;
    int realtime;
    enum probe_rx_ts rx_ts;
    enum probe_tx_ts tx_ts;
    const char *netns;
    const char *json_file;
    const char *raw_file;
    const char *svg_file;
    const char *png_file;
    const char *events_file;
    const char *title;
    size_t n_gaps;
    bool quiet;
    bool verbose;

    /* Responder test options. */
    bool dup;
    double pause_after_s;       /* Negative: none. */
    double pause_ms;
};

static void
usage(void)
{
    printf("\
Usage: ovn-lm-probe [OPTIONS] TARGET\n\
       ovn-lm-probe --responder [OPTIONS]\n\
Measures how long the path to TARGET (an IPv4 or IPv6 address) is down,\n\
e.g. while the workload behind it live-migrates: the longest time between\n\
two replies, with kernel timestamps, plus loss, duplicates, reordering and\n\
round-trip times.  See ovn-lm-probe(1).\n\
\n\
Probing:\n\
  -m, --mode=udp|icmp     UDP to an ovn-lm-probe --responder (default), or\n\
                          ICMP echo, which any host answers\n\
  -r, --rate=HZ           probes per second (default %.0f, at most %.0f)\n\
  -d, --duration=S        send for S seconds (rate x S probes); default:\n\
                          until SIGINT or SIGTERM\n\
  -c, --count=N           send N probes\n\
  -p, --port=PORT         UDP port of the responder (default %d)\n\
  -s, --size=BYTES        payload size, %d to %d (default %d)\n\
  -b, --bind=ADDR         send from address ADDR\n\
  -w, --wait=MS           after the last probe, wait MS ms for replies\n\
                          (default %d)\n\
      --spin-us=US        spin instead of sleeping for the last US us\n\
                          before each send (default %d; 0: sleep only)\n\
      --realtime=PRIO     send (or answer) from a SCHED_FIFO thread of\n\
                          priority PRIO (1-99): busy machines delay it less\n\
      --rx-timestamps=KIND  best receive timestamps to try: timestamping\n\
                          (default), timestampns or user\n\
      --tx-timestamps=KIND  best send timestamps to try: opt-id (default),\n\
                          counter or user\n\
  -n, --netns=NAME|PATH   work in that network namespace (a NAME is in\n\
                          /run/netns)\n\
\n\
Reporting (FILE \"-\" is standard output; the summary then goes to\n\
standard error):\n\
  -j, --json=FILE         write the report as JSON\n\
      --raw=FILE          write every probe as CSV: seq, send_ns, recv_ns,\n\
                          rtt_us, dup\n\
      --svg=FILE          draw the timeline as SVG\n\
      --png=FILE          draw it as PNG (needs rsvg-convert)\n\
  -e, --events=FILE       mark these migration events on the timeline:\n\
                          [{\"t\": UNIX-SECONDS, \"label\": TEXT}, ...] or\n\
                          one such object per line; read when the run ends\n\
  -g, --gaps=N            list the N longest reply gaps (default %d)\n\
      --title=TEXT        title of the picture\n\
  -q, --quiet             no summary\n\
  -v, --verbose           progress on standard error every second\n\
\n\
Responder (with --port, --bind, --netns, --duration, --realtime):\n\
      --responder         answer UDP probes (on all addresses by default)\n\
      --responder-dup     test: answer every probe twice\n\
      --responder-pause-after=S  test: stop answering S seconds after the\n\
                          first probe...\n\
      --responder-pause-ms=MS    ...for exactly MS ms (default %d), then\n\
                          answer what queued up; log the truth\n\
\n\
  -h, --help              show this help\n\
  -V, --version           show the version\n\
\n\
Exit status: 0 measured, 1 could not measure (fully), 2 bad usage.\n",
           DEFAULT_RATE, MAX_RATE, DEFAULT_PORT, PROBE_PACKET_LEN,
           PROBE_PACKET_MAX_LEN, PROBE_PACKET_LEN, DEFAULT_WAIT_MS,
           DEFAULT_SPIN_US, DEFAULT_GAPS, DEFAULT_PAUSE_MS);
}

static void PROBE_PRINTF_FORMAT(1, 2)
usage_error(const char *format, ...)
{
    va_list args;

    fputs("ovn-lm-probe: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputs(" (use --help for help)\n", stderr);
    exit(EXIT_USAGE);
}

static double
parse_double(const char *option, const char *s, double min, double max)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        usage_error("%s: \"%s\" is not a number from %g to %g", option, s,
                    min, max);
    }
    return v;
}

static long long
parse_int(const char *option, const char *s, long long min, long long max)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        usage_error("%s: \"%s\" is not an integer from %lld to %lld",
                    option, s, min, max);
    }
    return v;
}

enum {
    OPT_SPIN_US = 256,
    OPT_REALTIME,
    OPT_RX_TS,
    OPT_TX_TS,
    OPT_RAW,
    OPT_SVG,
    OPT_PNG,
    OPT_TITLE,
    OPT_RESPONDER,
    OPT_RESPONDER_DUP,
    OPT_RESPONDER_PAUSE_AFTER,
    OPT_RESPONDER_PAUSE_MS,
};

static void
parse_options(int argc, char *argv[], struct options *opts)
{
    static const struct option long_options[] = {
        { "mode", required_argument, NULL, 'm' },
        { "rate", required_argument, NULL, 'r' },
        { "duration", required_argument, NULL, 'd' },
        { "count", required_argument, NULL, 'c' },
        { "port", required_argument, NULL, 'p' },
        { "size", required_argument, NULL, 's' },
        { "bind", required_argument, NULL, 'b' },
        { "wait", required_argument, NULL, 'w' },
        { "spin-us", required_argument, NULL, OPT_SPIN_US },
        { "realtime", required_argument, NULL, OPT_REALTIME },
        { "rx-timestamps", required_argument, NULL, OPT_RX_TS },
        { "tx-timestamps", required_argument, NULL, OPT_TX_TS },
        { "netns", required_argument, NULL, 'n' },
        { "json", required_argument, NULL, 'j' },
        { "raw", required_argument, NULL, OPT_RAW },
        { "svg", required_argument, NULL, OPT_SVG },
        { "png", required_argument, NULL, OPT_PNG },
        { "events", required_argument, NULL, 'e' },
        { "gaps", required_argument, NULL, 'g' },
        { "title", required_argument, NULL, OPT_TITLE },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "responder", no_argument, NULL, OPT_RESPONDER },
        { "responder-dup", no_argument, NULL, OPT_RESPONDER_DUP },
        { "responder-pause-after", required_argument, NULL,
          OPT_RESPONDER_PAUSE_AFTER },
        { "responder-pause-ms", required_argument, NULL,
          OPT_RESPONDER_PAUSE_MS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    bool pause_ms_set = false;

    memset(opts, 0, sizeof *opts);
    opts->mode = PROBE_MODE_UDP;
    opts->rate_hz = DEFAULT_RATE;
    opts->port = DEFAULT_PORT;
    opts->size = PROBE_PACKET_LEN;
    opts->wait_ms = DEFAULT_WAIT_MS;
    opts->spin_us = DEFAULT_SPIN_US;
    opts->rx_ts = PROBE_RX_TS_TIMESTAMPING;
    opts->tx_ts = PROBE_TX_TS_CMSG_ID;
    opts->n_gaps = DEFAULT_GAPS;
    opts->pause_after_s = -1;
    opts->pause_ms = DEFAULT_PAUSE_MS;

    for (;;) {
        int c = getopt_long(argc, argv, "m:r:d:c:p:s:b:w:n:j:e:g:qvhV",
                            long_options, NULL);

        if (c == -1) {
            break;
        }
        switch (c) {
        case 'm':
            if (!strcmp(optarg, "udp")) {
                opts->mode = PROBE_MODE_UDP;
            } else if (!strcmp(optarg, "icmp")) {
                opts->mode = PROBE_MODE_ICMP;
            } else {
                usage_error("--mode: \"%s\" is neither udp nor icmp",
                            optarg);
            }
            break;
        case 'r':
            opts->rate_hz = parse_double("--rate", optarg, 1e-3, MAX_RATE);
            break;
        case 'd':
            opts->duration_s = parse_double("--duration", optarg, 1e-3,
                                            1e7);
            break;
        case 'c':
            opts->count = parse_int("--count", optarg, 1,
                                    PROBE_RUN_MAX_PROBES);
            break;
        case 'p':
            opts->port = parse_int("--port", optarg, 1, 65535);
            break;
        case 's':
            opts->size = parse_int("--size", optarg, PROBE_PACKET_LEN,
                                   PROBE_PACKET_MAX_LEN);
            break;
        case 'b':
            opts->bind = optarg;
            break;
        case 'w':
            opts->wait_ms = parse_int("--wait", optarg, 0, 60000);
            break;
        case OPT_SPIN_US:
            opts->spin_us = parse_int("--spin-us", optarg, 0, 10000);
            break;
        case OPT_REALTIME:
            opts->realtime = parse_int("--realtime", optarg, 1, 99);
            break;
        case OPT_RX_TS:
            if (!strcmp(optarg, "timestamping")) {
                opts->rx_ts = PROBE_RX_TS_TIMESTAMPING;
            } else if (!strcmp(optarg, "timestampns")) {
                opts->rx_ts = PROBE_RX_TS_TIMESTAMPNS;
            } else if (!strcmp(optarg, "user")) {
                opts->rx_ts = PROBE_RX_TS_USER;
            } else {
                usage_error("--rx-timestamps: \"%s\" is not timestamping, "
                            "timestampns or user", optarg);
            }
            break;
        case OPT_TX_TS:
            if (!strcmp(optarg, "opt-id")) {
                opts->tx_ts = PROBE_TX_TS_CMSG_ID;
            } else if (!strcmp(optarg, "counter")) {
                opts->tx_ts = PROBE_TX_TS_COUNTER_ID;
            } else if (!strcmp(optarg, "user")) {
                opts->tx_ts = PROBE_TX_TS_USER;
            } else {
                usage_error("--tx-timestamps: \"%s\" is not opt-id, "
                            "counter or user", optarg);
            }
            break;
        case 'n':
            opts->netns = optarg;
            break;
        case 'j':
            opts->json_file = optarg;
            break;
        case OPT_RAW:
            opts->raw_file = optarg;
            break;
        case OPT_SVG:
            opts->svg_file = optarg;
            break;
        case OPT_PNG:
            opts->png_file = optarg;
            break;
        case 'e':
            opts->events_file = optarg;
            break;
        case 'g':
            opts->n_gaps = parse_int("--gaps", optarg, 1, 10000);
            break;
        case OPT_TITLE:
            opts->title = optarg;
            break;
        case 'q':
            opts->quiet = true;
            break;
        case 'v':
            opts->verbose = true;
            break;
        case OPT_RESPONDER:
            opts->responder = true;
            break;
        case OPT_RESPONDER_DUP:
            opts->dup = true;
            break;
        case OPT_RESPONDER_PAUSE_AFTER:
            opts->pause_after_s = parse_double("--responder-pause-after",
                                               optarg, 0, 1e6);
            break;
        case OPT_RESPONDER_PAUSE_MS:
            opts->pause_ms = parse_double("--responder-pause-ms", optarg,
                                          0, 1e6);
            pause_ms_set = true;
            break;
        case 'h':
            usage();
            exit(EXIT_OK);
        case 'V':
            printf("ovn-lm-probe (ovn-lm) %s\n", OVN_LM_VERSION);
            exit(EXIT_OK);
        default:
            fputs("(use --help for help)\n", stderr);
            exit(EXIT_USAGE);
        }
    }

    if (opts->responder) {
        if (optind < argc) {
            usage_error("--responder takes no TARGET");
        }
        if (opts->mode != PROBE_MODE_UDP) {
            usage_error("--responder answers UDP probes only (the "
                        "kernel answers ICMP echo requests)");
        }
        if (opts->json_file || opts->raw_file || opts->svg_file
            || opts->png_file || opts->events_file || opts->count) {
            usage_error("--json, --raw, --svg, --png, --events and --count "
                        "are for the prober, not the responder");
        }
        if (pause_ms_set && opts->pause_after_s < 0) {
            usage_error("--responder-pause-ms needs "
                        "--responder-pause-after");
        }
        return;
    }
    if (opts->dup || opts->pause_after_s >= 0 || pause_ms_set) {
        usage_error("--responder-* options need --responder");
    }
    if (optind != argc - 1) {
        usage_error(optind < argc ? "exactly one TARGET, please"
                    : "missing TARGET address");
    }
    opts->target = argv[optind];
    if (opts->duration_s) {
        double n = llround(opts->duration_s * opts->rate_hz);

        if (n < 1 || n > PROBE_RUN_MAX_PROBES) {
            usage_error("--duration %g at --rate %g makes %.0f probes, not "
                        "1 to %lu", opts->duration_s, opts->rate_hz, n,
                        (unsigned long) PROBE_RUN_MAX_PROBES);
        }
        if (!opts->count || (uint64_t) n < opts->count) {
            opts->count = (uint64_t) n;
        }
    }
}

static int
run_responder(const struct options *opts)
{
    struct probe_responder_config cfg;
    struct probe_responder_stats st;
    sigset_t set;
    char *error = NULL;
    int retval;

    memset(&cfg, 0, sizeof cfg);
    if (opts->bind) {
        if (probe_net_parse_addr(opts->bind, opts->port, &cfg.bind_addr,
                                 &cfg.bind_len)) {
            usage_error("--bind: \"%s\" is not an IP address", opts->bind);
        }
    } else {
        probe_net_parse_addr("::", opts->port, &cfg.bind_addr,
                             &cfg.bind_len);
    }
    cfg.copies = opts->dup ? 2 : 1;
    cfg.pause_after_ns = (opts->pause_after_s >= 0
                          ? llround(opts->pause_after_s * 1e9) : -1);
    cfg.pause_ns = llround(opts->pause_ms * 1e6);
    cfg.duration_ns = llround(opts->duration_s * 1e9);
    cfg.log = stderr;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    cfg.stop_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (cfg.stop_fd < 0) {
        fprintf(stderr, "ovn-lm-probe: signalfd: %s\n", strerror(errno));
        return EXIT_RUNTIME;
    }

    retval = probe_set_realtime(opts->realtime);
    if (retval) {
        fprintf(stderr, "ovn-lm-probe: --realtime: %s\n", strerror(retval));
    }
    if (opts->verbose) {
        fprintf(stderr, "ovn-lm-probe: responder on port %d\n", opts->port);
    }
    retval = probe_responder_run(&cfg, &st, &error);
    close(cfg.stop_fd);
    if (retval) {
        fprintf(stderr, "ovn-lm-probe: %s\n", error);
        free(error);
        return EXIT_RUNTIME;
    }
    if (!opts->quiet) {
        fprintf(stderr, "ovn-lm-probe: responder: answered %llu probes "
                "with %llu replies (%llu send errors), ignored %llu "
                "datagrams\n", (unsigned long long) st.n_probes,
                (unsigned long long) st.n_replies,
                (unsigned long long) st.n_send_errors,
                (unsigned long long) st.n_ignored);
    }
    if (opts->pause_after_s >= 0 && !st.paused) {
        fprintf(stderr, "ovn-lm-probe: responder: the pause never "
                "happened\n");
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

static pthread_t main_thread;

static void
sender_done(void *aux)
{
    (void) aux;
    pthread_kill(main_thread, SIGUSR1);
}

/* Waits for one of the signals in 'set' for up to 'timeout_ns'.  Returns
 * the signal number, or 0 on timeout. */
static int
wait_signal(const sigset_t *set, int64_t timeout_ns)
{
    struct timespec ts = probe_ns_timespec(timeout_ns > 0 ? timeout_ns : 0);
    int sig;

    do {
        sig = sigtimedwait(set, NULL, &ts);
    } while (sig < 0 && errno == EINTR);
    return sig < 0 ? 0 : sig;
}

static bool
is_stdout(const char *file)
{
    return file && !strcmp(file, "-");
}

static int
write_outputs(const struct options *opts, const struct probe_report *rep)
{
    int status = EXIT_OK;
    char *svg = NULL;
    int error;

    if (!opts->quiet) {
        bool elsewhere = (is_stdout(opts->json_file)
                          || is_stdout(opts->raw_file)
                          || is_stdout(opts->svg_file));

        probe_report_text(elsewhere ? stderr : stdout, rep);
    }
    if (opts->json_file) {
        char *json = probe_report_json(rep);
        size_t len = strlen(json);

        json = probe_xrealloc(json, len + 2);
        strcpy(json + len, "\n");
        error = probe_write_file(opts->json_file, json, len + 1);
        if (error) {
            fprintf(stderr, "ovn-lm-probe: %s: %s\n", opts->json_file,
                    strerror(error));
            status = EXIT_RUNTIME;
        }
        free(json);
    }
    if (opts->raw_file) {
        error = probe_report_raw(opts->raw_file, rep);
        if (error) {
            fprintf(stderr, "ovn-lm-probe: %s: %s\n", opts->raw_file,
                    strerror(error));
            status = EXIT_RUNTIME;
        }
    }
    if (opts->svg_file || opts->png_file) {
        svg = probe_report_svg(rep, opts->title);
    }
    if (opts->svg_file) {
        error = probe_write_file(opts->svg_file, svg, strlen(svg));
        if (error) {
            fprintf(stderr, "ovn-lm-probe: %s: %s\n", opts->svg_file,
                    strerror(error));
            status = EXIT_RUNTIME;
        }
    }
    if (opts->png_file) {
        char *msg;

        if (probe_report_png(svg, opts->png_file, &msg)) {
            fprintf(stderr, "ovn-lm-probe: %s\n", msg);
            free(msg);
            status = EXIT_RUNTIME;
        }
    }
    free(svg);
    return status;
}

static int
run_prober(const struct options *opts)
{
    struct probe_events events = { NULL, 0 };
    char *events_error = NULL;
    struct probe_run_config cfg;
    struct probe_run_info info;
    struct probe_stats_result result;
    struct probe_report rep;
    struct probe_stats *stats;
    struct probe_run *run;
    const struct probe_sample *samples;
    char addr[64], *error = NULL;
    bool interrupted = false;
    int64_t next_progress, end;
    size_t n_samples;
    sigset_t set;
    int status, sig, fatal;

    memset(&cfg, 0, sizeof cfg);
    cfg.mode = opts->mode;
    if (probe_net_parse_addr(opts->target, opts->port, &cfg.dst,
                             &cfg.dst_len)) {
        usage_error("\"%s\" is not an IPv4 or IPv6 address", opts->target);
    }
    if (opts->bind && probe_net_parse_addr(opts->bind, 0, &cfg.src,
                                           &cfg.src_len)) {
        usage_error("--bind: \"%s\" is not an IP address", opts->bind);
    }
    cfg.rate_hz = opts->rate_hz;
    cfg.count = opts->count;
    cfg.payload_len = opts->size;
    cfg.spin_ns = (int64_t) opts->spin_us * PROBE_NS_PER_US;
    cfg.realtime = opts->realtime;
    cfg.rx_ts = opts->rx_ts;
    cfg.tx_ts = opts->tx_ts;
    cfg.sender_done = sender_done;

    /* Every thread blocks these; the main thread waits for them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    main_thread = pthread_self();

    if (probe_run_start(&cfg, &run, &error)) {
        fprintf(stderr, "ovn-lm-probe: %s\n", error);
        free(error);
        return EXIT_RUNTIME;
    }

    next_progress = probe_clock_ns(CLOCK_MONOTONIC) + PROBE_NS_PER_SEC;
    for (;;) {
        sig = wait_signal(&set, next_progress
                                - probe_clock_ns(CLOCK_MONOTONIC));
        if (sig == SIGINT || sig == SIGTERM) {
            interrupted = true;
            break;
        } else if (sig == SIGUSR1) {
            break;
        }
        if (opts->verbose) {
            fprintf(stderr, "ovn-lm-probe: sent %llu, replies %llu\n",
                    (unsigned long long) probe_run_n_sent(run),
                    (unsigned long long) probe_run_n_replies(run));
        }
        next_progress += PROBE_NS_PER_SEC;
    }
    probe_run_stop_sending(run);

    /* Replies still under way; a second signal cuts this short. */
    end = probe_clock_ns(CLOCK_MONOTONIC) + opts->wait_ms * PROBE_NS_PER_MS;
    for (;;) {
        int64_t left = end - probe_clock_ns(CLOCK_MONOTONIC);

        if (left <= 0) {
            break;
        }
        sig = wait_signal(&set, left);
        if (sig == SIGINT || sig == SIGTERM) {
            break;
        }
    }

    stats = probe_stats_create(llround(1e9 / opts->rate_hz));
    probe_run_collect(run, stats, &info);
    probe_stats_finish(stats, info.end_ns, opts->n_gaps, &result);
    samples = probe_stats_samples(stats, &n_samples);

    /* Read only now, so that whatever records the migration can write the
     * file while we probe.  A bad file costs the events, not the run. */
    if (opts->events_file
        && probe_events_read(opts->events_file, &events, &events_error)) {
        fprintf(stderr, "ovn-lm-probe: --events %s\n", events_error);
    }

    probe_net_format_addr(&cfg.dst, addr, sizeof addr);
    memset(&rep, 0, sizeof rep);
    rep.mode = opts->mode == PROBE_MODE_UDP ? "udp" : "icmp";
    rep.target = addr;
    rep.port = opts->mode == PROBE_MODE_UDP ? opts->port : -1;
    rep.rate_hz = opts->rate_hz;
    rep.payload_len = opts->size;
    rep.interrupted = interrupted;
    rep.realtime = opts->realtime;
    rep.info = &info;
    rep.result = &result;
    rep.samples = samples;
    rep.n_samples = n_samples;
    rep.events = &events;
    rep.events_error = events_error;
    status = write_outputs(opts, &rep);
    if (events_error) {
        status = EXIT_RUNTIME;
    }

    if (probe_run_fatal_error(run, &fatal)) {
        fprintf(stderr, "ovn-lm-probe: sending to %s stopped: %s\n", addr,
                strerror(fatal));
        status = EXIT_RUNTIME;
    }
    probe_stats_result_destroy(&result);
    probe_stats_destroy(stats);
    probe_run_destroy(run);
    probe_events_destroy(&events);
    free(events_error);
    return status;
}

int
main(int argc, char *argv[])
{
    struct options opts;
    char *error = NULL;

    parse_options(argc, argv, &opts);
    if (opts.netns && probe_net_enter_netns(opts.netns, &error)) {
        fprintf(stderr, "ovn-lm-probe: %s\n", error);
        free(error);
        return EXIT_RUNTIME;
    }
    return opts.responder ? run_responder(&opts) : run_prober(&opts);
}
