// The backend selection of the long commands (see run.h): run.device picks the CPU backend or the CUDA one,
// which is reached only through the ops interface (ops_cuda() is NULL when the build has no CUDA backend).
#include <string.h>

#include "shear/common.h"
#include "shear/dist_nccl.h"
#include "shear/ops.h"
#include "shear/run.h"

const ShearOps *run_backend(Dist *dist, const Deck *d, int threads) {
    if (strcmp(d->run_device, "cuda") != 0) {
        ops_cpu_set_threads(threads);
        return ops_cpu();
    }
    const ShearOps *cu = ops_cuda();
    if (!cu)
        SHEAR_DIE("%s: run.device is cuda but this shear was built without the CUDA backend (nvcc was not found at "
                  "configure time; reconfigure with -DSHEAR_CUDA=ON on a machine with the CUDA toolkit); rank %d",
                  d->path, dist->rank);
    if (cu->device_count() == 0)
        SHEAR_DIE("%s: run.device is cuda but rank %d sees no CUDA device (check nvidia-smi, CUDA_VISIBLE_DEVICES "
                  "and --gpus-per-node); run.device: cpu runs on the CPU", d->path, dist->rank);
    dist_nccl_init(dist); // cudaSetDevice(local rank) before any other CUDA call, then the NCCL communicator
    return cu;
}
