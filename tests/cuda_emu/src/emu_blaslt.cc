// CUDA emulation: cuBLASLt (the handle, matmul descriptors, matrix layouts, preferences, the heuristic and
// cublasLtMatmul), computing with cuBLAS's product (emu_gemm, emu_blas.cc) so the two libraries give the same
// bits. What is checked is what real cuBLASLt checks and a backend bug would otherwise hide behind:
// - attribute buffers of exactly the attribute's size (INVALID_VALUE), as cuBLASLt verifies sizeInBytes;
// - the layouts' types against the compute and scale types: fp32 compute and scale with fp32 or bf16 A and B
//   (the same for both) and fp32 C and D; a mixed fp32 / bf16 pair or a C type other than D's is a combination
//   cuBLASLt has no kernel for (NOT_SUPPORTED, from the heuristic and from the matmul);
// - the layouts' sizes against each other (op(A) m x k, op(B) k x n, C and D m x n) and leading dimensions of
//   at least the rows (INVALID_VALUE);
// - the algorithm: made by this emulation's heuristic for the same types, its workspace need <= the size passed
//   (INVALID_VALUE, as cuBLASLt documents), the workspace device memory of at least the size passed, and every
//   pointer aligned as the algorithm assumes (the preference's MIN_ALIGNMENT, 256 by default, capped at 16:
//   kernels load at most 16 bytes at once); a workspace or operand that is not device memory, or a misaligned
//   pointer, is the fault a GPU would take: a message and a sticky error;
// - beta == 0 never reads C, operand spans as device memory (emu_gemm).
// D must be C (in place, one layout): the only form Shear uses; anything else is NOT_SUPPORTED here.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cublasLt.h"
#include "emu_internal.h"

struct EmuCublasLt {
    int unused;
};
struct EmuLtMatmulDesc {
    cublasComputeType_t compute;
    cudaDataType_t scale;
    int32_t transa, transb;
};
struct EmuLtLayout {
    cudaDataType type;
    uint64_t rows, cols;
    int64_t ld;
};
struct EmuLtPreference {
    uint64_t max_workspace;
    uint32_t align[4]; // A, B, C, D
};

static long long g_heuristic_calls = 0;

// The emulated algorithm in cublasLtMatmulAlgo_t.data: what the heuristic chose it for, checked by the matmul.
// ALGO_ALIGN holds the four alignments (A, B, C, D), 16 bits each.
enum { ALGO_MAGIC = 0, ALGO_COMPUTE, ALGO_AB_TYPE, ALGO_CD_TYPE, ALGO_WORKSPACE, ALGO_ALIGN };
static uint64_t algo_align(const cublasLtMatmulAlgo_t *a, int i) { return (a->data[ALGO_ALIGN] >> (16 * i)) & 0xffff; }
static const uint64_t EMU_ALGO_MAGIC = 0x456d754c74416c67ull; // "EmuLtAlg"
static const uint32_t EMU_ALIGN_MAX = 16;                       // the widest load of the emulated kernels

extern "C" {

long long emu_cublaslt_heuristic_calls(void) { return g_heuristic_calls; }

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = (cublasLtHandle_t)calloc(1, sizeof(EmuCublasLt));
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    free(handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType) {
    if (!desc) return CUBLAS_STATUS_INVALID_VALUE;
    *desc = (cublasLtMatmulDesc_t)calloc(1, sizeof(EmuLtMatmulDesc));
    if (!*desc) return CUBLAS_STATUS_ALLOC_FAILED;
    (*desc)->compute = computeType;
    (*desc)->scale = scaleType;
    (*desc)->transa = (*desc)->transb = CUBLAS_OP_N;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
    free(desc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t sizeInBytes) {
    if (!desc || !buf) return CUBLAS_STATUS_INVALID_VALUE;
    if (attr != CUBLASLT_MATMUL_DESC_TRANSA && attr != CUBLASLT_MATMUL_DESC_TRANSB) {
        fprintf(stderr, EMU_PREFIX "cublasLtMatmulDescSetAttribute: attribute %d; the emulation has TRANSA and "
                "TRANSB only\n", (int)attr);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (sizeInBytes != sizeof(int32_t)) return CUBLAS_STATUS_INVALID_VALUE;
    int32_t op;
    memcpy(&op, buf, sizeof op);
    if (op != CUBLAS_OP_N && op != CUBLAS_OP_T) return CUBLAS_STATUS_INVALID_VALUE;
    (attr == CUBLASLT_MATMUL_DESC_TRANSA ? desc->transa : desc->transb) = op;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    if (!layout) return CUBLAS_STATUS_INVALID_VALUE;
    *layout = (cublasLtMatrixLayout_t)calloc(1, sizeof(EmuLtLayout));
    if (!*layout) return CUBLAS_STATUS_ALLOC_FAILED;
    **layout = EmuLtLayout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    free(layout);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    if (!pref) return CUBLAS_STATUS_INVALID_VALUE;
    *pref = (cublasLtMatmulPreference_t)calloc(1, sizeof(EmuLtPreference));
    if (!*pref) return CUBLAS_STATUS_ALLOC_FAILED;
    for (int i = 0; i < 4; i++) (*pref)->align[i] = 256; // cuBLASLt's default
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    free(pref);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t sizeInBytes) {
    if (!pref || !buf) return CUBLAS_STATUS_INVALID_VALUE;
    if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
        if (sizeInBytes != sizeof(uint64_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&pref->max_workspace, buf, sizeof(uint64_t));
        return CUBLAS_STATUS_SUCCESS;
    }
    if (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES) {
        if (sizeInBytes != sizeof(uint32_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&pref->align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, sizeof(uint32_t));
        return CUBLAS_STATUS_SUCCESS;
    }
    fprintf(stderr, EMU_PREFIX "cublasLtMatmulPreferenceSetAttribute: attribute %d; the emulation has "
            "MAX_WORKSPACE_BYTES and MIN_ALIGNMENT_A/B/C/D_BYTES only\n", (int)attr);
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

// fp32 compute and scale; A and B both fp32 or both bf16; C and D both fp32. Anything else: NOT_SUPPORTED with
// a message (`who` the API), as cuBLASLt has no kernel for a mixed pair and the emulation no other types.
static cublasStatus_t types_ok(const char *who, const EmuLtMatmulDesc *d, const EmuLtLayout *a, const EmuLtLayout *b,
                               const EmuLtLayout *c, const EmuLtLayout *dd) {
    const int ab = a->type == b->type && (a->type == CUDA_R_32F || a->type == CUDA_R_16BF);
    if (d->compute == CUBLAS_COMPUTE_32F && d->scale == CUDA_R_32F && ab && c->type == CUDA_R_32F &&
        dd->type == CUDA_R_32F)
        return CUBLAS_STATUS_SUCCESS;
    fprintf(stderr, EMU_PREFIX "%s: compute %d, scale %d, A %d, B %d, C %d, D %d: no such kernel (the emulation "
            "has fp32 compute and scale, fp32 or bf16 A and B alike, fp32 C and D)\n", who, (int)d->compute,
            (int)d->scale, (int)a->type, (int)b->type, (int)c->type, (int)dd->type);
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

// The product's sizes from the layouts: op(A) m x k, op(B) k x n, C and D m x n, every ld >= max(1, rows).
// INVALID_VALUE when they conflict; NOT_SUPPORTED beyond 32-bit sizes (cuBLASLt: "usually only values that
// can be expressed as int32_t are supported").
static cublasStatus_t sizes_of(const EmuLtMatmulDesc *d, const EmuLtLayout *a, const EmuLtLayout *b,
                               const EmuLtLayout *c, const EmuLtLayout *dd, int *m, int *n, int *k) {
    const EmuLtLayout *all[4] = {a, b, c, dd};
    for (const EmuLtLayout *l : all) {
        if (l->rows > INT32_MAX || l->cols > INT32_MAX || l->ld > INT32_MAX) return CUBLAS_STATUS_NOT_SUPPORTED;
        if (l->ld < 1 || (uint64_t)l->ld < l->rows) return CUBLAS_STATUS_INVALID_VALUE;
    }
    const uint64_t am = d->transa == CUBLAS_OP_T ? a->cols : a->rows, ak = d->transa == CUBLAS_OP_T ? a->rows : a->cols;
    const uint64_t bk = d->transb == CUBLAS_OP_T ? b->cols : b->rows, bn = d->transb == CUBLAS_OP_T ? b->rows : b->cols;
    if (ak != bk || am != c->rows || bn != c->cols || c->rows != dd->rows || c->cols != dd->cols)
        return CUBLAS_STATUS_INVALID_VALUE;
    *m = (int)am, *n = (int)bn, *k = (int)ak;
    return CUBLAS_STATUS_SUCCESS;
}

// The algorithm for the preference: workspace CUBLASLT_EMU_ALGO_WORKSPACE if allowed, else none; alignment
// assumed per operand min(preference, 16), and none below the element size exists.
static cublasStatus_t choose(const EmuLtMatmulDesc *d, const EmuLtLayout *a, const EmuLtLayout *c,
                             const EmuLtPreference *pref, cublasLtMatmulHeuristicResult_t *r) {
    memset(r, 0, sizeof *r);
    uint64_t *w = r->algo.data;
    w[ALGO_MAGIC] = EMU_ALGO_MAGIC;
    w[ALGO_COMPUTE] = (uint64_t)d->compute;
    w[ALGO_AB_TYPE] = (uint64_t)a->type;
    w[ALGO_CD_TYPE] = (uint64_t)c->type;
    w[ALGO_WORKSPACE] = pref->max_workspace >= CUBLASLT_EMU_ALGO_WORKSPACE ? CUBLASLT_EMU_ALGO_WORKSPACE : 0;
    const uint32_t elt[4] = {a->type == CUDA_R_16BF ? 2u : 4u, a->type == CUDA_R_16BF ? 2u : 4u, 4u, 4u};
    for (int i = 0; i < 4; i++) {
        uint32_t al = pref->align[i] < EMU_ALIGN_MAX ? pref->align[i] : EMU_ALIGN_MAX;
        if (al < elt[i] || (al & (al - 1))) {
            fprintf(stderr, EMU_PREFIX "cublasLtMatmulAlgoGetHeuristic: minimum alignment %u bytes of operand %c: no "
                    "kernel (a power of two of at least the element size, %u bytes)\n", pref->align[i], "ABCD"[i],
                    elt[i]);
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
        w[ALGO_ALIGN] |= (uint64_t)al << (16 * i);
    }
    r->workspaceSize = (size_t)w[ALGO_WORKSPACE];
    r->state = CUBLAS_STATUS_SUCCESS;
    r->wavesCount = 1.0f;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t Adesc, cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t pref, int requestedAlgoCount,
                                              cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
                                              int *returnAlgoCount) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    g_heuristic_calls++;
    if (!desc || !Adesc || !Bdesc || !Cdesc || !Ddesc || !pref || requestedAlgoCount <= 0 || !heuristicResultsArray ||
        !returnAlgoCount)
        return CUBLAS_STATUS_INVALID_VALUE;
    *returnAlgoCount = 0;
    cublasStatus_t s = types_ok("cublasLtMatmulAlgoGetHeuristic", desc, Adesc, Bdesc, Cdesc, Ddesc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    int m, n, k;
    if ((s = sizes_of(desc, Adesc, Bdesc, Cdesc, Ddesc, &m, &n, &k)) != CUBLAS_STATUS_SUCCESS) return s;
    if ((s = choose(desc, Adesc, Cdesc, pref, &heuristicResultsArray[0])) != CUBLAS_STATUS_SUCCESS) return s;
    *returnAlgoCount = 1;
    return CUBLAS_STATUS_SUCCESS;
}

// The fault a GPU would take at pointer p: a message, a sticky error.
static cublasStatus_t fault(const char *what, const void *p, cudaError_t e) {
    char where[160];
    emu_describe_pointer(p, where, sizeof where);
    fprintf(stderr, EMU_PREFIX "cublasLtMatmul: %s (%p: %s): the GPU would fault here\n", what, p, where);
    emu_set_error(e, 1);
    return CUBLAS_STATUS_EXECUTION_FAILED;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspaceSizeInBytes, cudaStream_t stream) {
    (void)stream; // the emulation runs every call at once, in host order
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!desc || !Adesc || !Bdesc || !Cdesc || !Ddesc || !alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
    cublasStatus_t s = types_ok("cublasLtMatmul", desc, Adesc, Bdesc, Cdesc, Ddesc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    int m, n, k;
    if ((s = sizes_of(desc, Adesc, Bdesc, Cdesc, Ddesc, &m, &n, &k)) != CUBLAS_STATUS_SUCCESS) return s;
    if (C != D || Cdesc->ld != Ddesc->ld) {
        fprintf(stderr, EMU_PREFIX "cublasLtMatmul: D is not C with C's layout; the emulation computes in place only\n");
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    cublasLtMatmulHeuristicResult_t implicit;
    if (!algo) { // cuBLASLt's implicit query, with the default preference (no workspace)
        g_heuristic_calls++;
        EmuLtPreference def;
        memset(&def, 0, sizeof def);
        for (int i = 0; i < 4; i++) def.align[i] = 256;
        if ((s = choose(desc, Adesc, Cdesc, &def, &implicit)) != CUBLAS_STATUS_SUCCESS) return s;
        algo = &implicit.algo;
    }
    const uint64_t *w = algo->data;
    if (w[ALGO_MAGIC] != EMU_ALGO_MAGIC || w[ALGO_COMPUTE] != (uint64_t)desc->compute ||
        w[ALGO_AB_TYPE] != (uint64_t)Adesc->type || w[ALGO_CD_TYPE] != (uint64_t)Cdesc->type) {
        fprintf(stderr, EMU_PREFIX "cublasLtMatmul: the algorithm was not chosen by cublasLtMatmulAlgoGetHeuristic "
                "for these types\n");
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (workspaceSizeInBytes < w[ALGO_WORKSPACE]) {
        fprintf(stderr, EMU_PREFIX "cublasLtMatmul: workspace of %zu bytes, the algorithm needs %llu\n",
                workspaceSizeInBytes, (unsigned long long)w[ALGO_WORKSPACE]);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (workspaceSizeInBytes > 0 && !workspace) return CUBLAS_STATUS_INVALID_VALUE;
    if (emu_sticky_error() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    // the library may use all of the workspace it was given
    if (workspaceSizeInBytes > 0 && !emu_is_device_range(workspace, workspaceSizeInBytes))
        return fault("the workspace is not inside one device allocation of the size passed", workspace,
                     cudaErrorIllegalAddress);
    const void *ptrs[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++)
        if ((uintptr_t)ptrs[i] % algo_align(algo, i) != 0) {
            char what[120];
            snprintf(what, sizeof what, "operand %c is not aligned to the %llu bytes its algorithm was chosen for",
                     "ABCD"[i], (unsigned long long)algo_align(algo, i));
            return fault(what, ptrs[i], cudaErrorMisalignedAddress);
        }
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    return emu_gemm("cublasLtMatmul", desc->transa == CUBLAS_OP_T, desc->transb == CUBLAS_OP_T, m, n, k,
                    *(const float *)alpha, A, (int)Adesc->ld, B, (int)Bdesc->ld, *(const float *)beta, (float *)D,
                    (int)Ddesc->ld, Adesc->type == CUDA_R_16BF);
}

} // extern "C"
