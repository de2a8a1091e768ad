// The backend selection of the long commands (see run.h): run.device picks the CPU backend or the CUDA one,
// which is reached only through the ops interface (ops_cuda() is NULL when the build has no CUDA backend), and
// run.precision its GEMMs' arithmetic (ShearOps.set_precision).
#include <string.h>

#include "shear/common.h"
#include "shear/dist_nccl.h"
#include "shear/ops.h"
#include "shear/run.h"

// run.precision on the chosen backend.
static const ShearOps *with_precision(const ShearOps *ops, const Deck *d) {
    ShearPrecision p = strcmp(d->run_precision, "bf16") == 0 ? SHEAR_BF16 : SHEAR_FP32;
    if (!ops->set_precision || ops->set_precision(p) != 0)
        SHEAR_DIE("%s: run.precision is %s, which the %s backend cannot do yet; use run.precision: fp32%s", d->path,
                  d->run_precision, ops->name, ops->is_device ? " or run.device: cpu" : "");
    return ops;
}

const ShearOps *run_backend(Dist *dist, const Deck *d, int threads) {
    if (strcmp(d->run_device, "cuda") != 0) {
        ops_cpu_set_threads(threads);
        return with_precision(ops_cpu(), d);
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
    return with_precision(cu, d);
}
