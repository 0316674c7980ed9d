/*
 * test-cni-record.c: attachment records (cni-record).
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni-record.h"
#include "test-fs.h"
#include "test.h"

static char base[] = "/tmp/test-cni-record-XXXXXX";

static char *
path_of(const char *rel)
{
    char *p = malloc(strlen(base) + strlen(rel) + 2);

    sprintf(p, "%s/%s", base, rel);
    return p;
}

static void
touch(const char *rel)
{
    char *p = path_of(rel);
    int fd = open(p, O_CREAT | O_WRONLY, 0600);

    if (fd >= 0) {
        close(fd);
    }
    free(p);
}

static void
test_write_remove(void)
{
    char *state = path_of("state/deep");
    char *dir = path_of("state/deep/net1");
    char *rec = path_of("state/deep/net1/c1:eth0");
    struct stat st;
    bool there = false;
    char buf[256];
    FILE *f;

    test_case("write");
    TEST_EQ_INT(cni_record_write(state, "net1", "c1", "eth0", "/run/netns/x"),
                0);
    TEST_CHECK(!stat(dir, &st) && (st.st_mode & 0777) == 0700);
    TEST_CHECK(!stat(rec, &st) && (st.st_mode & 0777) == 0600
               && S_ISREG(st.st_mode));
    TEST_EQ_INT(test_count_temp_files(dir), 0);

    f = fopen(rec, "r");
    if (TEST_CHECK(f)) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        cJSON *json;

        buf[n] = '\0';
        fclose(f);
        json = cJSON_Parse(buf);
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(json, "netns")),
                    "/run/netns/x");
        TEST_CHECK(cJSON_IsString(cJSON_GetObjectItem(json, "time")));
        cJSON_Delete(json);
    }

    test_case("path");
    char *p = cni_record_path(state, "net1", "c1", "eth0");
    TEST_EQ_STR(p, rec);
    free(p);

    test_case("exists");
    TEST_EQ_INT(cni_record_exists(state, "net1", "c1", "eth0", &there), 0);
    TEST_CHECK(there);
    TEST_EQ_INT(cni_record_exists(state, "net1", "c1", "eth1", &there), 0);
    TEST_CHECK(!there);
    TEST_EQ_INT(cni_record_exists(state, "other", "c1", "eth0", &there), 0);
    TEST_CHECK(!there);

    test_case("rewrite");
    TEST_EQ_INT(cni_record_write(state, "net1", "c1", "eth0", ""), 0);
    TEST_EQ_INT(test_count_temp_files(dir), 0);

    test_case("remove");
    TEST_EQ_INT(cni_record_remove(state, "net1", "c1", "eth0"), 0);
    TEST_CHECK(!test_exists(rec));
    TEST_EQ_INT(cni_record_remove(state, "net1", "c1", "eth0"), 0);
    TEST_EQ_INT(cni_record_remove(state, "nonet", "c1", "eth0"), 0);
    TEST_EQ_INT(cni_record_exists(state, "net1", "c1", "eth0", &there), 0);
    TEST_CHECK(!there);

    free(state);
    free(dir);
    free(rec);
    test_case(NULL);
}

static void
test_errors(void)
{
    char *state = path_of("state");
    char *file = path_of("file");
    char long_id[300];
    bool there = true;

    /* A container ID too long for a file name: ADD fails, and DEL can
     * tell that ADD could never have written it. */
    test_case("long container ID");
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    TEST_EQ_INT(cni_record_write(state, "net1", long_id, "eth0", ""),
                ENAMETOOLONG);
    TEST_EQ_INT(cni_record_exists(state, "net1", long_id, "eth0", &there),
                0);
    TEST_CHECK(!there);

    test_case("state dir is a file");
    touch("file");
    TEST_CHECK(cni_record_write(file, "net1", "c1", "eth0", "") != 0);
    TEST_CHECK(cni_record_exists(file, "net1", "c1", "eth0", &there) != 0
               || !there);

    free(state);
    free(file);
    test_case(NULL);
}

static void
test_gc(void)
{
    char *state = path_of("gc");
    char *dir = path_of("gc/net1");
    char *failed = NULL;
    cJSON *valid;
    static const char *const kept[] = {
        "gc/net1/a:eth0", "gc/net1/c:eth0", "gc/net1/README",
        "gc/net2/b:eth0",
    };
    static const char *const removed[] = {
        "gc/net1/b:eth0", "gc/net1/a:net1", "gc/net1/.tmp-x1Y2z3",
    };

    test_case("gc");
    TEST_EQ_INT(cni_record_write(state, "net1", "a", "eth0", ""), 0);
    TEST_EQ_INT(cni_record_write(state, "net1", "b", "eth0", ""), 0);
    TEST_EQ_INT(cni_record_write(state, "net1", "a", "net1", ""), 0);
    TEST_EQ_INT(cni_record_write(state, "net1", "c", "eth0", ""), 0);
    TEST_EQ_INT(cni_record_write(state, "net2", "b", "eth0", ""), 0);
    touch("gc/net1/.tmp-x1Y2z3");
    touch("gc/net1/README");

    valid = cJSON_Parse("[{\"containerID\":\"a\",\"ifname\":\"eth0\"},"
                        "{\"containerID\":\"c\",\"ifname\":\"eth0\"},"
                        "{\"containerID\":\"zz\",\"ifname\":\"eth0\"}]");
    TEST_EQ_INT(cni_record_gc(state, "net1", valid, &failed), 0);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        char *p = path_of(kept[i]);

        test_case(kept[i]);
        TEST_CHECK(test_exists(p));
        free(p);
    }
    for (size_t i = 0; i < sizeof removed / sizeof *removed; i++) {
        char *p = path_of(removed[i]);

        test_case(removed[i]);
        TEST_CHECK(!test_exists(p));
        free(p);
    }

    test_case("gc of a network without records");
    TEST_EQ_INT(cni_record_gc(state, "net3", valid, &failed), 0);

    test_case("gc with nothing valid");
    cJSON_Delete(valid);
    valid = cJSON_CreateArray();
    TEST_EQ_INT(cni_record_gc(state, "net1", valid, &failed), 0);
    TEST_EQ_INT(test_count_temp_files(dir), 0);
    char *readme = path_of("gc/net1/README");
    char *a = path_of("gc/net1/a:eth0");
    TEST_CHECK(test_exists(readme));
    TEST_CHECK(!test_exists(a));
    free(readme);
    free(a);

    cJSON_Delete(valid);
    free(state);
    free(dir);
    test_case(NULL);
}

int
main(void)
{
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    test_write_remove();
    test_errors();
    test_gc();
    test_remove_tree(base);
    return test_summary();
}
