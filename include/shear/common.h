// Shared helpers for every module: error macros that print file:line and a hint, checked allocation,
// logging on rank 0. Kept tiny on purpose: kernels include only ops.h, never this file.
#ifndef SHEAR_COMMON_H
#define SHEAR_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// Exit codes. SHEAR_EXIT_CHECKPOINTED means "checkpointed, not finished": job scripts requeue on it.
#define SHEAR_EXIT_OK 0
#define SHEAR_EXIT_ERROR 1
#define SHEAR_EXIT_USAGE 2
#define SHEAR_EXIT_CHECKPOINTED 75

// Prints "shear: error: <msg> (file:line)" and exits every rank (through the fatal hook when MPI is up).
// The message names what is wrong and what was expected; that is the whole user-facing contract.
void shear_die(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
#define SHEAR_DIE(...) shear_die(__FILE__, __LINE__, __VA_ARGS__)
// Called by shear_die after the message, before exit (from any thread: the watchdog dies too). dist_init
// registers the one that aborts live NCCL communicators and MPI_Abort's a multi-rank job, so no rank waits
// forever in a collective for a dead peer; without it (tools, tests before MPI) shear_die just exits.
void shear_set_fatal_hook(void (*hook)(int code));
#define SHEAR_CHECK(cond, ...) do { if (!(cond)) shear_die(__FILE__, __LINE__, __VA_ARGS__); } while (0)

// A file being written under a temporary name before its rename: until shear_tmp_done, shear_die removes it, so a
// failed command never leaves a half-written file behind (the final name is only ever written by the rename).
void shear_tmp_begin(const char *tmp_path);
void shear_tmp_done(const char *tmp_path);

// Allocation that cannot return NULL: out of memory names the size asked for.
void *shear_malloc_(size_t bytes, const char *file, int line);
void *shear_calloc_(size_t n, size_t size, const char *file, int line);
#define shear_malloc(bytes) shear_malloc_((bytes), __FILE__, __LINE__)
#define shear_calloc(n, size) shear_calloc_((n), (size), __FILE__, __LINE__)
char *shear_strdup(const char *s);

// Rank-0 logging. shear_log_rank is set by dist_init; before that every process logs.
extern int shear_log_rank;
void shear_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shear_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Formats one error message into err (when err is non-NULL) and returns -1: the "return fail(...)" idiom of
// functions that report errors instead of dying.
int shear_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Writes s as a JSON string literal (quotes, backslashes and control characters escaped).
void shear_json_string(FILE *f, const char *s);

// Wall clock in seconds (monotonic).
double shear_now(void);

// Reads a whole file into a NUL-terminated buffer; *len gets its size. Dies naming the path on failure.
char *shear_read_file(const char *path, size_t *len);
// mkdir -p; dies naming the path when it cannot.
void shear_mkdirs(const char *path);
int shear_file_exists(const char *path);

#endif
