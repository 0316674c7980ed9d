/*
 * cni-json.c: strict JSON input and Go-like lookups over cJSON.
 */
#include "cni-json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cni-error.h"
#include "cni-util.h"
#include "ovn-lm-proto.h"

/* RFC 8259 syntax check.
 *
 * Accepts exactly what Go's encoding/json accepts, except that it refuses
 * the escape \u0000: cJSON keeps strings NUL-terminated, so a NUL would
 * silently cut a name short and we would check one value and forward
 * another. */
struct scan {
    const char *p;              /* Next byte to look at. */
    const char *end;            /* One past the last byte. */
    const char *error;          /* Why the input is invalid, or NULL. */
};

static bool scan_value(struct scan *, int depth);

static bool
scan_fail(struct scan *s, const char *reason)
{
    s->error = reason;
    return false;
}

static bool
scan_at(const struct scan *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static void
scan_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'
                             || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Skips one or more decimal digits. */
static bool
scan_digits(struct scan *s)
{
    const char *start = s->p;

    while (s->p < s->end && is_digit(*s->p)) {
        s->p++;
    }
    return s->p > start;
}

static bool
scan_literal(struct scan *s, const char *word)
{
    size_t len = strlen(word);

    if ((size_t) (s->end - s->p) < len || memcmp(s->p, word, len)) {
        return scan_fail(s, "invalid literal");
    }
    s->p += len;
    return true;
}

static bool
scan_number(struct scan *s)
{
    if (scan_at(s, '-')) {
        s->p++;
    }
    if (scan_at(s, '0')) {
        s->p++;
    } else if (!scan_digits(s)) {
        return scan_fail(s, "invalid number");
    }
    if (scan_at(s, '.')) {
        s->p++;
        if (!scan_digits(s)) {
            return scan_fail(s, "invalid number");
        }
    }
    if (scan_at(s, 'e') || scan_at(s, 'E')) {
        s->p++;
        if (scan_at(s, '+') || scan_at(s, '-')) {
            s->p++;
        }
        if (!scan_digits(s)) {
            return scan_fail(s, "invalid number");
        }
    }
    return true;
}

static bool
scan_string(struct scan *s)
{
    s->p++;                     /* Opening quote. */
    while (s->p < s->end) {
        unsigned char c = *s->p;

        if (c == '"') {
            s->p++;
            return true;
        } else if (c < 0x20) {
            return scan_fail(s, "control character in string");
        } else if (c != '\\') {
            s->p++;
            continue;
        }

        s->p++;
        if (s->p >= s->end) {
            break;
        }
        c = *s->p;
        if (c == 'u') {
            if (s->end - s->p < 5 || !is_hex(s->p[1]) || !is_hex(s->p[2])
                || !is_hex(s->p[3]) || !is_hex(s->p[4])) {
                return scan_fail(s, "invalid \\u escape");
            }
            if (!memcmp(s->p + 1, "0000", 4)) {
                return scan_fail(s, "\\u0000 in a string is not supported");
            }
            s->p += 5;
        } else if (c && strchr("\"\\/bfnrt", c)) {
            s->p++;
        } else {
            return scan_fail(s, "invalid escape in string");
        }
    }
    return scan_fail(s, "unterminated string");
}

static bool
scan_container(struct scan *s, int depth)
{
    bool is_object = *s->p == '{';
    char close = is_object ? '}' : ']';

    if (depth > CNI_JSON_MAX_DEPTH) {
        return scan_fail(s, "nesting too deep");
    }
    s->p++;
    scan_ws(s);
    if (scan_at(s, close)) {
        s->p++;
        return true;
    }
    for (;;) {
        if (is_object) {
            scan_ws(s);
            if (!scan_at(s, '"')) {
                return scan_fail(s, "expected a string key");
            }
            if (!scan_string(s)) {
                return false;
            }
            scan_ws(s);
            if (!scan_at(s, ':')) {
                return scan_fail(s, "expected ':'");
            }
            s->p++;
        }
        if (!scan_value(s, depth)) {
            return false;
        }
        scan_ws(s);
        if (scan_at(s, ',')) {
            s->p++;
        } else if (scan_at(s, close)) {
            s->p++;
            return true;
        } else if (s->p >= s->end) {
            return scan_fail(s, "unexpected end of input");
        } else {
            return scan_fail(s, is_object ? "expected ',' or '}'"
                                          : "expected ',' or ']'");
        }
    }
}

static bool
scan_value(struct scan *s, int depth)
{
    scan_ws(s);
    if (s->p >= s->end) {
        return scan_fail(s, "unexpected end of input");
    }
    switch (*s->p) {
    case '{':
    case '[':
        return scan_container(s, depth + 1);
    case '"':
        return scan_string(s);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        if (*s->p == '-' || is_digit(*s->p)) {
            return scan_number(s);
        }
        return scan_fail(s, "invalid character");
    }
}

/* Parses the 'len' bytes at 'buf' as one JSON value.  On success stores the
 * tree in '*jsonp' (the caller frees it with cJSON_Delete()) and returns
 * NULL.  Otherwise returns a decode error (code 6) whose message starts
 * with 'what' and gives the byte offset of the problem. */
struct cni_error *
cni_json_parse(const char *buf, size_t len, const char *what, cJSON **jsonp)
{
    struct scan s = { .p = buf, .end = buf + len };
    cJSON *json;

    if (scan_value(&s, 0)) {
        scan_ws(&s);
        if (s.p != s.end) {
            scan_fail(&s, "unexpected data after the JSON value");
        }
    }
    if (s.error) {
        return cni_error_create(OVN_LM_CNI_DECODE_FAILURE, NULL,
                                "%s: invalid JSON at byte %zu: %s", what,
                                (size_t) (s.p - buf), s.error);
    }

    /* Valid JSON that cJSON still refuses: a lone UTF-16 surrogate in a
     * \u escape, or a number longer than cJSON's 63-byte buffer. */
    json = cJSON_ParseWithLength(buf, len);
    if (!json) {
        return cni_error_create(OVN_LM_CNI_DECODE_FAILURE, NULL,
                                "%s: unsupported JSON (unpaired UTF-16 "
                                "surrogate or overlong number)", what);
    }
    *jsonp = json;
    return NULL;
}

static bool
key_matches(const cJSON *item, const char *key)
{
    return item->string && !strcasecmp(item->string, key);
}

/* Looks up 'key' in 'object' the way Go's encoding/json fills a struct
 * field: names match case-insensitively, the last non-null value wins.
 * 'types' is a mask of the cJSON types (cJSON_String, ...) the field
 * accepts.  Returns 0 and stores the value, or NULL if it is absent or
 * null, in '*itemp'.  If any non-null value of the key has a type outside
 * 'types', returns EINVAL and stores that value in '*itemp' so that the
 * caller can name its type.  A non-object 'object' has no members. */
int
cni_json_lookup(const cJSON *object, const char *key, int types,
                const cJSON **itemp)
{
    const cJSON *found = NULL;
    const cJSON *item;

    if (cJSON_IsObject(object)) {
        cJSON_ArrayForEach (item, object) {
            if (!key_matches(item, key) || cJSON_IsNull(item)) {
                continue;
            }
            if (!(item->type & 0xff & types)) {
                *itemp = item;
                return EINVAL;
            }
            found = item;
        }
    }
    *itemp = found;
    return 0;
}

/* Returns the value of 'key' in 'object' as cni_json_lookup() finds it,
 * whatever its type, or NULL if it is absent or null. */
const cJSON *
cni_json_get(const cJSON *object, const char *key)
{
    const cJSON *item;

    cni_json_lookup(object, key, 0xff, &item);
    return item;
}

/* Returns a phrase naming the JSON type of 'item', for error messages. */
const char *
cni_json_type_name(const cJSON *item)
{
    switch (item ? item->type & 0xff : cJSON_NULL) {
    case cJSON_False:
    case cJSON_True:
        return "a boolean";
    case cJSON_Number:
        return "a number";
    case cJSON_String:
        return "a string";
    case cJSON_Array:
        return "an array";
    case cJSON_Object:
        return "an object";
    default:
        return "null";
    }
}

/* Makes each of the 'n_keys' 'keys' appear at most once in 'object', under
 * exactly that spelling, keeping the member cni_json_get() would pick (or
 * the last null one).  After this, a reader that matches keys exactly and
 * takes the first match (as cJSON does) sees what we validated. */
void
cni_json_canonicalize(cJSON *object, const char *const keys[], size_t n_keys)
{
    for (size_t i = 0; i < n_keys; i++) {
        cJSON *keep = NULL;
        cJSON *item, *next;
        int n = 0;

        cJSON_ArrayForEach (item, object) {
            if (key_matches(item, keys[i])) {
                n++;
                if (!cJSON_IsNull(item) || !keep || cJSON_IsNull(keep)) {
                    keep = item;
                }
            }
        }
        if (!keep || (n == 1 && !strcmp(keep->string, keys[i]))) {
            continue;
        }
        for (item = object->child; item; item = next) {
            next = item->next;
            if (key_matches(item, keys[i])) {
                cJSON_DetachItemViaPointer(object, item);
                if (item == keep) {
                    /* Re-adding renames it; cJSON frees the old key. */
                    cni_json_xadd(object, keys[i], item);
                } else {
                    cJSON_Delete(item);
                }
            }
        }
    }
}

struct dup_entry {
    cJSON *item;
    size_t index;
};

struct dup_ctx {
    int (*compare)(const cJSON *, const cJSON *);
};

static int
compare_dup_entries(const void *a_, const void *b_, void *ctx_)
{
    const struct dup_entry *a = a_;
    const struct dup_entry *b = b_;
    const struct dup_ctx *ctx = ctx_;
    int cmp = ctx->compare(a->item, b->item);

    return cmp ? cmp : a->index < b->index ? -1 : a->index > b->index;
}

/* Deletes from the array or object 'container' every member that
 * 'compare' finds equal to another one, keeping the first or, if
 * 'keep_last', the last of each group.  Sorting keeps this O(n log n) for
 * the very large inputs a fuzzer or a hostile runtime may send. */
void
cni_json_remove_duplicates(cJSON *container,
                           int (*compare)(const cJSON *, const cJSON *),
                           bool keep_last)
{
    struct dup_ctx ctx = { .compare = compare };
    struct dup_entry *entries;
    size_t n = 0;
    cJSON *item;

    cJSON_ArrayForEach (item, container) {
        n++;
    }
    if (n < 2) {
        return;
    }
    entries = cni_xmalloc(n * sizeof *entries);
    n = 0;
    cJSON_ArrayForEach (item, container) {
        entries[n].item = item;
        entries[n].index = n;
        n++;
    }
    qsort_r(entries, n, sizeof *entries, compare_dup_entries, &ctx);

    for (size_t i = 0; i < n; ) {
        size_t j = i + 1;

        while (j < n && !compare(entries[i].item, entries[j].item)) {
            j++;
        }
        for (size_t k = i; k < j; k++) {
            if (k != (keep_last ? j - 1 : i)) {
                cJSON_Delete(cJSON_DetachItemViaPointer(container,
                                                        entries[k].item));
            }
        }
        i = j;
    }
    free(entries);
}

static cJSON *
check_alloc(cJSON *item)
{
    if (!item) {
        fputs("ovn-lm: out of memory\n", stderr);
        abort();
    }
    return item;
}

/* Returns a new empty JSON object. */
cJSON *
cni_json_xobject(void)
{
    return check_alloc(cJSON_CreateObject());
}

/* Returns a new empty JSON array. */
cJSON *
cni_json_xarray(void)
{
    return check_alloc(cJSON_CreateArray());
}

/* Returns a new JSON string holding a copy of 's'. */
cJSON *
cni_json_xstring(const char *s)
{
    return check_alloc(cJSON_CreateString(s));
}

/* Returns a new JSON number 'n'. */
cJSON *
cni_json_xnumber(double n)
{
    return check_alloc(cJSON_CreateNumber(n));
}

/* Returns a deep copy of 'item'. */
cJSON *
cni_json_xduplicate(const cJSON *item)
{
    return check_alloc(cJSON_Duplicate(item, true));
}

/* Appends 'item' to 'object' under 'key'; 'object' takes ownership. */
void
cni_json_xadd(cJSON *object, const char *key, cJSON *item)
{
    if (!cJSON_AddItemToObject(object, key, item)) {
        check_alloc(NULL);
    }
}

/* Appends 'item' to 'array', which takes ownership. */
void
cni_json_xappend(cJSON *array, cJSON *item)
{
    if (!cJSON_AddItemToArray(array, item)) {
        check_alloc(NULL);
    }
}

/* Returns 'item' as compact JSON text, to be freed with free(). */
char *
cni_json_xprint(const cJSON *item)
{
    char *s = cJSON_PrintUnformatted(item);

    if (!s) {
        check_alloc(NULL);
    }
    return s;
}
