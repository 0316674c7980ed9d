/*
 * probe-util.c: allocation, strings, files and clocks for ovn-lm-probe.
 */
#include "probe-util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
out_of_memory(void)
{
    fputs("ovn-lm-probe: out of memory\n", stderr);
    abort();
}

/* Returns 'size' bytes of fresh memory (never NULL). */
void *
probe_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p) {
        out_of_memory();
    }
    return p;
}

/* Returns 'size' bytes of zeroed memory (never NULL). */
void *
probe_xzalloc(size_t size)
{
    return probe_xcalloc(1, size);
}

/* Returns zeroed memory for 'n' elements of 'size' bytes (never NULL). */
void *
probe_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p) {
        out_of_memory();
    }
    return p;
}

/* Resizes 'p' to 'size' bytes, like realloc() but never fails. */
void *
probe_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

/* Resizes 'p' to 'n' elements of 'size' bytes, aborting on overflow. */
void *
probe_xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        out_of_memory();
    }
    return probe_xrealloc(p, n * size);
}

/* Returns a copy of the string 's'. */
char *
probe_xstrdup(const char *s)
{
    size_t len = strlen(s) + 1;

    return memcpy(probe_xmalloc(len), s, len);
}

/* Formats 'format' with 'args' into a newly allocated string. */
char *
probe_xvasprintf(const char *format, va_list args)
{
    va_list args2;
    char *s;
    int len;

    va_copy(args2, args);
    len = vsnprintf(NULL, 0, format, args);
    if (len < 0) {
        out_of_memory();
    }
    s = probe_xmalloc((size_t) len + 1);
    vsnprintf(s, (size_t) len + 1, format, args2);
    va_end(args2);
    return s;
}

/* Formats 'format' and its arguments into a newly allocated string. */
char *
probe_xasprintf(const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    s = probe_xvasprintf(format, args);
    va_end(args);
    return s;
}

/* Initializes 'buf' as empty. */
void
probe_buf_init(struct probe_buf *buf)
{
    buf->s = NULL;
    buf->len = 0;
    buf->cap = 0;
}

/* Frees what 'buf' holds (NULL is fine). */
void
probe_buf_destroy(struct probe_buf *buf)
{
    if (buf) {
        free(buf->s);
        probe_buf_init(buf);
    }
}

static void
buf_reserve(struct probe_buf *buf, size_t n)
{
    if (n > SIZE_MAX - buf->len - 1) {
        out_of_memory();
    }
    if (buf->len + n + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;

        while (cap < buf->len + n + 1) {
            cap *= 2;
        }
        buf->s = probe_xrealloc(buf->s, cap);
        buf->cap = cap;
    }
}

/* Appends the 'n' bytes at 's' to 'buf'. */
void
probe_buf_put(struct probe_buf *buf, const char *s, size_t n)
{
    buf_reserve(buf, n);
    memcpy(buf->s + buf->len, s, n);
    buf->len += n;
    buf->s[buf->len] = '\0';
}

/* Appends the string 's' to 'buf'. */
void
probe_buf_puts(struct probe_buf *buf, const char *s)
{
    probe_buf_put(buf, s, strlen(s));
}

/* Appends 'format', formatted like printf(), to 'buf'. */
void
probe_buf_printf(struct probe_buf *buf, const char *format, ...)
{
    va_list args;
    int len;

    va_start(args, format);
    len = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (len < 0) {
        out_of_memory();
    }
    buf_reserve(buf, (size_t) len);
    va_start(args, format);
    vsnprintf(buf->s + buf->len, (size_t) len + 1, format, args);
    va_end(args);
    buf->len += (size_t) len;
}

/* Returns the string in 'buf' (never NULL), which the caller must free,
 * and leaves 'buf' empty. */
char *
probe_buf_steal(struct probe_buf *buf)
{
    char *s = buf->s ? buf->s : probe_xstrdup("");

    probe_buf_init(buf);
    return s;
}

/* Reads the whole file 'file_name', at most 'max_size' bytes, into a new
 * null-terminated buffer stored in '*datap', its length in '*lenp'.
 * Returns 0 or a positive errno value (EFBIG if the file is larger than
 * 'max_size'); '*datap' and '*lenp' are left alone on failure. */
int
probe_read_file(const char *file_name, size_t max_size, char **datap,
                size_t *lenp)
{
    struct probe_buf buf;
    char chunk[65536];
    int fd, error = 0;

    fd = open(file_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    probe_buf_init(&buf);
    probe_buf_put(&buf, "", 0);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            error = errno;
            break;
        } else if (!n) {
            break;
        } else if (buf.len + n > max_size) {
            error = EFBIG;
            break;
        }
        probe_buf_put(&buf, chunk, n);
    }
    close(fd);
    if (error) {
        probe_buf_destroy(&buf);
        return error;
    }
    *lenp = buf.len;
    *datap = probe_buf_steal(&buf);
    return 0;
}

/* Writes the 'len' bytes of 'data' to 'file_name', replacing it, through
 * a temporary file renamed into place so that readers never see half a
 * report.  "-" means standard output.  Returns 0 or a positive errno. */
int
probe_write_file(const char *file_name, const char *data, size_t len)
{
    char *tmp;
    FILE *f;
    int error = 0;

    if (!strcmp(file_name, "-")) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout)) {
            return errno ? errno : EIO;
        }
        return 0;
    }

    tmp = probe_xasprintf("%s.tmp%ld", file_name, (long) getpid());
    f = fopen(tmp, "we");
    if (!f) {
        error = errno;
        free(tmp);
        return error;
    }
    if (fwrite(data, 1, len, f) != len) {
        error = errno ? errno : EIO;
    }
    if (fclose(f) && !error) {
        error = errno;
    }
    if (!error && rename(tmp, file_name)) {
        error = errno;
    }
    if (error) {
        unlink(tmp);
    }
    free(tmp);
    return error;
}

/* Returns the time of 'clock' in nanoseconds. */
int64_t
probe_clock_ns(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return probe_timespec_ns(&ts);
}

/* Returns 'ts' in nanoseconds. */
int64_t
probe_timespec_ns(const struct timespec *ts)
{
    return (int64_t) ts->tv_sec * PROBE_NS_PER_SEC + ts->tv_nsec;
}

/* Returns 'ns' nanoseconds (not negative) as a timespec. */
struct timespec
probe_ns_timespec(int64_t ns)
{
    struct timespec ts;

    ts.tv_sec = ns / PROBE_NS_PER_SEC;
    ts.tv_nsec = ns % PROBE_NS_PER_SEC;
    return ts;
}

/* Formats the Unix time 'unix_ns' into 'buf' (of 'size' bytes) as ISO
 * 8601 UTC with microseconds, e.g. "2025-11-21T22:30:01.123456Z". */
void
probe_format_utc(int64_t unix_ns, char *buf, size_t size)
{
    int64_t sec = unix_ns / PROBE_NS_PER_SEC;
    int64_t ns = unix_ns % PROBE_NS_PER_SEC;
    time_t t;
    struct tm tm;
    char date[32];

    if (ns < 0) {
        ns += PROBE_NS_PER_SEC;
        sec--;
    }
    t = sec;
    if (!gmtime_r(&t, &tm)
        || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, size, "@%lld.%09lld", (long long) sec, (long long) ns);
        return;
    }
    snprintf(buf, size, "%s.%06lldZ", date,
             (long long) (ns / PROBE_NS_PER_US));
}

/* Sleeps until CLOCK_MONOTONIC reaches 'mono_ns': in the kernel until
 * 'spin_ns' before it, then by polling the clock, which wakes up within
 * a microsecond instead of the tens of microseconds that a timer wake-up
 * can take.  Returns at once if the time has passed. */
void
probe_sleep_until(int64_t mono_ns, int64_t spin_ns)
{
    int64_t wake = mono_ns - spin_ns;

    if (probe_clock_ns(CLOCK_MONOTONIC) < wake) {
        struct timespec ts = probe_ns_timespec(wake);

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
               == EINTR) {
            continue;
        }
    }
    while (probe_clock_ns(CLOCK_MONOTONIC) < mono_ns) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    }
}

/* Makes the calling thread SCHED_FIFO with 'priority' (1 to 99), so that
 * ordinary processes cannot delay it on a busy machine, or, if 'priority'
 * is 0, leaves it alone.  Returns 0 or a positive errno value. */
int
probe_set_realtime(int priority)
{
    struct sched_param param;

    if (!priority) {
        return 0;
    }
    memset(&param, 0, sizeof param);
    param.sched_priority = priority;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}
