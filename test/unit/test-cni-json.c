/*
 * test-cni-json.c: strict JSON input and Go-like lookups (cni-json).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cni-error.h"
#include "cni-json.h"
#include "test.h"

struct parse_case {
    const char *name;
    const char *text;
    size_t len;                 /* 0: strlen(text). */
    const char *error;          /* Part of the message, NULL if valid. */
};

static void
test_parse(void)
{
    static const struct parse_case cases[] = {
        { "object", "{\"a\":1}", 0, NULL },
        { "white space", " \t\r\n{ \"a\" : [ 1 , 2 ] }\n ", 0, NULL },
        { "all literals", "[true,false,null,\"s\",-0.5e+3,0,1E2]", 0,
          NULL },
        { "escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"",
          0, NULL },
        { "raw UTF-8", "\"caf\xc3\xa9\"", 0, NULL },
        { "empty", "", 0, "unexpected end" },
        { "only spaces", "   ", 0, "unexpected end" },
        { "truncated", "{\"a\":", 0, "unexpected end" },
        { "trailing comma", "{\"a\":1,}", 0, "expected a string key" },
        { "trailing data", "{} x", 0, "after the JSON value" },
        { "two values", "{}{}", 0, "after the JSON value" },
        { "plus sign", "+1", 0, "invalid character" },
        { "leading zero", "01", 0, "after the JSON value" },
        { "bare dot", "1.", 0, "invalid number" },
        { "no integer part", "-.5", 0, "invalid number" },
        { "bad exponent", "1e", 0, "invalid number" },
        { "single quotes", "{'a':1}", 0, "expected a string key" },
        { "unquoted key", "{a:1}", 0, "expected a string key" },
        { "control character", "\"a\tb\"", 0, "control character" },
        { "raw NUL", "\"a\0b\"", 5, "control character" },
        { "NUL escape", "{\"name\":\"a\\u0000b\"}", 0, "\\u0000" },
        { "bad escape", "\"\\x41\"", 0, "invalid escape" },
        { "short \\u", "\"\\u12\"", 0, "invalid \\u escape" },
        { "unterminated", "\"abc", 0, "unterminated string" },
        { "BOM", "\xef\xbb\xbf{}", 0, "invalid character" },
        { "vertical tab", "\v{}", 0, "invalid character" },
        { "TRUE", "TRUE", 0, "invalid character" },
        { "tru", "tru", 0, "invalid literal" },
        { "missing colon", "{\"a\" 1}", 0, "expected ':'" },
        { "missing comma", "[1 2]", 0, "expected ',' or ']'" },
        { "lone surrogate", "\"\\udc00\"", 0, "unsupported JSON" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct parse_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        struct cni_error *error;
        cJSON *json = NULL;

        test_case(c->name);
        error = cni_json_parse(c->text, len, "input", &json);
        if (!c->error) {
            TEST_CHECK(!error && json);
        } else if (TEST_CHECK(error)) {
            TEST_EQ_INT(error->code, 6);
            TEST_CONTAINS(error->msg, "input: ");
            TEST_CONTAINS(error->msg, c->error);
            TEST_CHECK(!json);
        }
        cni_error_destroy(error);
        cJSON_Delete(json);
    }
    test_case(NULL);
}

static void
test_depth(void)
{
    size_t n = CNI_JSON_MAX_DEPTH;
    char *deep = malloc(2 * (n + 1) + 1);
    struct cni_error *error;
    cJSON *json = NULL;

    memset(deep, '[', n);
    memset(deep + n, ']', n);
    error = cni_json_parse(deep, 2 * n, "deep", &json);
    TEST_CHECK(!error);
    cJSON_Delete(json);

    memset(deep, '[', n + 1);
    memset(deep + n + 1, ']', n + 1);
    error = cni_json_parse(deep, 2 * (n + 1), "deep", &json);
    if (TEST_CHECK(error)) {
        TEST_CONTAINS(error->msg, "nesting too deep");
    }
    cni_error_destroy(error);
    free(deep);
}

static cJSON *
parse(const char *text)
{
    cJSON *json = NULL;
    struct cni_error *error = cni_json_parse(text, strlen(text), "t", &json);

    if (error) {
        fprintf(stderr, "cannot parse %s: %s\n", text, error->msg);
        cni_error_destroy(error);
        abort();
    }
    return json;
}

static void
test_lookup(void)
{
    cJSON *json = parse("{\"Name\":\"a\",\"nAmE\":\"b\",\"name\":null,"
                        "\"mtu\":\"x\",\"MTU\":1500,\"n\":5}");
    const cJSON *item;

    /* Case-insensitive, last non-null wins. */
    TEST_EQ_INT(cni_json_lookup(json, "name", cJSON_String, &item), 0);
    TEST_EQ_STR(item ? item->valuestring : NULL, "b");
    TEST_EQ_STR(cni_json_get(json, "NAME")->valuestring, "b");

    /* Any wrong-typed value is an error, as in Go. */
    TEST_EQ_INT(cni_json_lookup(json, "mtu", cJSON_Number, &item), EINVAL);
    TEST_CHECK(cJSON_IsString(item));
    TEST_EQ_STR(cni_json_type_name(item), "a string");

    TEST_EQ_INT(cni_json_lookup(json, "absent", cJSON_String, &item), 0);
    TEST_CHECK(!item);
    TEST_EQ_INT(cni_json_lookup(json, "n", cJSON_Number | cJSON_String,
                                &item), 0);
    TEST_CHECK(cJSON_IsNumber(item));
    TEST_CHECK(!cni_json_get(NULL, "n"));
    TEST_CHECK(!cni_json_get(item, "n"));
    TEST_EQ_STR(cni_json_type_name(NULL), "null");
    cJSON_Delete(json);
}

static void
test_canonicalize(void)
{
    static const char *const keys[] = { "name", "mtu", "gone" };
    cJSON *json = parse("{\"NAME\":\"a\",\"x\":1,\"name\":\"b\","
                        "\"Mtu\":null,\"mtu\":null,\"other\":2,"
                        "\"OTHER\":3}");
    char *s;

    cni_json_canonicalize(json, keys, 3);
    s = cJSON_PrintUnformatted(json);
    TEST_EQ_STR(s, "{\"x\":1,\"other\":2,\"OTHER\":3,\"name\":\"b\","
                   "\"mtu\":null}");
    free(s);
    cJSON_Delete(json);

    json = parse("{\"name\":\"a\"}");
    cni_json_canonicalize(json, keys, 3);
    s = cJSON_PrintUnformatted(json);
    TEST_EQ_STR(s, "{\"name\":\"a\"}");
    free(s);
    cJSON_Delete(json);
}

static int
compare_strings(const cJSON *a, const cJSON *b)
{
    return strcmp(a->valuestring, b->valuestring);
}

static int
compare_keys(const cJSON *a, const cJSON *b)
{
    return strcmp(a->string, b->string);
}

static void
test_remove_duplicates(void)
{
    cJSON *json = parse("[\"b\",\"a\",\"b\",\"c\",\"a\"]");
    char *s;

    cni_json_remove_duplicates(json, compare_strings, false);
    s = cJSON_PrintUnformatted(json);
    TEST_EQ_STR(s, "[\"b\",\"a\",\"c\"]");
    free(s);
    cJSON_Delete(json);

    json = parse("{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}");
    cni_json_remove_duplicates(json, compare_keys, true);
    s = cJSON_PrintUnformatted(json);
    TEST_EQ_STR(s, "{\"j\":\"2\",\"k\":\"3\"}");
    free(s);
    cJSON_Delete(json);
}

int
main(void)
{
    test_parse();
    test_depth();
    test_lookup();
    test_canonicalize();
    test_remove_duplicates();
    return test_summary();
}
