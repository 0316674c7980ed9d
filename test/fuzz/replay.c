/*
 * replay.c: main() for a fuzz target built without libFuzzer.
 *
 * Runs LLVMFuzzerTestOneInput() once on each file named on the command
 * line, or on each regular file of each directory named, in name order.
 * Every input gets a buffer of exactly its size, so that ASan sees any
 * read past its end.  Fails if there was no input at all, which means a
 * misplaced corpus rather than a passing test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    long size;

    if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET)) {
        perror(path);
        if (f) {
            fclose(f);
        }
        return -1;
    }
    data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != (size_t) size) {
        perror(path);
        fclose(f);
        free(data);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int
replay_dir(const char *dir, int *n)
{
    struct dirent **entries;
    int n_entries = scandir(dir, &entries, NULL, alphasort);
    int error = 0;

    if (n_entries < 0) {
        perror(dir);
        return -1;
    }
    for (int i = 0; i < n_entries; i++) {
        size_t len = strlen(dir) + strlen(entries[i]->d_name) + 2;
        char *path = malloc(len);
        struct stat st;

        snprintf(path, len, "%s/%s", dir, entries[i]->d_name);
        if (!stat(path, &st) && S_ISREG(st.st_mode)) {
            if (replay_file(path)) {
                error = -1;
            } else {
                (*n)++;
            }
        }
        free(path);
        free(entries[i]);
    }
    free(entries);
    return error;
}

int
main(int argc, char *argv[])
{
    int error = 0;
    int n = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st)) {
            perror(argv[i]);
            error = -1;
        } else if (S_ISDIR(st.st_mode)) {
            error |= replay_dir(argv[i], &n);
        } else if (replay_file(argv[i])) {
            error = -1;
        } else {
            n++;
        }
    }
    printf("%d inputs replayed\n", n);
    return error || !n;
}
