/*
 * cni-error.c: CNI error objects.
 */
#include "cni-error.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>

#include "cni-json.h"

/* Returns a new error with CNI code 'code', a message formatted from
 * 'format', and 'details' (copied; NULL or "" for none). */
struct cni_error *
cni_error_create(int code, const char *details, const char *format, ...)
{
    struct cni_error *error = cni_xzalloc(sizeof *error);
    va_list args;

    error->code = code;
    va_start(args, format);
    error->msg = cni_xvasprintf(format, args);
    va_end(args);
    error->details = details && details[0] ? cni_xstrdup(details) : NULL;
    return error;
}

/* Frees 'error' (NULL is fine). */
void
cni_error_destroy(struct cni_error *error)
{
    if (error) {
        free(error->msg);
        free(error->details);
        free(error);
    }
}

/* Returns the CNI error JSON for 'error' stamped with 'cni_version', as a
 * single line without a trailing newline.  The caller frees it.  "details"
 * is left out when there are none, as the Go skeleton does. */
char *
cni_error_to_json(const struct cni_error *error, const char *cni_version)
{
    cJSON *obj = cni_json_xobject();
    char *s;

    cni_json_xadd(obj, "cniVersion", cni_json_xstring(cni_version));
    cni_json_xadd(obj, "code", cni_json_xnumber(error->code));
    cni_json_xadd(obj, "msg", cni_json_xstring(error->msg));
    if (error->details) {
        cni_json_xadd(obj, "details", cni_json_xstring(error->details));
    }
    s = cni_json_xprint(obj);
    cJSON_Delete(obj);
    return s;
}
