/*
 * cni-json.h: strict JSON input and Go-like field lookup on top of cJSON.
 *
 * cJSON alone is more lenient than Go's encoding/json (it takes "+1",
 * control characters in strings, any byte <= ' ' as white space), so input
 * is checked against RFC 8259 first and only then handed to cJSON.  Lookups
 * follow how Go unmarshals into a struct: keys match case-insensitively,
 * the last occurrence wins and a null value leaves the field unset.
 */
#ifndef CNI_JSON_H
#define CNI_JSON_H 1

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct cni_error;

/* Deepest nesting accepted in any input, well under cJSON's own limit. */
#define CNI_JSON_MAX_DEPTH 512

struct cni_error *cni_json_parse(const char *buf, size_t len,
                                 const char *what, cJSON **jsonp);

int cni_json_lookup(const cJSON *object, const char *key, int types,
                    const cJSON **itemp);
const cJSON *cni_json_get(const cJSON *object, const char *key);
const char *cni_json_type_name(const cJSON *);
void cni_json_canonicalize(cJSON *object, const char *const keys[],
                           size_t n_keys);
void cni_json_remove_duplicates(cJSON *container,
                                int (*compare)(const cJSON *,
                                               const cJSON *),
                                bool keep_last);

/* Constructors that abort instead of returning NULL. */
cJSON *cni_json_xobject(void);
cJSON *cni_json_xarray(void);
cJSON *cni_json_xstring(const char *);
cJSON *cni_json_xnumber(double);
cJSON *cni_json_xduplicate(const cJSON *);
void cni_json_xadd(cJSON *object, const char *key, cJSON *item);
void cni_json_xappend(cJSON *array, cJSON *item);
char *cni_json_xprint(const cJSON *);

#endif /* cni-json.h */
