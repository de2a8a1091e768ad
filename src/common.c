// Error reporting, checked allocation, logging and small file helpers used by every module.
#include "shear/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int shear_log_rank = 0;

#define TMP_SLOTS 8
static char tmp_paths[TMP_SLOTS][4096]; // files shear_die removes: written under a temporary name, not yet renamed

void shear_tmp_begin(const char *tmp_path) {
    for (int i = 0; i < TMP_SLOTS; i++)
        if (!tmp_paths[i][0]) {
            snprintf(tmp_paths[i], sizeof tmp_paths[i], "%s", tmp_path);
            return;
        }
}

void shear_tmp_done(const char *tmp_path) {
    for (int i = 0; i < TMP_SLOTS; i++)
        if (strcmp(tmp_paths[i], tmp_path) == 0) tmp_paths[i][0] = 0;
}

static void (*fatal_hook)(int code);
static atomic_int dying;
static _Thread_local int dying_here;

void shear_set_fatal_hook(void (*hook)(int code)) { fatal_hook = hook; }

void shear_die(const char *file, int line, const char *fmt, ...) {
    // One death per process: a second thread (the watchdog, or the main thread while the watchdog fires) waits
    // for the first to end the process; a die from inside the hook ends it at once.
    if (dying_here) _exit(SHEAR_EXIT_ERROR);
    dying_here = 1;
    if (atomic_exchange(&dying, 1))
        for (;;) pause();
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shear: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s:%d)\n", file, line);
    va_end(ap);
    fflush(stderr);
    for (int i = 0; i < TMP_SLOTS; i++)
        if (tmp_paths[i][0]) unlink(tmp_paths[i]);
    // dist_init's hook aborts NCCL communicators and MPI (every rank), so this file needs neither library
    if (fatal_hook) fatal_hook(SHEAR_EXIT_ERROR);
    exit(SHEAR_EXIT_ERROR);
}

void *shear_malloc_(size_t bytes, const char *file, int line) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) shear_die(file, line, "out of memory allocating %zu bytes; reduce train.micro_batch or the model", bytes);
    return p;
}

void *shear_calloc_(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) shear_die(file, line, "out of memory allocating %zu x %zu bytes; reduce train.micro_batch or the model", n, size);
    return p;
}

char *shear_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = shear_malloc(n);
    memcpy(p, s, n);
    return p;
}

static int log_here(void) { return shear_log_rank == 0; }

void shear_log(const char *fmt, ...) {
    if (!log_here()) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fflush(stdout);
}

void shear_warn(const char *fmt, ...) {
    if (!log_here()) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shear: warning: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

double shear_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *shear_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) SHEAR_DIE("cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = shear_malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) SHEAR_DIE("out of memory reading '%s'", path);
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) SHEAR_DIE("error reading '%s'", path);
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

void shear_mkdirs(const char *path) {
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) SHEAR_DIE("bad directory path '%s'", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                SHEAR_DIE("cannot create directory '%s': %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
}

int shear_file_exists(const char *path) { return access(path, F_OK) == 0; }

int shear_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void shear_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}
