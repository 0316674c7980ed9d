/*
 * cni-util.c: allocation helpers that abort on exhaustion.
 */
#include "cni-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
out_of_memory(void)
{
    fputs("ovn-lm: out of memory\n", stderr);
    abort();
}

/* Returns 'size' bytes of fresh memory (never NULL). */
void *
cni_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p) {
        out_of_memory();
    }
    return p;
}

/* Returns 'size' bytes of zeroed memory (never NULL). */
void *
cni_xzalloc(size_t size)
{
    void *p = calloc(1, size ? size : 1);

    if (!p) {
        out_of_memory();
    }
    return p;
}

/* Resizes 'p' to 'size' bytes, like realloc() but never fails. */
void *
cni_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

/* Returns a copy of the string 's'. */
char *
cni_xstrdup(const char *s)
{
    size_t len = strlen(s) + 1;

    return memcpy(cni_xmalloc(len), s, len);
}

/* Formats 'format' with 'args' into a newly allocated string. */
char *
cni_xvasprintf(const char *format, va_list args)
{
    va_list args2;
    char *s;
    int len;

    va_copy(args2, args);
    len = vsnprintf(NULL, 0, format, args);
    if (len < 0) {
        out_of_memory();
    }
    s = cni_xmalloc((size_t) len + 1);
    vsnprintf(s, (size_t) len + 1, format, args2);
    va_end(args2);
    return s;
}

/* Formats 'format' and its arguments into a newly allocated string. */
char *
cni_xasprintf(const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    s = cni_xvasprintf(format, args);
    va_end(args);
    return s;
}

/* Appends 'item' to the string list '*listp' (NULL when empty), after
 * 'separator' unless the list was empty.  Replaces '*listp'. */
void
cni_xappend(char **listp, const char *separator, const char *item)
{
    char *list = (*listp
                  ? cni_xasprintf("%s%s%s", *listp, separator, item)
                  : cni_xstrdup(item));

    free(*listp);
    *listp = list;
}
