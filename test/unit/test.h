/*
 * test.h: a tiny harness for ovn-lm's unit tests.
 *
 * Each TEST_* check counts as one pass or one failure.  A failure prints
 * where it happened, the current case (see test_case()) and both values,
 * and the test goes on.  main() ends with "return test_summary();", which
 * prints the closing line "N passed, N failed" and returns the exit status
 * (non-zero if anything failed).
 *
 *     static void
 *     test_add(void)
 *     {
 *         for (size_t i = 0; i < N_CASES; i++) {
 *             test_case(cases[i].name);
 *             TEST_EQ_INT(add(cases[i].a, cases[i].b), cases[i].sum);
 *         }
 *     }
 */
#ifndef TEST_H
#define TEST_H 1

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct test_state {
    int passed;
    int failed;
    const char *case_name;      /* Current case, for messages, or NULL. */
};

static struct test_state test_state __attribute__((unused));

/* Names the case that the following checks belong to (NULL for none). */
static inline void
test_case(const char *name)
{
    test_state.case_name = name;
}

static inline bool
test_report_(bool ok, const char *file, int line, const char *expr)
{
    if (ok) {
        test_state.passed++;
    } else {
        test_state.failed++;
        fprintf(stderr, "%s:%d: FAILED: %s", file, line, expr);
        if (test_state.case_name) {
            fprintf(stderr, " [case: %s]", test_state.case_name);
        }
        fputc('\n', stderr);
    }
    return ok;
}

static inline bool
test_check_(bool ok, const char *expr, const char *file, int line)
{
    return test_report_(ok, file, line, expr);
}

static inline bool
test_eq_int_(long long a, long long b, const char *expr_a,
             const char *expr_b, const char *file, int line)
{
    if (!test_report_(a == b, file, line, "==")) {
        fprintf(stderr, "    %s = %lld\n    %s = %lld\n", expr_a, a,
                expr_b, b);
        return false;
    }
    return true;
}

static inline bool
test_eq_str_(const char *a, const char *b, const char *expr_a,
             const char *expr_b, const char *file, int line)
{
    bool ok = (!a && !b) || (a && b && !strcmp(a, b));

    if (!test_report_(ok, file, line, "streq")) {
        fprintf(stderr, "    %s = %s%s%s\n    %s = %s%s%s\n",
                expr_a, a ? "\"" : "", a ? a : "(null)", a ? "\"" : "",
                expr_b, b ? "\"" : "", b ? b : "(null)", b ? "\"" : "");
        return false;
    }
    return true;
}

static inline bool
test_contains_(const char *haystack, const char *needle,
               const char *expr_h, const char *file, int line)
{
    bool ok = haystack && needle && strstr(haystack, needle);

    if (!test_report_(ok, file, line, "contains")) {
        fprintf(stderr, "    %s = \"%s\"\n    does not contain \"%s\"\n",
                expr_h, haystack ? haystack : "(null)",
                needle ? needle : "(null)");
        return false;
    }
    return true;
}

/* Each returns true if the check passed. */
#define TEST_CHECK(COND) test_check_(!!(COND), #COND, __FILE__, __LINE__)
#define TEST_EQ_INT(A, B) \
    test_eq_int_((long long) (A), (long long) (B), #A, #B, __FILE__, __LINE__)
#define TEST_EQ_STR(A, B) test_eq_str_(A, B, #A, #B, __FILE__, __LINE__)
#define TEST_CONTAINS(HAYSTACK, NEEDLE) \
    test_contains_(HAYSTACK, NEEDLE, #HAYSTACK, __FILE__, __LINE__)

/* Prints "N passed, N failed" and returns the exit status for main(). */
static inline int
test_summary(void)
{
    printf("%d passed, %d failed\n", test_state.passed, test_state.failed);
    fflush(stdout);
    return test_state.failed ? 1 : 0;
}

#endif /* test.h */
