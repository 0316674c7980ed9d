/*
 * cni-record.c: attachment records.
 */
#include "cni-record.h"

#include "ovn-lm-proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cni-json.h"
#include "cni-util.h"

/* Temporary files are hidden, so that no reader takes one for a record;
 * GC sweeps any that a killed ADD left behind. */
#define TMP_PREFIX ".tmp-"

static char *
dir_path(const char *state_dir, const char *network)
{
    return cni_xasprintf("%s/%s", state_dir, network);
}

/* Returns the path of the record of attachment ('container_id', 'ifname')
 * of network 'network' under 'state_dir'.  The caller frees it. */
char *
cni_record_path(const char *state_dir, const char *network,
                const char *container_id, const char *ifname)
{
    return cni_xasprintf(OVN_LM_RECORD_FMT, state_dir, network, container_id,
                         ifname);
}

/* Creates directory 'path' and its missing parents with mode 0700. */
static int
mkdir_p(const char *path)
{
    char *copy = cni_xstrdup(path);
    int error = 0;

    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || !*p) {
            char c = *p;

            *p = '\0';
            if (copy[0] && mkdir(copy, 0700) < 0 && errno != EEXIST) {
                error = errno;
                break;
            }
            *p = c;
            if (!c) {
                break;
            }
        }
    }
    free(copy);
    return error;
}

static int
write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

static void
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes the record of attachment ('container_id', 'ifname') of network
 * 'network' under 'state_dir', holding {"netns", "time"}, creating the
 * directories as needed.  The record appears atomically (a temporary file
 * renamed into place, never left behind) with mode 0600 in a 0700
 * directory.  Returns 0 or an errno value. */
int
cni_record_write(const char *state_dir, const char *network,
                 const char *container_id, const char *ifname,
                 const char *netns)
{
    char *dir = dir_path(state_dir, network);
    char *path = cni_record_path(state_dir, network, container_id, ifname);
    char *tmp = cni_xasprintf("%s/" TMP_PREFIX "XXXXXX", dir);
    char *text = NULL;
    char stamp[32];
    struct tm tm;
    time_t now;
    cJSON *json;
    int error;
    int fd = -1;

    error = mkdir_p(dir);
    if (error) {
        goto out;
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json = cni_json_xobject();
    cni_json_xadd(json, "netns", cni_json_xstring(netns));
    cni_json_xadd(json, "time", cni_json_xstring(stamp));
    text = cni_json_xprint(json);
    cJSON_Delete(json);

    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        error = errno;
        goto out;
    }
    error = write_all(fd, text, strlen(text));
    if (!error) {
        error = write_all(fd, "\n", 1);
    }
    if (!error && fsync(fd) < 0) {
        error = errno;
    }
    if (close(fd) < 0 && !error) {
        error = errno;
    }
    if (!error && rename(tmp, path) < 0) {
        error = errno;
    }
    if (error) {
        unlink(tmp);
    } else {
        fsync_dir(dir);
    }

out:
    free(text);
    free(tmp);
    free(path);
    free(dir);
    return error;
}

/* Removes the record of attachment ('container_id', 'ifname') of network
 * 'network' under 'state_dir'.  Returns 0 (also if there was none) or an
 * errno value. */
int
cni_record_remove(const char *state_dir, const char *network,
                  const char *container_id, const char *ifname)
{
    char *path = cni_record_path(state_dir, network, container_id, ifname);
    int error = unlink(path) < 0 && errno != ENOENT ? errno : 0;

    free(path);
    return error;
}

/* Stores in '*existsp' whether the record of attachment ('container_id',
 * 'ifname') of network 'network' under 'state_dir' exists.  A name too
 * long for the file system means "no": ADD could not have written it.
 * Returns 0, or an errno value (with '*existsp' untouched) if that cannot
 * be told. */
int
cni_record_exists(const char *state_dir, const char *network,
                  const char *container_id, const char *ifname,
                  bool *existsp)
{
    char *path = cni_record_path(state_dir, network, container_id, ifname);
    struct stat st;
    int error = 0;

    if (!lstat(path, &st)) {
        *existsp = true;
    } else if (errno == ENOENT || errno == ENAMETOOLONG) {
        *existsp = false;
    } else {
        error = errno;
    }
    free(path);
    return error;
}

static bool
is_valid(const cJSON *valid, const char *container_id, const char *ifname)
{
    const cJSON *entry;

    cJSON_ArrayForEach (entry, valid) {
        const cJSON *cid = cJSON_GetObjectItem(entry, "containerID");
        const cJSON *ifn = cJSON_GetObjectItem(entry, "ifname");

        if (cJSON_IsString(cid) && cJSON_IsString(ifn)
            && !strcmp(cid->valuestring, container_id)
            && !strcmp(ifn->valuestring, ifname)) {
            return true;
        }
    }
    return false;
}

/* Removes the records of network 'network' under 'state_dir' whose
 * attachment is not in 'valid' (an array of {"containerID", "ifname"}),
 * and any temporary file a killed ADD left.  Other files are not ours and
 * stay.  Tries every entry; returns 0 or the first errno value, with the
 * path that failed in '*failed_pathp' (the caller frees it). */
int
cni_record_gc(const char *state_dir, const char *network,
              const cJSON *valid, char **failed_pathp)
{
    char *dir = dir_path(state_dir, network);
    struct dirent *de;
    int error = 0;
    DIR *d;

    d = opendir(dir);
    if (!d) {
        error = errno == ENOENT ? 0 : errno;
        if (error) {
            *failed_pathp = dir;
        } else {
            free(dir);
        }
        return error;
    }
    while ((de = readdir(d))) {
        char *name = cni_xstrdup(de->d_name);
        char *colon = strchr(name, ':');
        bool remove;

        if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX))) {
            remove = true;
        } else if (colon && name[0] != '.') {
            *colon = '\0';
            remove = !is_valid(valid, name, colon + 1);
        } else {
            remove = false;
        }
        if (remove) {
            char *path = cni_xasprintf("%s/%s", dir, de->d_name);

            if (unlink(path) < 0 && errno != ENOENT && !error) {
                error = errno;
                *failed_pathp = path;
                path = NULL;
            }
            free(path);
        }
        free(name);
    }
    closedir(d);
    free(dir);
    return error;
}
