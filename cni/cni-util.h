/*
 * cni-util.h: allocation helpers for the ovn-lm CNI binary.
 *
 * The CNI binary is a short-lived process: running out of memory is not
 * something it can recover from, so these helpers abort instead of
 * returning NULL, which keeps every caller free of allocation checks.
 */
#ifndef CNI_UTIL_H
#define CNI_UTIL_H 1

#include <stdarg.h>
#include <stddef.h>

#define CNI_PRINTF_FORMAT(FMT, ARG) \
    __attribute__((__format__(__printf__, FMT, ARG)))

void *cni_xmalloc(size_t);
void *cni_xzalloc(size_t);
void *cni_xrealloc(void *, size_t);
char *cni_xstrdup(const char *);
char *cni_xvasprintf(const char *format, va_list);
char *cni_xasprintf(const char *format, ...) CNI_PRINTF_FORMAT(1, 2);
void cni_xappend(char **listp, const char *separator, const char *item);

#endif /* cni-util.h */
