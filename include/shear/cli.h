// Command-line parsing shared by every subcommand: --name VALUE / --name=VALUE options, boolean flags,
// positional arguments, --help. An unknown option is an error (exit 2) naming it and listing the valid ones.
#ifndef SHEAR_CLI_H
#define SHEAR_CLI_H

typedef struct {
    const char *name;     // without dashes: "model"
    const char *metavar;  // "FILE"; NULL for a boolean flag
    const char *help;
    const char *value;    // filled in: the value, "1" for a set flag, or the default given here
    int set;              // filled in: 1 when given on the command line
} CliOption;

// Parses argv[1..] (argv[0] is the subcommand). Positional arguments go to pos[] (at most max_pos; more is an
// error). Prints help and exits 0 on --help. Returns the number of positional arguments.
int cli_parse(int argc, char **argv, CliOption *opts, int n_opts, const char *usage, const char *summary,
              const char **pos, int max_pos);
// Every "--set X" / "--set=X" of argv, in order, into sets[max] (cli_parse keeps only the last value of a
// repeated option). Too many is a usage error (exit 2). Returns the count.
#define CLI_MAX_SETS 64
int cli_collect_sets(int argc, char **argv, const char **sets, int max);
// Numeric option with a range check; dies naming the option on bad input.
long cli_long(const CliOption *o, long min, long max);

// Every subcommand: int cmd_NAME(int argc, char **argv), argv[0] == "NAME". Returns the process exit code.
int cmd_train(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_prep(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_finalize(int argc, char **argv);
int cmd_generate(int argc, char **argv);

#endif
