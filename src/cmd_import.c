// `shear import --from HF_DIR --out MODEL.h5`: a Hugging Face LlamaForCausalLM checkpoint (config.json,
// safetensors, tokenizer.json) into a Shear model file, one tensor at a time (src/hf.c).
#include "shear/cli.h"
#include "shear/common.h"
#include "shear/hf.h"

int cmd_import(int argc, char **argv) {
    CliOption opts[] = {
        {"from", "HF_DIR", "Hugging Face folder: config.json, model.safetensors or shards + index", NULL, 0},
        {"out", "MODEL.h5", "Shear model file to write (tokenizer.json goes next to it as MODEL.tokenizer.json)", NULL, 0},
    };
    cli_parse(argc, argv, opts, 2, "shear import --from HF_DIR --out MODEL.h5",
              "Imports a LlamaForCausalLM checkpoint (F32, F16 or BF16 safetensors, sharded or not). Tensors keep "
              "their source dtype as an attribute, so `shear export` writes them back bit for bit.", NULL, 0);
    if (!opts[0].set || !opts[1].set) {
        fprintf(stderr, "shear import: --from HF_DIR and --out MODEL.h5 are required\n");
        return SHEAR_EXIT_USAGE;
    }
    hf_import(opts[0].value, opts[1].value);
    return 0;
}
