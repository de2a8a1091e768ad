// MPI_CHECK can fire: dist_init makes MPI calls return their errors, so a broadcast from a root that does not
// exist (rank 5 of 1) is one "shear: error: MPI call ... failed" and exit 1, not MPI's own abort.
// Run by tests/dist.cmake, which checks the exit status and the message.
#include <stdio.h>

#include "shear/dist.h"

int main(int argc, char **argv) {
    Dist d;
    dist_init(&d, &argc, &argv);
    int x = 7;
    dist_world_bcast(&x, sizeof x, d.size + 4); // an invalid root: MPI_ERR_ROOT
    fprintf(stderr, "test_dist_check: the broadcast from a missing root returned\n");
    dist_finalize(&d);
    return 0;
}
