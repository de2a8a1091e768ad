// `shear export --model MODEL.h5 --out HF_DIR`: a Shear model file as a Hugging Face LlamaForCausalLM folder
// (config.json, safetensors shards + index, generation_config.json, tokenizer), one tensor at a time.
#include <string.h>

#include "shear/cli.h"
#include "shear/common.h"
#include "shear/hf_config.h"
#include "shear/hf.h"

int cmd_export(int argc, char **argv) {
    CliOption opts[] = {
        {"model", "MODEL.h5", "Shear model file (import, finalize or train output)", NULL, 0},
        {"out", "HF_DIR", "folder to write (created; earlier model*.safetensors in it are replaced)", NULL, 0},
        {"dtype", "bf16|f16|f32",
         "tensor dtype; default: bf16 for a model trained with run.precision: bf16, else each tensor's dtype at "
         "import, f32 for others",
         NULL, 0},
        {"max-shard-size", "SIZE", "start a new shard above this many tensor bytes (5GB, 100MB, 64MiB)", "5GB", 0},
        {"tokenizer", "FILE", "tokenizer.json to include; default: the one recorded at import", NULL, 0},
    };
    cli_parse(argc, argv, opts, 5, "shear export --model MODEL.h5 --out HF_DIR [--dtype bf16|f16|f32]",
              "Exports a model as a Hugging Face LlamaForCausalLM folder: config.json (head_dim always written), "
              "model.safetensors or shards + model.safetensors.index.json, generation_config.json, tokenizer.json.", NULL, 0);
    if (!opts[0].set || !opts[1].set) {
        fprintf(stderr, "shear export: --model MODEL.h5 and --out HF_DIR are required\n");
        return SHEAR_EXIT_USAGE;
    }
    HfExportOptions o = {.dtype = opts[2].set ? opts[2].value : NULL, .tokenizer = opts[4].set ? opts[4].value : NULL};
    if (o.dtype && strcmp(o.dtype, "bf16") && strcmp(o.dtype, "f16") && strcmp(o.dtype, "f32")) {
        fprintf(stderr, "shear export: --dtype '%s' is not one of bf16, f16, f32\n", o.dtype);
        return SHEAR_EXIT_USAGE;
    }
    if (hf_parse_size(opts[3].value, &o.max_shard_bytes)) {
        fprintf(stderr, "shear export: --max-shard-size '%s' is not a size like 5GB, 100MB or 64MiB\n", opts[3].value);
        return SHEAR_EXIT_USAGE;
    }
    hf_export(opts[0].value, opts[1].value, &o);
    return 0;
}
