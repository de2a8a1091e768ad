// Fatal errors of the backends (kernels/cpu, kernels/cuda), in one place: kernels never include the host's
// common.h, so the message goes to the host's fatal-error function that ShearOps.set_fatal registered (shear_die:
// one message, temporary files removed, every rank ended) or, with none (a test driving a backend directly), is
// printed as one line before exit(1).
#ifndef SHEAR_KERNEL_FATAL_H
#define SHEAR_KERNEL_FATAL_H

#include "shear/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// ShearOps.set_fatal of every backend
void kernel_set_fatal(ShearFatalFn die);
// Formats the message and does not return.
void kernel_die(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
