/* cmd_plot.c - `imgclass plot`: draws a saved training history (CSV or JSON) as R's
 * plot(history) does with ggplot2 and writes it as a PNG. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    printf("usage: imgclass plot HISTORY -o FIGURE.png [options]\n"
           "\n"
           "Draws a training history as R's plot(history) does with ggplot2: loss above acc,\n"
           "one panel per metric with its own y axis, epochs on a shared x axis, training and\n"
           "validation as two colours of points, and loess smooth lines when there are at\n"
           "least 10 epochs. HISTORY is a CSV (epoch,loss,acc,val_loss,val_acc as imgclass or\n"
           "Keras's CSVLogger write it) or JSON ({\"loss\": [...], \"acc\": [...], ...}) file;\n"
           "the content decides which. Missing values (nan, NA, null) are left out.\n"
           "\n"
           "  -o, --output FILE   the PNG to write (required)\n"
           "  --smooth            always draw the loess lines (3 or more points)\n"
           "  --no-smooth         never draw them (default: as R, when epochs >= 10)\n"
           "  --width W           width in pixels (default 800)\n"
           "  --height H          height in pixels (default 600)\n"
           "  --title T           a title above the panels\n"
           "\n"
           "examples:\n"
           "  imgclass plot history.csv -o history.png\n"
           "  imgclass plot history.json -o history.png --no-smooth --title \"VGG16 fine-tuning\"\n"
           "  imgclass plot training.log -o small.png --width 640 --height 400\n");
}

int ic_cli_plot(int argc, char **argv)
{
    const char *cmd = "plot", *input = NULL, *output = NULL;
    ic_plot_opts o = ic_plot_opts_default();
    const ic_cli_opt opts[] = {
        {"--smooth", IC_CLI_SET, .dst = &o.smooth, .lo = IC_PLOT_SMOOTH_ALWAYS},
        {"--no-smooth", IC_CLI_SET, .dst = &o.smooth, .lo = IC_PLOT_SMOOTH_NONE},
        {"--output", IC_CLI_STR, .dst = &output, .alias = "-o"},
        {"--width", IC_CLI_INT, .dst = &o.width, .lo = 16, .hi = 16384,
         .err = "--width needs a number of pixels 16..16384, got '%s'"},
        {"--height", IC_CLI_INT, .dst = &o.height, .lo = 16, .hi = 16384,
         .err = "--height needs a number of pixels 16..16384, got '%s'"},
        {"--title", IC_CLI_STR, .dst = &o.title},
        {.kind = IC_CLI_END},
    };
    int r;
    for (int i = 0; (r = ic_cli_next(cmd, opts, 0, argc, argv, &i, help)) == 1;) {
        if (input)
            return ic_cli_usage_error(cmd, "give one history file (got '%s' and '%s')", input,
                                      argv[i]);
        input = argv[i];
    }
    if (r)
        return r < 0 ? 0 : r;
    if (!input)
        return ic_cli_usage_error(cmd, "give a history file (CSV or JSON)");
    if (!output)
        return ic_cli_usage_error(cmd, "give the figure file with -o FIGURE.png");
    ic_history *h = NULL;
    ic_status s = ic_history_load(input, &h);
    if (!s)
        s = ic_plot_history(h, output, &o);
    int epochs = ic_history_epochs(h);
    ic_history_free(h);
    if (s)
        return ic_cli_fail(cmd, s);
    printf("wrote %s: %d epoch%s, %dx%d\n", output, epochs, epochs == 1 ? "" : "s", o.width,
           o.height);
    return 0;
}
