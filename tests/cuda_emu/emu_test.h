// Shared by the CUDA emulation's own tests (test_emu_kernels.cc, test_emu_runtime.cc, test_emu_nccl.cc): device
// buffers that end the test when they cannot be had, the FNV-1a hash the digests use, and the child process a
// fault runs in (faults are sticky, so each one gets a fresh process: this program again, with a scenario name).
#ifndef SHEAR_CUDA_EMU_TEST_H
#define SHEAR_CUDA_EMU_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "cuda_runtime.h"

template <typename T> static T *dev(size_t n) {
    T *p = nullptr;
    if (cudaMalloc(&p, n * sizeof(T)) != cudaSuccess) {
        printf("FAIL cudaMalloc of %zu bytes\n", n * sizeof(T));
        exit(1);
    }
    return p;
}

static inline uint64_t fnv(const void *p, size_t n, uint64_t h = 1469598103934665603ull) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

// argv[0] of the test, set first thing in main
static std::string self_path;

// Runs this program with `scenario` under the extra environment `env` (`env`'s syntax: "A=1 -u B"); returns its
// exit status (128 when a signal ended it), its output in *out.
static inline int child(const char *scenario, const std::string &env, std::string *out) {
    char tmp[] = "/tmp/emu_test_XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) return -1;
    close(fd);
    std::string cmd = "env " + env + " '" + self_path + "' " + scenario + " > " + tmp + " 2>&1";
    int rc = system(cmd.c_str());
    FILE *f = fopen(tmp, "r");
    out->clear();
    char buf[4096];
    size_t k;
    while (f && (k = fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, k);
    if (f) fclose(f);
    remove(tmp);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

#endif
