/*
 * cni-result.c: result conversion between CNI versions.
 *
 * The layouts, by version of the CNI specification:
 *   1.1.0   interfaces[] may carry "mtu", "socketPath" and "pciID".
 *   1.0.0   the same without those three interface keys, which 1.0.0
 *           clients do not know.
 *   0.3.x, 0.4.0   as 1.0.0, plus "version" ("4" or "6") in each ips[],
 *           as the Go 0.4.0 types have it.
 */
#include "cni-result.h"

#include <stdbool.h>
#include <string.h>

#include "cni-addr.h"
#include "cni-error.h"
#include "cni-json.h"
#include "ovn-lm-proto.h"

#define BAD_RESULT "the daemon's ADD result is malformed"

/* Returns the first member 'key' of 'obj', the one cJSON readers (the
 * daemon's tests, ours) see; later duplicates are ignored throughout. */
static const cJSON *
member(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Checks that member 'key' of 'result' is absent or an array of objects. */
static struct cni_error *
check_object_array(const cJSON *result, const char *key)
{
    const cJSON *array = member(result, key);
    const cJSON *elem;
    int i = 0;

    if (array && !cJSON_IsArray(array)) {
        return cni_error_create(OVN_LM_CNI_IO_FAILURE, BAD_RESULT,
                                "result \"%s\" is not an array", key);
    }
    cJSON_ArrayForEach (elem, array) {
        if (!cJSON_IsObject(elem)) {
            return cni_error_create(OVN_LM_CNI_IO_FAILURE, BAD_RESULT,
                                    "result \"%s[%d]\" is not an object",
                                    key, i);
        }
        i++;
    }
    return NULL;
}

/* Checks string 'name' in each element of result array 'key': it must be
 * there unless 'optional', and pass 'valid' if that is nonnull. */
static struct cni_error *
check_strings(const cJSON *result, const char *key, const char *name,
              bool optional, bool (*valid)(const char *))
{
    const cJSON *elem;
    int i = 0;

    cJSON_ArrayForEach (elem, member(result, key)) {
        const cJSON *item = member(elem, name);

        if (item || !optional) {
            if (!cJSON_IsString(item)
                || (valid && !valid(item->valuestring))) {
                return cni_error_create(OVN_LM_CNI_IO_FAILURE, BAD_RESULT,
                                        "result \"%s[%d].%s\" is missing or "
                                        "invalid", key, i, name);
            }
        }
        i++;
    }
    return NULL;
}

static bool
valid_ip(const char *s)
{
    return cni_addr_parse_ip(s, NULL);
}

static bool
valid_cidr(const char *s)
{
    return cni_addr_parse_cidr(s, NULL);
}

/* Checks what conversion relies on and what a runtime cannot do without:
 * interface names, IP and route addresses. */
static struct cni_error *
check_result(const cJSON *result)
{
    struct cni_error *error = NULL;

    if (!cJSON_IsObject(result)) {
        return cni_error_create(OVN_LM_CNI_IO_FAILURE, BAD_RESULT,
                                "result is not an object");
    }
    error = check_object_array(result, "interfaces");
    if (!error) {
        error = check_object_array(result, "ips");
    }
    if (!error) {
        error = check_object_array(result, "routes");
    }
    if (!error) {
        error = check_strings(result, "interfaces", "name", false, NULL);
    }
    if (!error) {
        error = check_strings(result, "ips", "address", false, valid_cidr);
    }
    if (!error) {
        error = check_strings(result, "ips", "gateway", true, valid_ip);
    }
    if (!error) {
        error = check_strings(result, "routes", "dst", false, valid_cidr);
    }
    if (!error) {
        error = check_strings(result, "routes", "gw", true, valid_ip);
    }
    return error;
}

/* Returns a copy of the object 'obj' without duplicate keys and without the
 * members named in 'drop' (a NULL-terminated list). */
static cJSON *
copy_object(const cJSON *obj, const char *const drop[])
{
    cJSON *copy = cni_json_xobject();
    const cJSON *item;

    cJSON_ArrayForEach (item, obj) {
        bool skip = member(obj, item->string) != item;

        for (size_t i = 0; drop && drop[i] && !skip; i++) {
            skip = !strcmp(item->string, drop[i]);
        }
        if (!skip) {
            cni_json_xadd(copy, item->string, cni_json_xduplicate(item));
        }
    }
    return copy;
}

static cJSON *
convert_interfaces(const cJSON *interfaces)
{
    static const char *const drop[] = {
        "mtu", "socketPath", "pciID", NULL,
    };
    cJSON *copy = cni_json_xarray();
    const cJSON *elem;

    cJSON_ArrayForEach (elem, interfaces) {
        cni_json_xappend(copy, copy_object(elem, drop));
    }
    return copy;
}

/* Adds "version" to each element of 'ips', first, where the 0.x Go types
 * put it: "4" for IPv4 (including IPv4-mapped IPv6), "6" otherwise. */
static cJSON *
convert_ips(const cJSON *ips)
{
    static const char *const drop[] = { "version", NULL };
    cJSON *copy = cni_json_xarray();
    const cJSON *elem, *item;

    cJSON_ArrayForEach (elem, ips) {
        cJSON *ip = cni_json_xobject();
        bool is_ipv4 = false;
        cJSON *rest;

        cni_addr_parse_cidr(member(elem, "address")->valuestring, &is_ipv4);
        cni_json_xadd(ip, "version", cni_json_xstring(is_ipv4 ? "4" : "6"));
        rest = copy_object(elem, drop);
        cJSON_ArrayForEach (item, rest) {
            cni_json_xadd(ip, item->string, cni_json_xduplicate(item));
        }
        cJSON_Delete(rest);
        cni_json_xappend(copy, ip);
    }
    return copy;
}

/* Checks the daemon's ADD result 'result' (1.1.0 layout) and converts it
 * to CNI version 'version', which must be one that ovn-lm supports.  On
 * success stores the converted result, with "cniVersion" first, in
 * '*outp' and returns NULL; a malformed result is an I/O error (5). */
struct cni_error *
cni_result_convert(const cJSON *result, const char *version, cJSON **outp)
{
    bool is_current = !strcmp(version, "1.1.0");
    bool is_0x = version[0] == '0';
    struct cni_error *error;
    const cJSON *item;
    cJSON *out;

    error = check_result(result);
    if (error) {
        return error;
    }

    out = cni_json_xobject();
    cni_json_xadd(out, "cniVersion", cni_json_xstring(version));
    cJSON_ArrayForEach (item, result) {
        const char *key = item->string;
        cJSON *copy;

        if (!strcmp(key, "cniVersion") || member(result, key) != item) {
            continue;
        }
        if (!is_current && !strcmp(key, "interfaces")) {
            copy = convert_interfaces(item);
        } else if (is_0x && !strcmp(key, "ips")) {
            copy = convert_ips(item);
        } else {
            copy = cni_json_xduplicate(item);
        }
        cni_json_xadd(out, key, copy);
    }
    *outp = out;
    return NULL;
}
