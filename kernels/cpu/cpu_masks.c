// Hard-concrete mask sampling and its gradient. Each gate redraws its u from its own Philox counter, so the
// backward pass needs no stored noise and any thread count gives the same bits.
#include "shear/hardconcrete.h"

#include "cpu_ops.h"

void cpu_hardconcrete_sample(float *z, const float *log_alpha, size_t n, uint64_t seed, uint64_t counter0) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) z[i] = (float)hc_z(hc_y(hc_uniform(seed, counter0 + i), (double)log_alpha[i]));
}

void cpu_hardconcrete_bwd(float *dlog_alpha, const float *dz, const float *log_alpha, size_t n, uint64_t seed,
                          uint64_t counter0) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double y = hc_y(hc_uniform(seed, counter0 + i), (double)log_alpha[i]);
        dlog_alpha[i] += (float)((double)dz[i] * hc_dz_da(y));
    }
}
