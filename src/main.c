// shear: one executable, one subcommand per pipeline stage (DESIGN.md). Each command lives in src/cmd_NAME.c.
#include <stdio.h>
#include <string.h>

#include "shear/buildinfo.h"
#include "shear/cli.h"
#include "shear/common.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    {"train", cmd_train, "(continued) pre-training from an input deck, MPI data parallel"},
    {"prune", cmd_prune, "targeted structured pruning: masks + Lagrangian toward a target shape, MPI data parallel"},
    {"keys", cmd_keys, "list every input-deck key with its default, range and meaning"},
    {"tokenize", cmd_tokenize, "JSON Lines {\"text\": ...} on stdin -> token ids (LLaMA-2 tokenizer.json)"},
    {"prep", cmd_prep, "tokenize per-domain text into an HDF5 token store; MPI-parallel"},
    {"import", cmd_import, "Hugging Face LLaMA checkpoint (safetensors, sharded or not) -> Shear model file"},
    {"export", cmd_export, "Shear model file -> Hugging Face LLaMA checkpoint (config.json, safetensors)"},
    {"eval", cmd_eval, "loss / perplexity of a model: per domain on a deck's token store, or on a text file"},
    {"info", cmd_info, "what a checkpoint, model file or token store holds; verifies checkpoint checksums"},
    {"finalize", cmd_finalize, "prune output (source model + /masks) -> dense model of the target shape"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: shear COMMAND [options]   (shear COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
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
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "shear: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return SHEAR_EXIT_USAGE;
}
