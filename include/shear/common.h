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
// Errors raised while on are the same on every rank (the deck and the command line, which every rank reads
// alike): rank 0 prints the message once and the other ranks exit without printing, so mpirun -np 64 shows one
// line, not 64 interleaved copies. Off, a multi-rank error names its rank: "shear: error: rank 3: ...". A rank
// other than 0 waits SHEAR_SHARED_ERROR_WAIT_S for rank 0's abort to end it before it prints after all.
void shear_errors_shared(int on);
#define SHEAR_SHARED_ERROR_WAIT_S 10
// SHEAR_DIE for a verdict every rank reaches alike (a value after an all-reduce): said once, by rank 0.
#define SHEAR_DIE_ALL(...) do { shear_errors_shared(1); shear_die(__FILE__, __LINE__, __VA_ARGS__); } while (0)
// 1 while a file is being written under its temporary name (between shear_tmp_begin and shear_tmp_done).
int shear_writing(void);
// The temporary file registered last and not yet done, or NULL.
const char *shear_tmp_current(void);
#define SHEAR_CHECK(cond, ...) do { if (!(cond)) shear_die(__FILE__, __LINE__, __VA_ARGS__); } while (0)

// A file being written under a temporary name before its rename: until shear_tmp_done, shear_die removes it, so a
// failed command never leaves a half-written file behind (the final name is only ever written by the rename).
void shear_tmp_begin(const char *tmp_path);
void shear_tmp_done(const char *tmp_path);
// A folder the command created for its output (shear export): until shear_tmp_dir_done, shear_die removes the
// files in it and the folder, so a failed export leaves no half-filled folder behind.
void shear_tmp_dir_begin(const char *dir);
void shear_tmp_dir_done(void);

// Allocation that cannot return NULL: out of memory names the size asked for.
void *shear_malloc_(size_t bytes, const char *file, int line);
void *shear_calloc_(size_t n, size_t size, const char *file, int line);
#define shear_malloc(bytes) shear_malloc_((bytes), __FILE__, __LINE__)
#define shear_calloc(n, size) shear_calloc_((n), (size), __FILE__, __LINE__)
char *shear_strdup(const char *s);

// Rank-0 logging. shear_log_rank and shear_world_size are set by dist_init; before it, from the launcher's
// environment (shear_launcher_rank, called by main), so a command line error is printed once, not once per rank.
extern int shear_log_rank;
extern int shear_world_size;
void shear_launcher_rank(void);
// A command line error (the text, usually with "usage: ..."), printed by rank 0 only in one write; exits 2.
void shear_usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
// exit(code) for an error rank 0 reports: a rank other than 0 first waits SHEAR_SHARED_ERROR_WAIT_S for the
// launcher to end it (rank 0 exiting ends the job), so rank 0's message is never cut off by a faster peer.
void shear_quiet_exit(int code) __attribute__((noreturn));
void shear_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shear_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Formats one error message into err (when err is non-NULL) and returns -1: the "return fail(...)" idiom of
// functions that report errors instead of dying.
int shear_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Writes s as a JSON string literal (quotes, backslashes and control characters escaped).
void shear_json_string(FILE *f, const char *s);
// 1 when the JSON text s[n] holds a \u0000 escape (cJSON would cut the string there).
int shear_json_has_nul_escape(const char *s, size_t n);

// Wall clock in seconds (monotonic).
double shear_now(void);

// Reads a whole file into a NUL-terminated buffer; *len gets its size. Dies naming the path on failure.
char *shear_read_file(const char *path, size_t *len);
// mkdir -p; dies naming the path when it cannot.
void shear_mkdirs(const char *path);
int shear_file_exists(const char *path);

// Test knob SHEAR_TEST_FSIZE_LIMIT=BYTES (README, test knobs): no file this process writes may grow past BYTES
// (RLIMIT_FSIZE with SIGXFSZ ignored, so the write fails with EFBIG like on a full disk). Applied after MPI is up
// (dist_init; main for commands without MPI), because MPI's own start-up writes files too.
void shear_test_write_limit(void);

#endif
