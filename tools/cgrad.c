/* cgrad: train, evaluate and predict with neural networks from the command line, without writing
 * C. Each subcommand lives in its own file (cli_train.c, ...); this one dispatches to them. */
#include <stdio.h>
#include <string.h>

#include <cgrad.h>

#include "cli_args.h"
#include "cli_commands.h"
#include "cli_distributed.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand SUBCOMMANDS[] = {
    {"train", cli_train, "train a model from a spec file on CSV or IDX data and save it"},
    {"evaluate", cli_evaluate, "measure a saved model's loss and accuracy on labelled data"},
    {"predict", cli_predict, "write a saved model's predictions for new data as CSV"},
    {"summary", cli_summary, "print the layers, shapes and parameter counts of a model"},
    {"plot", cli_plot, "draw the training curves of a training log as SVG"},
};
enum { SUBCOMMAND_COUNT = (int)(sizeof SUBCOMMANDS / sizeof SUBCOMMANDS[0]) };

static const char USAGE[] = "usage: cgrad COMMAND [options]   (cgrad --version, cgrad --help)\n";

static void print_help(void) {
    printf(
        "%s\nTrains, evaluates and runs neural networks described by a small text model spec, on "
        "CSV files\nor IDX image sets, without writing C.\n\nCommands:\n",
        USAGE);
    for (int i = 0; i < SUBCOMMAND_COUNT; i++)
        printf("  %-10s %s\n", SUBCOMMANDS[i].name, SUBCOMMANDS[i].summary);
    printf("\nRun 'cgrad COMMAND --help' for a command's options. Exit status: 0 on success, 2 for "
           "a\nusage error, 1 for any other failure.\n\nExample:\n"
           "  cgrad train --model examples/models/iris_mlp.cfg --data data/iris.csv --save "
           "iris.safetensors\n"
           "  cgrad predict --weights iris.safetensors --data data/iris.csv\n");
}

static int run_command(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "cgrad: no command given\n%s", USAGE);
        return CLI_USAGE_ERROR;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--version")) {
        printf("cgrad %s\n", CG_VERSION_STRING);
        return CLI_SUCCESS;
    }
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_help();
        return CLI_SUCCESS;
    }
    for (int i = 0; i < SUBCOMMAND_COUNT; i++)
        if (!strcmp(name, SUBCOMMANDS[i].name)) return SUBCOMMANDS[i].run(argc - 2, argv + 2);
    fprintf(stderr, "cgrad: unknown command '%s' (train, evaluate, predict, summary, plot)\n%s",
            name, USAGE);
    return CLI_USAGE_ERROR;
}

int main(int argc, char **argv) {
    /* Under mpirun every rank runs the command; see docs/distributed.md. */
    if (cli_distributed_begin(&argc, &argv) != CLI_SUCCESS) return CLI_FAILURE;
    return cli_distributed_end(run_command(argc, argv));
}
