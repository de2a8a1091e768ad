// shear: one executable, one subcommand per pipeline stage (DESIGN.md). Each command lives in src/cmd_NAME.c.
#include <stdio.h>
#include <string.h>

#include "shear/buildinfo.h"
#include "shear/cli.h"
#include "shear/common.h"
#include "shear/ops.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int mpi; // starts MPI itself (dist_init)
} Command;

static const Command COMMANDS[] = {
    {"train", cmd_train, "(continued) pre-training from an input deck, MPI data parallel", 1},
    {"prune", cmd_prune, "targeted structured pruning: masks + Lagrangian toward a target shape, MPI data parallel", 1},
    {"keys", cmd_keys, "list every input-deck key with its default, range and meaning", 0},
    {"tokenize", cmd_tokenize, "JSON Lines {\"text\": ...} on stdin -> token ids (LLaMA-2 tokenizer.json)", 0},
    {"prep", cmd_prep, "tokenize per-domain text into an HDF5 token store; MPI-parallel", 1},
    {"import", cmd_import, "Hugging Face LLaMA checkpoint (safetensors, sharded or not) -> Shear model file", 0},
    {"export", cmd_export, "Shear model file -> Hugging Face LLaMA checkpoint (config.json, safetensors)", 0},
    {"eval", cmd_eval, "loss / perplexity of a model: per domain on a deck's token store, or on a text file", 1},
    {"info", cmd_info, "what a checkpoint, model file or token store holds; verifies its checksums (and a store's token ids)", 0},
    {"finalize", cmd_finalize, "prune output (source model + /masks) -> dense model of the target shape", 0},
    {"generate", cmd_generate, "text from a model file: a prompt continued with a KV cache (greedy or sampled)", 0},
};

// The host's fatal-error function for every backend (ShearOps.set_fatal): a kernel's error (out of memory, CUDA,
// cuBLAS) dies like any other, through shear_die: one message, temporary files removed, every rank ended.
static void backend_die(const char *file, int line, const char *msg) { shear_die(file, line, "%s", msg); }

static void usage(FILE *f) {
    fprintf(f, "usage: shear COMMAND [options]   (shear COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
    shear_launcher_rank();
    if (argc < 2) {
        usage(stderr);
        return SHEAR_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        char info[1024];
        build_info(info, sizeof info);
        printf("%s\n", info);
        return 0;
    }
    ops_cpu()->set_fatal(backend_die);
    if (ops_cuda()) ops_cuda()->set_fatal(backend_die); // NULL: the CUDA backend is not built
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) {
            if (!COMMANDS[i].mpi) shear_test_write_limit();
            return COMMANDS[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "shear: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return SHEAR_EXIT_USAGE;
}
