// NCCL plumbing of dist_nccl.c on real GPUs; exits 77 (skipped) without a CUDA device, such as in CI.
//   test_nccl            device selection, the data-parallel communicator, then reduce-scatter, all-gather
//                        and all-reduce on device buffers against exact host sums (small integers are exact
//                        in fp32); any rank count up to the GPUs of the node (skips when there are more ranks)
//   test_nccl die        SHEAR_DIE with a live communicator: the fatal hook must abort it and end the job
//   test_nccl shared     every rank on the same GPU (run with CUDA_VISIBLE_DEVICES=0): dist_nccl_init must
//                        refuse it naming both local ranks (tests/nccl/modes.sh checks the messages)
#include <stdio.h>
#include <string.h>

#include "shear/common.h"
#include "shear/dist.h"
#include "shear/dist_nccl.h"
#include "shear/ops.h"

static int failures = 0;

static void expect_rows(const char *what, const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("FAIL %s: element %zu is %g, expected %g\n", what, i, got[i], want[i]);
            failures++;
            return;
        }
    printf("ok   %s (%zu floats)\n", what, n);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "collectives";
    Dist d;
    dist_init(&d, &argc, &argv);
    const int ndev = ops_cuda()->device_count(); // this test is built only with the CUDA backend
    int skip = ndev == 0 || (strcmp(mode, "collectives") == 0 && d.local_size > ndev);
    MPI_Allreduce(MPI_IN_PLACE, &skip, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (skip) {
        if (d.rank == 0)
            printf("SKIP: needs a CUDA device per rank (%d local ranks, %d visible devices)\n", d.local_size,
                   ndev);
        dist_finalize(&d);
        return 77;
    }
    dist_nccl_init(&d); // "shared" dies in here
    const ShearOps *ops = ops_cuda();
    const size_t R = (size_t)d.size, r = (size_t)d.rank, count = 1000 + 3; // odd: no size happens to align
    float *h = shear_malloc(R * count * sizeof(float));    // [R, count] host staging
    float *want = shear_malloc(R * count * sizeof(float)); // [R, count]
    float *send = ops->alloc(R * count * sizeof(float));   // [R, count] device
    float *recv = ops->alloc(count * sizeof(float));       // [count] device

    if (strcmp(mode, "die") == 0) {
        dist_allreduce_sum(&d, ops, send, R * count);
        SHEAR_DIE("test: rank %zu dies on purpose with a live NCCL communicator", r);
    }

    // reduce-scatter: rank q sends (q + 1) * (i + 1) at flat index i; rank r receives row r summed over ranks
    for (size_t i = 0; i < R * count; i++) h[i] = (float)((r + 1) * (i + 1));
    ops->upload(send, h, R * count * sizeof(float));
    dist_nccl_reduce_scatter_sum(&d, send, recv, count);
    ops->download(h, recv, count * sizeof(float));
    for (size_t j = 0; j < count; j++) want[j] = (float)(R * (R + 1) / 2 * (r * count + j + 1));
    expect_rows("reduce-scatter", h, want, count);

    // all-gather in place: rank r fills row r with r * count + j, the other rows with -1
    for (size_t i = 0; i < R * count; i++) h[i] = i / count == r ? (float)i : -1.0f;
    ops->upload(send, h, R * count * sizeof(float));
    dist_nccl_allgather(&d, send, count);
    ops->download(h, send, R * count * sizeof(float));
    for (size_t i = 0; i < R * count; i++) want[i] = (float)i;
    expect_rows("all-gather", h, want, R * count);

    // all-reduce through the dispatching entry point (the CUDA backend goes to NCCL)
    for (size_t i = 0; i < R * count; i++) h[i] = (float)(r + i);
    ops->upload(send, h, R * count * sizeof(float));
    dist_allreduce_sum(&d, ops, send, R * count);
    ops->download(h, send, R * count * sizeof(float));
    for (size_t i = 0; i < R * count; i++) want[i] = (float)(R * (R - 1) / 2 + R * i);
    expect_rows("all-reduce", h, want, R * count);

    MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ops->free(send);
    ops->free(recv);
    free(h);
    free(want);
    dist_finalize(&d); // ncclCommFinalize + ncclCommDestroy
    if (d.rank == 0) printf("%d failures over %zu ranks\n", failures, R);
    return failures ? 1 : 0;
}
