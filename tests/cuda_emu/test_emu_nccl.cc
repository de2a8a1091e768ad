// The CUDA emulation's devices, digest and NCCL (tests/cuda_emu/src/emu_runtime.cc, emu_nccl.cc), under
// mpirun -np 1, 2 or 3: one emulated GPU per rank with its own UUID, CUDA_VISIBLE_DEVICES as the real runtime
// reads it, the digest of device-to-host copies written at exit, and the NCCL collectives Shear uses on MPI:
// results equal to a rank-order sum and bitwise the same on every rank, in place and out of place, plus the
// refusals (host pointers, bad datatypes, a wrong nranks, two ranks on one GPU, no MPI) and an injected failure.
// Scenarios that need their own environment run in a child process (this program with a scenario argument).
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "emu_test.h"
#include "cuda_runtime_api.h"
#include "emu_internal.h"
#include "nccl.h"

static int rank = 0, nranks = 1, passed = 0, failed = 0;

// Every rank checks; rank 0 reports what passed, any rank what failed.
static void check(bool ok, const char *what) {
    if (!ok) printf("FAIL %s (rank %d)\n", what, rank);
    else if (rank == 0) printf("ok   %s\n", what);
    fflush(stdout);
    (ok ? passed : failed)++;
}

static bool has(const char *s, const char *part) { return s && strstr(s, part); }


template <typename T> static void up(T *d, const std::vector<T> &h) {
    cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
}

template <typename T> static std::vector<T> down(const T *d, size_t n) {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
}

template <typename T> static bool same_bits(const std::vector<T> &a, const std::vector<T> &b) {
    return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// the same bytes on every rank
static bool same_on_all(const void *p, size_t bytes) {
    std::vector<char> all(bytes * nranks);
    MPI_Allgather(p, (int)bytes, MPI_BYTE, all.data(), (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    for (int q = 1; q < nranks; q++)
        if (memcmp(all.data(), all.data() + q * bytes, bytes) != 0) return false;
    return true;
}


// rank q's float at index i: magnitudes that differ by rank, so the order of a sum shows in its bits
static float val(int q, size_t i) { return (float)((i * 2654435761u) % 1000003) * 1e-3f * (q % 2 ? 1e4f : 1.0f) + q; }


static std::string read_file(const std::string &path) {
    std::string s;
    FILE *f = fopen(path.c_str(), "r");
    char buf[256];
    size_t k;
    while (f && (k = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, k);
    if (f) fclose(f);
    return s;
}

// ---- child scenarios ----

// the visible devices: "count N error E" and a line per device with its UUID; "setdev1 E"
static int scenario_devices() {
    int n = -1;
    cudaError_t e = cudaGetDeviceCount(&n);
    printf("count %d error %s\n", n, cudaGetErrorName(e));
    for (int d = 0; d < n; d++) {
        cudaDeviceProp p;
        cudaGetDeviceProperties(&p, d);
        printf("uuid %016llx\n", (unsigned long long)fnv(p.uuid.bytes, 16));
    }
    printf("setdev1 %s\n", cudaGetErrorName(cudaSetDevice(1)));
    return 0;
}

// two device-to-host copies with a flush between, then exit(3) as an error path would; TEST_DIGEST_FILE names
// the file SHEAR_CUDA_EMU_DIGEST makes
static int scenario_digest() {
    unsigned char h[100], back[100];
    for (int i = 0; i < 100; i++) h[i] = (unsigned char)(i * 7 + 1);
    unsigned char *d = dev<unsigned char>(100), *d2 = dev<unsigned char>(100);
    cudaMemcpy(d, h, 100, cudaMemcpyHostToDevice);
    cudaMemcpy(back, d, 100, cudaMemcpyDeviceToHost);
    emu_digest_flush();
    printf("flushed %s", read_file(getenv("TEST_DIGEST_FILE")).c_str());
    cudaMemcpy(d2, d, 100, cudaMemcpyDeviceToDevice); // not a device-to-host copy: not in the digest
    cudaMemcpyAsync(back, d2 + 60, 40, cudaMemcpyDeviceToHost, 0);
    fflush(stdout);
    exit(3);
}

// ---- the parts of the test ----

static void test_visible_parsing() {
    struct Case {
        const char *s;
        int physical;
        std::vector<int> want;
    } cases[] = {{"0,1", 8, {0, 1}},     {"2,1", 8, {2, 1}},       {"0,2,-1,1", 8, {0, 2}}, {"", 8, {}},
                 {"-1", 8, {}},          {"7,8,1", 8, {7}},        {"1,1,2", 8, {1}},       {" 3 , 4", 8, {3, 4}},
                 {"1x,2", 8, {}},        {"GPU-5e5f6061", 8, {}}, {"0,1", 0, {}},          {"0,", 8, {0}}};
    for (const Case &c : cases) {
        int out[16];
        const int n = emu_parse_visible(c.s, c.physical, out, 16);
        const bool ok = n == (int)c.want.size() && std::equal(c.want.begin(), c.want.end(), out);
        char what[160];
        snprintf(what, sizeof what, "CUDA_VISIBLE_DEVICES=\"%s\" of %d devices: %d visible", c.s, c.physical,
                 (int)c.want.size());
        check(ok, what);
    }
}

// in child processes: each sees its own environment
static void test_device_env() {
    std::string all, a, b, v31, none, empty;
    child("devices", "-u CUDA_VISIBLE_DEVICES SHEAR_CUDA_EMU_DEVICES=8", &all);
    child("devices", "CUDA_VISIBLE_DEVICES=0 SHEAR_CUDA_EMU_DEVICES=8", &a);
    child("devices", "CUDA_VISIBLE_DEVICES=0 SHEAR_CUDA_EMU_DEVICES=8", &b);
    child("devices", "CUDA_VISIBLE_DEVICES=3,1 SHEAR_CUDA_EMU_DEVICES=8", &v31);
    child("devices", "-u CUDA_VISIBLE_DEVICES SHEAR_CUDA_EMU_DEVICES=0", &none);
    child("devices", "CUDA_VISIBLE_DEVICES= SHEAR_CUDA_EMU_DEVICES=8", &empty);
    std::vector<std::string> u; // the UUID lines of all 8
    for (size_t p = all.find("uuid "); p != std::string::npos; p = all.find("uuid ", p + 1))
        u.push_back(all.substr(p, all.find('\n', p) - p + 1));
    check(has(all.c_str(), "count 8 error cudaSuccess") && u.size() == 8, "8 physical devices by default");
    bool distinct = true;
    for (size_t i = 0; i < u.size(); i++)
        for (size_t j = i + 1; j < u.size(); j++) distinct = distinct && u[i] != u[j];
    check(distinct, "every physical device has its own UUID");
    check(a == b && has(a.c_str(), "count 1 error cudaSuccess") && u.size() == 8 && has(a.c_str(), u[0].c_str()),
          "two processes with CUDA_VISIBLE_DEVICES=0 see one device with one UUID, physical device 0's");
    check(has(a.c_str(), "setdev1 cudaErrorInvalidDevice"), "cudaSetDevice(1) refused when one device is visible");
    check(u.size() == 8 && v31.find("count 2 error cudaSuccess\n" + u[3] + u[1]) != std::string::npos,
          "CUDA_VISIBLE_DEVICES=3,1: device 0 is physical 3, device 1 is physical 1");
    check(has(none.c_str(), "count 0 error cudaErrorNoDevice"), "SHEAR_CUDA_EMU_DEVICES=0: cudaErrorNoDevice, count 0");
    check(has(empty.c_str(), "count 0 error cudaErrorNoDevice"), "CUDA_VISIBLE_DEVICES=\"\": no device");
}

static void test_digest() {
    char dir[] = "/tmp/emu_digest_XXXXXX";
    if (!mkdtemp(dir)) return check(false, "mkdtemp for the digest");
    const std::string file = std::string(dir) + "/d.4";
    std::string out;
    const int rc = child("digest", std::string("SHEAR_CUDA_EMU_DIGEST=") + dir + "/d.%r OMPI_COMM_WORLD_RANK=4 "
                         "TEST_DIGEST_FILE=" + file, &out);
    unsigned char h[100];
    for (int i = 0; i < 100; i++) h[i] = (unsigned char)(i * 7 + 1);
    char one[128], two[128];
    const unsigned long long h1 = fnv(h, 100);
    snprintf(one, sizeof one, "flushed copies 1 bytes 100 fnv1a %016llx\n", h1);
    snprintf(two, sizeof two, "copies 2 bytes 140 fnv1a %016llx\n", (unsigned long long)fnv(h + 60, 40, h1));
    check(rc == 3 && out.find(one) != std::string::npos, "digest: emu_digest_flush writes the copies so far");
    check(read_file(file) == two, "digest: rewritten at exit(3), %r the rank, device-to-device copies not in it");
    std::string names; // no temporary may stay behind
    if (DIR *dp = opendir(dir)) {
        while (struct dirent *e = readdir(dp))
            if (e->d_name[0] != '.') names += std::string(e->d_name) + " ";
        closedir(dp);
    }
    check(names == "d.4 ", "digest: only the final file is left, no temporary");
    if (rc != 3 || read_file(file) != two) printf("%s", out.c_str());
    remove(file.c_str());
    rmdir(dir);
}

static ncclComm_t make_comm(int n, int r, ncclResult_t *res) {
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (rank == 0) ncclGetUniqueId(&id);
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
    ncclComm_t c = (ncclComm_t)&id; // must come back NULL on failure
    *res = ncclCommInitRank(&c, n, id, r);
    return c;
}

static void test_collectives(ncclComm_t comm) {
    const int R = nranks;
    cudaStream_t st;
    cudaStreamCreate(&st);
    char what[160];

    { // all-reduce of floats over more than one 4 MB chunk: out of place, in place, the injected failure (call 3)
        const size_t n = (1u << 20) + 3;
        std::vector<float> h(n), want(n);
        for (size_t i = 0; i < n; i++) {
            h[i] = val(rank, i);
            float acc = val(0, i);
            for (int q = 1; q < R; q++) acc += val(q, i);
            want[i] = acc;
        }
        float *send = dev<float>(n), *recv = dev<float>(n);
        up(send, h);
        ncclResult_t r = ncclAllReduce(send, recv, n, ncclFloat32, ncclSum, comm, st);
        std::vector<float> got = down(recv, n);
        check(r == ncclSuccess && same_bits(got, want), "all-reduce sum, out of place: the rank-order sum, bitwise");
        check(same_on_all(got.data(), n * sizeof(float)), "all-reduce sum: bitwise the same on every rank");
        r = ncclAllReduce(send, send, n, ncclFloat32, ncclSum, comm, st);
        check(r == ncclSuccess && same_bits(down(send, n), want), "all-reduce sum, in place");
        up(send, h);
        r = ncclAllReduce(send, send, n, ncclFloat32, ncclSum, comm, st);
        check(r == ncclRemoteError && has(ncclGetLastError(comm), "cuda-emu: injected failure") &&
                  same_bits(down(send, n), h),
              "SHEAR_CUDA_EMU_NCCL_FAIL=allreduce:3:6: call 3 returns ncclRemoteError and moves nothing");
        r = ncclAllReduce(send, send, n, ncclFloat32, ncclSum, comm, st);
        check(r == ncclSuccess && same_bits(down(send, n), want), "all-reduce call 4 works again");
        cudaFree(send);
        cudaFree(recv);
    }
    { // int32 max and sum, and the refusals
        std::vector<int> h = {rank, -rank, 1000 * rank + 7, 1};
        int *d = dev<int>(4), *o = dev<int>(4);
        up(d, h);
        ncclResult_t r = ncclAllReduce(d, o, 4, ncclInt32, ncclMax, comm, st);
        check(r == ncclSuccess && down(o, 4) == std::vector<int>({R - 1, 0, 1000 * (R - 1) + 7, 1}),
              "all-reduce int32 max");
        r = ncclAllReduce(d, o, 4, ncclInt32, ncclSum, comm, st);
        check(r == ncclSuccess && down(o, 4)[3] == R, "all-reduce int32 sum");
        static float host[4];
        r = ncclAllReduce(host, o, 4, ncclFloat32, ncclSum, comm, st);
        check(r == ncclInvalidArgument && has(ncclGetLastError(comm), "sendbuff") &&
                  has(ncclGetLastError(comm), "not device memory"),
              "a host sendbuff refused with ncclInvalidArgument, naming the buffer");
        r = ncclAllGather(d, host, 1, ncclFloat32, comm, st);
        check(r == ncclInvalidArgument && has(ncclGetLastError(comm), "recvbuff"), "a host recvbuff refused");
        r = ncclAllReduce(d, o, 5, ncclFloat32, ncclSum, comm, st); // 20 bytes of a 16-byte allocation
        check(r == ncclInvalidArgument, "a count past the end of the buffer refused");
        r = ncclAllReduce(d, o, 1, (ncclDataType_t)42, ncclSum, comm, st);
        check(r == ncclInvalidArgument && has(ncclGetLastError(comm), "datatype"), "datatype 42 refused");
        r = ncclAllReduce(d, o, 1, ncclBfloat16, ncclSum, comm, st);
        check(r == ncclInvalidArgument && has(ncclGetLastError(comm), "not emulated"), "a bf16 reduction refused");
        r = ncclAllReduce(d, o, 1, ncclFloat32, (ncclRedOp_t)9, comm, st);
        check(r == ncclInvalidArgument, "reduction op 9 refused");
        cudaFree(d);
        cudaFree(o);
    }
    { // reduce-scatter: out of place, then in place (recvbuff = sendbuff + rank * count)
        const size_t c = 1003;
        std::vector<float> h(R * c), want(c);
        for (size_t i = 0; i < R * c; i++) h[i] = val(rank, i);
        for (size_t j = 0; j < c; j++) {
            float acc = val(0, rank * c + j);
            for (int q = 1; q < R; q++) acc += val(q, rank * c + j);
            want[j] = acc;
        }
        float *send = dev<float>(R * c), *recv = dev<float>(c);
        up(send, h);
        ncclResult_t r = ncclReduceScatter(send, recv, c, ncclFloat32, ncclSum, comm, st);
        check(r == ncclSuccess && same_bits(down(recv, c), want), "reduce-scatter, out of place");
        r = ncclReduceScatter(send, send + rank * c, c, ncclFloat32, ncclSum, comm, st);
        check(r == ncclSuccess && same_bits(down(send + rank * c, c), want), "reduce-scatter, in place");
        cudaFree(send);
        cudaFree(recv);
    }
    { // all-gather: out of place, then in place (sendbuff = recvbuff + rank * count), -1 elsewhere
        const size_t c = 1003;
        std::vector<float> mine(c), buf(R * c, -1.0f), want(R * c);
        for (size_t j = 0; j < c; j++) mine[j] = buf[rank * c + j] = val(rank, j);
        for (int q = 0; q < R; q++)
            for (size_t j = 0; j < c; j++) want[q * c + j] = val(q, j);
        float *send = dev<float>(c), *recv = dev<float>(R * c);
        up(send, mine);
        ncclResult_t r = ncclAllGather(send, recv, c, ncclFloat32, comm, st);
        check(r == ncclSuccess && same_bits(down(recv, R * c), want), "all-gather, out of place");
        up(recv, buf);
        r = ncclAllGather(recv + rank * c, recv, c, ncclFloat32, comm, st);
        check(r == ncclSuccess && same_bits(down(recv, R * c), want), "all-gather, in place");
        cudaFree(send);
        cudaFree(recv);
    }
    { // broadcast from the last rank: out of place, then in place; sendbuff elsewhere is not read
        const size_t c = 77;
        const int root = R - 1;
        std::vector<float> h(c), want(c);
        for (size_t j = 0; j < c; j++) h[j] = val(rank, j), want[j] = val(root, j);
        float *send = dev<float>(c), *recv = dev<float>(c);
        up(send, h);
        ncclResult_t r = ncclBroadcast(rank == root ? send : nullptr, recv, c, ncclFloat32, root, comm, st);
        check(r == ncclSuccess && same_bits(down(recv, c), want), "broadcast from the last rank, out of place");
        r = ncclBroadcast(send, send, c, ncclFloat32, root, comm, st);
        check(r == ncclSuccess && same_bits(down(send, c), want), "broadcast, in place");
        r = ncclBroadcast(send, send, c, ncclFloat32, R, comm, st);
        snprintf(what, sizeof what, "broadcast from root %d of %d ranks refused", R, R);
        check(r == ncclInvalidArgument, what);
        cudaFree(send);
        cudaFree(recv);
    }
    cudaStreamDestroy(st);
}

int main(int argc, char **argv) {
    self_path = argv[0];
    if (argc > 1 && strcmp(argv[1], "devices") == 0) return scenario_devices();
    if (argc > 1 && strcmp(argv[1], "digest") == 0) return scenario_digest();
    // the third ncclAllReduce of this process fails (test_collectives counts on it); set before any NCCL call
    setenv("SHEAR_CUDA_EMU_NCCL_FAIL", "allreduce:3:6", 1);

    bool before_init; // refused before MPI_Init, with a message that says why (reported once the rank is known)
    {
        ncclUniqueId id;
        ncclGetUniqueId(&id);
        ncclComm_t c;
        ncclResult_t r = ncclCommInitRank(&c, 1, id, 0);
        before_init = r == ncclInvalidUsage && c == nullptr && has(ncclGetLastError(nullptr), "MPI_Init");
    }
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check(before_init, "ncclCommInitRank before MPI_Init: ncclInvalidUsage naming MPI_Init");

    int ndev = 0;
    check(cudaGetDeviceCount(&ndev) == cudaSuccess && ndev >= nranks, "a device per rank");
    if (ndev < nranks) ndev = nranks; // fail below rather than divide by zero
    check(cudaSetDevice(rank) == cudaSuccess, "cudaSetDevice(rank)");
    check(cudaSetDevice(ndev) == cudaErrorInvalidDevice && cudaGetLastError() == cudaErrorInvalidDevice &&
              cudaGetLastError() == cudaSuccess,
          "cudaSetDevice(count) refused, and the error is not sticky");
    cudaSetDevice(rank);
    int cur = -1;
    cudaGetDevice(&cur);
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, cur);
    check(cur == rank && has(prop.name, "H100") && prop.major == 9, "cudaGetDevice and the H100's facts");
    {
        std::vector<char> all(16 * nranks);
        MPI_Allgather(prop.uuid.bytes, 16, MPI_BYTE, all.data(), 16, MPI_BYTE, MPI_COMM_WORLD);
        bool distinct = true;
        for (int p = 0; p < nranks; p++)
            for (int q = p + 1; q < nranks; q++) distinct = distinct && memcmp(&all[16 * p], &all[16 * q], 16) != 0;
        check(distinct, "ranks on devices 0..n-1 see different UUIDs");
    }
    test_visible_parsing();
    if (rank == 0) {
        test_device_env();
        test_digest();
    }

    int version = 0;
    ncclGetVersion(&version);
    check(version == NCCL_VERSION_CODE && version >= NCCL_VERSION(2, 28, 0), "ncclGetVersion: 2.28");
    ncclResult_t r;
    ncclComm_t comm = make_comm(nranks, rank, &r);
    int cn = 0, cr = -1;
    check(r == ncclSuccess && ncclCommCount(comm, &cn) == ncclSuccess && ncclCommUserRank(comm, &cr) == ncclSuccess &&
              cn == nranks && cr == rank,
          "ncclCommInitRank over all ranks: count and rank");
    ncclComm_t bad = make_comm(nranks + 1, rank, &r);
    check(r == ncclInvalidArgument && bad == nullptr && has(ncclGetLastError(nullptr), "nranks"),
          "ncclCommInitRank with nranks one too many: ncclInvalidArgument");
    if (nranks > 1) { // every rank on device 0
        cudaSetDevice(0);
        bad = make_comm(nranks, rank, &r);
        check(r == ncclInvalidUsage && bad == nullptr && has(ncclGetLastError(nullptr), "Duplicate GPU detected"),
              "every rank on device 0: ncclInvalidUsage, Duplicate GPU detected");
        cudaSetDevice(rank);
    }
    test_collectives(comm);

    ncclResult_t async = ncclInternalError;
    check(ncclCommGetAsyncError(comm, &async) == ncclSuccess && async == ncclSuccess, "no asynchronous error");
    ncclComm_t spare = make_comm(nranks, rank, &r);
    check(r == ncclSuccess && ncclCommAbort(spare) == ncclSuccess && ncclCommCount(spare, &cn) == ncclInvalidArgument,
          "an aborted communicator is refused afterwards");
    check(ncclCommFinalize(comm) == ncclSuccess && ncclCommDestroy(comm) == ncclSuccess &&
              ncclCommGetAsyncError(comm, &async) == ncclInvalidArgument,
          "finalize and destroy; a destroyed communicator is refused");
    check(strlen(ncclGetErrorString(ncclRemoteError)) > 0 && strcmp(ncclGetErrorString(ncclSuccess), "no error") == 0,
          "ncclGetErrorString");

    int counts[2] = {passed, failed};
    MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%d passed, %d failed (checks of all %d rank(s) together)\n", counts[0], counts[1], nranks);
    MPI_Finalize();
    return counts[1] ? 1 : 0;
}
