// shear finalize: prune output (source model + /masks) -> dense model of the target shape (finalize.h).
#include <hdf5.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/finalize.h"
#include "shear/h5util.h"
#include "shear/modelfile.h"

// The input deck stored in a model file, or NULL.
static char *read_deck_text(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    char *text = h5_read_text(f, "deck");
    H5Fclose(f);
    return text;
}

int cmd_finalize(int argc, char **argv) {
    CliOption opts[] = {
        {"in", "PRUNE_OUTPUT", "prune output: the source model file plus /masks/<type> gate values", NULL, 0},
        {"out", "MODEL.h5", "where to write the dense model of the target shape", NULL, 0},
        {"threads", "N", "CPU threads (0 = the default)", "0", 0},
    };
    cli_parse(argc, argv, opts, 3, "shear finalize --in PRUNE_OUTPUT --out MODEL.h5",
              "Folds every kept gate value of a prune output into the weights exactly once and cuts the weights\n"
              "down to a dense LLaMA of the target shape (kept indices in ascending order, surviving layers\n"
              "renumbered). The embedding and lm_head are sliced, never scaled. A zero 'layer' gate drops the\n"
              "layer; a zero 'head_layer' or 'mlp' gate keeps it with o_proj or down_proj folded to zeros.\n"
              "Prints what is kept, then writes MODEL.h5 (with the input's deck, when it has one).",
              NULL, 0);
    for (int i = 0; i < 2; i++)
        if (!opts[i].set || !opts[i].value[0]) {
            fprintf(stderr, "shear finalize: --%s %s is required (see shear finalize --help)\n", opts[i].name,
                    opts[i].metavar);
            return SHEAR_EXIT_USAGE;
        }
    const char *in = opts[0].value, *out = opts[1].value;
    char rin[PATH_MAX], rout[PATH_MAX];
    if (strcmp(in, out) == 0 || (realpath(in, rin) && realpath(out, rout) && strcmp(rin, rout) == 0)) {
        fprintf(stderr, "shear finalize: --out '%s' is the input file; write the dense model to a new file\n", out);
        return SHEAR_EXIT_USAGE;
    }
    ops_cpu_set_threads((int)cli_long(&opts[2], 0, 4096));
    const ShearOps *ops = ops_cpu();

    ModelConfig sc, tc;
    modelfile_read_config(in, &sc);
    FinalizeGates g;
    float *gates = maskfile_read(in, &sc, &g);
    Model src, dst;
    model_create(&src, ops, &sc);
    // Nothing here trains: give the gradient buffers back at once (a 7B source holds 27 GB of them).
    ops->free(src.g);
    src.g = NULL;
    modelfile_load_weights(in, &src);
    finalize_summary(&src, &g, stdout);
    fflush(stdout);
    finalize_model(&src, &g, &dst, &tc);
    model_free(&src);
    ops->free(dst.g);
    dst.g = NULL;
    char *deck = read_deck_text(in);
    modelfile_save_from(out, &dst, deck, in, NULL);
    printf("shear finalize: wrote '%s': d=%d L=%d H=%d kv=%d hd=%d I=%d V=%d (%zu params)\n", out, tc.dim,
           tc.n_layers, tc.n_heads, tc.n_kv_heads, tc.head_dim, tc.intermediate, tc.vocab, model_param_count(&tc));
    free(deck);
    free(gates);
    model_free(&dst);
    return SHEAR_EXIT_OK;
}
