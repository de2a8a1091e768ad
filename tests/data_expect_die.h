// Test helper for the data area: runs fn(arg) in a child process and checks that it exits non-zero with a
// message on stderr containing `expect`. Call before MPI_Init (a forked MPI process must not finalize).
#ifndef SHEAR_TEST_DATA_EXPECT_DIE_H
#define SHEAR_TEST_DATA_EXPECT_DIE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int expect_die(const char *what, void (*fn)(void *), void *arg, const char *expect) {
    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); return 1; }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0); // fn returned: it did not die
    }
    close(fds[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t got;
    while ((got = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)got;
    buf[n] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int died = WIFEXITED(status) && WEXITSTATUS(status) != 0;
    int named = strstr(buf, expect) != NULL;
    if (!died || !named) {
        fprintf(stderr, "FAIL %s: exit status %d, expected a non-zero exit with '%s' in: %s\n", what,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, expect, buf);
        return 1;
    }
    printf("ok   %s dies: %s", what, strstr(buf, "error:") ? strstr(buf, "error:") : buf);
    return 0;
}

#endif
