// Every rank keeps its own sampler, draws each global batch and takes its contiguous slice; rank 0 gathers the
// slices and prints a digest of all batches. tests/data/sampler_ranks.sh runs this with 1, 2 and 3 ranks and
// checks the digests are equal. The proportions change every 50 steps (as dynamic batch loading does), and
// halfway the state is saved and restored into a fresh sampler (as a restart does).
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shear/sampler.h"

enum { K = 4, STEPS = 400, BATCH = 30 };

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    uint64_t n_seqs[K] = {37, 5, 120, 9};
    Sampler s;
    sampler_init(&s, 2024, K, n_seqs);
    SampleRef batch[BATCH], gathered[BATCH];
    int counts[64], displs[64];
    for (int r = 0; r < size; r++) { // rank r owns [r*B/R, (r+1)*B/R): uneven for 3 ranks
        int lo = BATCH * r / size, hi = BATCH * (r + 1) / size;
        counts[r] = hi - lo;
        displs[r] = lo;
    }
    int lo = displs[rank];
    // SampleRef as bytes: int + padding + uint64 (same layout on every rank)
    MPI_Datatype ref_type;
    MPI_Type_contiguous((int)sizeof(SampleRef), MPI_BYTE, &ref_type);
    MPI_Type_commit(&ref_type);
    uint64_t digest = 1469598103934665603ull;
    size_t epochs = 0;
    for (int step = 0; step < STEPS; step++) {
        double w[K] = {0.25, 0.25, 0.25, 0.25};
        int phase = step / 50;
        w[phase % K] += 0.3;
        w[(phase + 1) % K] -= 0.2;
        w[(phase + 2) % K] -= 0.1;
        if (step == STEPS / 2) { // restart: only the saved numbers carry over
            uint64_t saved[2 + 2 * K] = {s.seed, s.step};
            for (int d = 0; d < K; d++) saved[2 + d] = s.cursor[d], saved[2 + K + d] = s.epoch[d];
            memset(&s, 0xAB, sizeof s);
            sampler_init(&s, saved[0], K, n_seqs);
            s.step = saved[1];
            for (int d = 0; d < K; d++) s.cursor[d] = saved[2 + d], s.epoch[d] = saved[2 + K + d];
        }
        epochs += (size_t)sampler_next_batch(&s, w, BATCH, batch, NULL);
        // only this rank's slice leaves the rank
        MPI_Gatherv(batch + lo, counts[rank], ref_type, gathered, counts, displs, ref_type, 0, MPI_COMM_WORLD);
        if (rank == 0)
            for (int i = 0; i < BATCH; i++) {
                digest = fnv1a(digest, &gathered[i].domain, sizeof gathered[i].domain);
                digest = fnv1a(digest, &gathered[i].seq, sizeof gathered[i].seq);
            }
    }
    if (rank == 0)
        printf("ranks %d: %d steps x %d samples, %zu epoch starts, digest %016llx\n", size, STEPS, BATCH, epochs,
               (unsigned long long)digest);
    MPI_Type_free(&ref_type);
    MPI_Finalize();
    return 0;
}
