// shear keys: the Markdown table of every input-deck key (the README's table is this output).
#include <stdio.h>

#include "shear/cli.h"
#include "shear/deck.h"

int cmd_keys(int argc, char **argv) {
    cli_parse(argc, argv, NULL, 0, "shear keys [--help]",
              "Prints every input-deck key as a Markdown table: type, default, range or choices, meaning.", NULL, 0);
    deck_print_keys(stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}
