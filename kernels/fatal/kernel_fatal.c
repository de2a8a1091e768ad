// The backends' fatal errors (see kernel_fatal.h).
#include "kernel_fatal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static ShearFatalFn g_fatal = NULL;

void kernel_set_fatal(ShearFatalFn die) { g_fatal = die; }

void kernel_die(const char *file, int line, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_fatal) g_fatal(file, line, msg);
    // one write, so the lines of processes that die together do not run into each other
    char buf[2400];
    int n = snprintf(buf, sizeof buf, "shear: error: %s (%s:%d)\n", msg, file, line);
    if (n > 0) (void)!write(STDERR_FILENO, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    exit(1);
}
