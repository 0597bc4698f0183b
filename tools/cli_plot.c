/* cgrad plot: the training curves of a log written by 'cgrad train --log', drawn as an SVG chart
 * (the same chart as 'cgrad train --plot'). */
#include <cgrad.h>

#include "cli_args.h"
#include "cli_commands.h"
#include "cli_report.h"

static const char COMMAND[] = "plot";

static const char USAGE[] = "cgrad plot --log FILE.csv --output FILE.svg [--title TEXT]";

static const char HELP[] =
    "Draws the training curves of a training log as an SVG chart: the loss (training and\n"
    "validation) and, when it was measured, the accuracy.\n"
    "\n"
    "  --log FILE.csv        a log written by 'cgrad train --log' (a header 'epoch,<series>',\n"
    "                        one row per epoch)\n"
    "  --output FILE.svg     the chart to write\n"
    "  --title TEXT          the chart's title (default: the log's file name)\n";

typedef struct {
    const char *log_path, *output_path, *title;
} plot_options;

static int parse_options(int argc, char **argv, plot_options *o) {
    *o = (plot_options){0};
    const cli_flag flags[] = {
        {"--log", CLI_TEXT, &o->log_path, NULL, true},
        {"--output", CLI_TEXT, &o->output_path, NULL, true},
        {"--title", CLI_TEXT, &o->title, NULL, false},
    };
    const cli_command command = {COMMAND, USAGE, HELP, flags, (int)(sizeof flags / sizeof *flags)};
    return cli_parse(&command, argc, argv);
}

int cli_plot(int argc, char **argv) {
    plot_options options;
    const int parsed = parse_options(argc, argv, &options);
    if (parsed != CLI_SUCCESS) return parsed == CLI_HELP_SHOWN ? CLI_SUCCESS : parsed;
    cg_history *history = cg_history_read_csv(options.log_path);
    const char *title = options.title ? options.title : options.log_path;
    const int status = history && cg_history_plot_svg(history, options.output_path, title) == 0
                           ? CLI_SUCCESS
                           : cli_fail_library(COMMAND);
    cg_history_free(history);
    return status;
}
