/*
 * probe-util.h: allocation, strings, files and clocks for ovn-lm-probe.
 *
 * ovn-lm-probe is a short-lived measuring tool: running out of memory is
 * not something it can recover from, so the allocation helpers abort
 * instead of returning NULL.
 */
#ifndef PROBE_UTIL_H
#define PROBE_UTIL_H 1

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PROBE_PRINTF_FORMAT(FMT, ARG) \
    __attribute__((__format__(__printf__, FMT, ARG)))

#define PROBE_NS_PER_SEC INT64_C(1000000000)
#define PROBE_NS_PER_MS INT64_C(1000000)
#define PROBE_NS_PER_US INT64_C(1000)

#define PROBE_ARRAY_SIZE(ARRAY) (sizeof (ARRAY) / sizeof *(ARRAY))

void *probe_xmalloc(size_t);
void *probe_xzalloc(size_t);
void *probe_xcalloc(size_t n, size_t size);
void *probe_xrealloc(void *, size_t);
void *probe_xreallocarray(void *, size_t n, size_t size);
char *probe_xstrdup(const char *);
char *probe_xasprintf(const char *format, ...) PROBE_PRINTF_FORMAT(1, 2);
char *probe_xvasprintf(const char *format, va_list) PROBE_PRINTF_FORMAT(1, 0);

/* A growable string, always null-terminated once anything was added. */
struct probe_buf {
    char *s;                    /* NULL until the first append. */
    size_t len;                 /* Bytes in 's', without the null. */
    size_t cap;                 /* Allocated bytes in 's'. */
};

void probe_buf_init(struct probe_buf *);
void probe_buf_destroy(struct probe_buf *);
void probe_buf_put(struct probe_buf *, const char *, size_t);
void probe_buf_puts(struct probe_buf *, const char *);
void probe_buf_printf(struct probe_buf *, const char *format, ...)
    PROBE_PRINTF_FORMAT(2, 3);
char *probe_buf_steal(struct probe_buf *);

int probe_read_file(const char *file_name, size_t max_size,
                    char **datap, size_t *lenp);
int probe_write_file(const char *file_name, const char *data, size_t len);

int64_t probe_clock_ns(clockid_t);
int64_t probe_timespec_ns(const struct timespec *);
struct timespec probe_ns_timespec(int64_t ns);
void probe_format_utc(int64_t unix_ns, char *buf, size_t size);
void probe_sleep_until(int64_t mono_ns, int64_t spin_ns);
int probe_set_realtime(int priority);

#endif /* probe-util.h */
