/*
 * test-fs.h: file-system helpers shared by unit tests that work in a
 * temporary directory.
 */
#ifndef TEST_FS_H
#define TEST_FS_H 1

#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Whether 'path' exists (a dangling symlink counts). */
static inline bool
test_exists(const char *path)
{
    struct stat st;

    return !lstat(path, &st);
}

/* The ".tmp-*" files in 'dir': what an atomic write leaves behind when it
 * does not finish. */
static inline int
test_count_temp_files(const char *dir)
{
    struct dirent *de;
    int n = 0;
    DIR *d = opendir(dir);

    while (d && (de = readdir(d))) {
        if (!strncmp(de->d_name, ".tmp-", 5)) {
            n++;
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static inline int
test_remove_entry_(const char *path, const struct stat *st, int flag,
                   struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

/* Removes 'dir' and everything below it. */
static inline void
test_remove_tree(const char *dir)
{
    nftw(dir, test_remove_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* test-fs.h */
