// Error reporting, checked allocation, logging and small file helpers used by every module.
#include "shear/common.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int shear_log_rank = 0;
int shear_world_size = 1;

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

static char tmp_dir[4096]; // a folder this command created and fills: shear_die empties and removes it

void shear_tmp_dir_begin(const char *dir) { snprintf(tmp_dir, sizeof tmp_dir, "%s", dir); }
void shear_tmp_dir_done(void) { tmp_dir[0] = 0; }

// Only the flat folder this process made (an export writes no sub-folders): its files, then the folder.
static void remove_tmp_dir(void) {
    if (!tmp_dir[0]) return;
    DIR *d = opendir(tmp_dir);
    if (d) {
        char p[8192];
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmp_dir);
}

static void (*fatal_hook)(int code);
static atomic_int dying;
static _Thread_local int dying_here;
static atomic_int errors_shared;

void shear_set_fatal_hook(void (*hook)(int code)) { fatal_hook = hook; }
void shear_errors_shared(int on) { atomic_store(&errors_shared, on); }

const char *shear_tmp_current(void) {
    for (int i = TMP_SLOTS - 1; i >= 0; i--)
        if (tmp_paths[i][0]) return tmp_paths[i];
    return NULL;
}

int shear_writing(void) {
    for (int i = 0; i < TMP_SLOTS; i++)
        if (tmp_paths[i][0]) return 1;
    return 0;
}

// One write(2) per line: ranks that share a terminal or a Slurm output file interleave at write boundaries, so
// a message printed in pieces (fprintf of a prefix, then the text) could be cut by another rank's.
static void write_line(const char *prefix, const char *fmt, va_list ap, const char *suffix) {
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
    if (n < sizeof buf) n += (size_t)vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    if (n < sizeof buf) n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", suffix);
    if (n >= sizeof buf) { // cut: keep the line whole
        n = sizeof buf - 1;
        buf[n - 1] = '\n';
    }
    fflush(stderr);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, buf + off, n - off);
        if (w <= 0 && errno != EINTR) break;
        if (w > 0) off += (size_t)w;
    }
}

void shear_die(const char *file, int line, const char *fmt, ...) {
    // One death per process: a second thread (the watchdog, or the main thread while the watchdog fires) waits
    // for the first to end the process; a die from inside the hook ends it at once.
    if (dying_here) _exit(SHEAR_EXIT_ERROR);
    dying_here = 1;
    if (atomic_exchange(&dying, 1))
        for (;;) pause();
    // An error every rank meets the same way (shear_errors_shared) is said once, by rank 0; the others wait to
    // be ended by rank 0's abort, and speak up (with their rank) only if that never comes. An error of one
    // rank names the rank.
    int shared = atomic_load(&errors_shared) && shear_world_size > 1;
    if (shared && shear_log_rank != 0) sleep(SHEAR_SHARED_ERROR_WAIT_S);
    char prefix[64] = "shear: error: ", suffix[320];
    if (shear_world_size > 1 && !(shared && shear_log_rank == 0))
        snprintf(prefix, sizeof prefix, "shear: error: rank %d: ", shear_log_rank);
    snprintf(suffix, sizeof suffix, " (%s:%d)\n", file, line);
    va_list ap;
    va_start(ap, fmt);
    write_line(prefix, fmt, ap, suffix);
    va_end(ap);
    int writing = shear_writing();
    for (int i = 0; i < TMP_SLOTS; i++)
        if (tmp_paths[i][0]) unlink(tmp_paths[i]);
    remove_tmp_dir();
    // dist_init's hook aborts NCCL communicators and MPI (every rank), so this file needs neither library
    if (fatal_hook) fatal_hook(SHEAR_EXIT_ERROR);
    // exit() would run HDF5's atexit close of the file being written: more writes to a failing disk, or a
    // collective close that waits for ranks that are gone. The temporary file is removed already.
    if (writing) _exit(SHEAR_EXIT_ERROR);
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
    write_line("shear: warning: ", fmt, ap, "\n");
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

void shear_test_write_limit(void) {
    static int done;
    const char *v = getenv("SHEAR_TEST_FSIZE_LIMIT");
    if (done || !v || !*v) return;
    done = 1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < 1)
        SHEAR_DIE("SHEAR_TEST_FSIZE_LIMIT='%s': expected a size in bytes >= 1 (a test knob; unset it for real runs)", v);
    // ignored, a write past the limit fails with EFBIG instead of killing the process: a full disk, in effect
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {(rlim_t)n, (rlim_t)n};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) SHEAR_DIE("SHEAR_TEST_FSIZE_LIMIT: setrlimit failed: %s", strerror(errno));
}

// The launchers' names for the rank and the job size: Open MPI, PMIx, MPICH/Intel MPI (PMI), Slurm's srun.
static int launcher_env(const char *const *names) {
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return atoi(v);
    }
    return -1;
}

void shear_launcher_rank(void) {
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", NULL};
    int r = launcher_env(ranks), n = launcher_env(sizes);
    if (r >= 0) shear_log_rank = r;
    if (n >= 1) shear_world_size = n;
}

void shear_quiet_exit(int code) {
    // exiting first, this rank could make the launcher kill rank 0 before rank 0 has printed the message
    if (shear_log_rank != 0 && shear_world_size > 1) sleep(SHEAR_SHARED_ERROR_WAIT_S);
    exit(code);
}

void shear_usage_error(const char *fmt, ...) {
    if (shear_log_rank == 0) {
        va_list ap;
        va_start(ap, fmt);
        write_line("", fmt, ap, "");
        va_end(ap);
    }
    shear_quiet_exit(SHEAR_EXIT_USAGE);
}

int shear_json_has_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 6 <= n && memcmp(s + i + 2, "0000", 4) == 0) return 1;
        i++;  // skip the escaped character, so "\\u0000" (a backslash, then text) is not taken for one
    }
    return 0;
}
