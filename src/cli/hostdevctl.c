/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <locale.h>

#include "config.h"
#include "hostdevctl.h"

bool arg_json = false;
bool arg_legend = true;

typedef struct Verb {
        const char *name;
        const char *args;       /* for the help text */
        unsigned min_args;
        unsigned max_args;
        int (*run)(int argc, char *argv[]);
        const char *description;
} Verb;

static int verb_help(int argc, char *argv[]);

static const Verb verbs[] = {
        { "list",    NULL,           0, 0, verb_list,    "List PCI functions and USB devices (default)" },
        { "show",    "ADDRESS|PATH", 1, 1, verb_show,    "Show all properties of one device" },
        { "groups",  NULL,           0, 0, verb_groups,  "List IOMMU groups, their members and viability" },
        { "monitor", NULL,           0, 0, verb_monitor, "Print device and group changes as they happen" },
        { "help",    NULL,           0, 0, verb_help,    "Show this help" },
};

static void help(void) {
        printf("hostdevctl [OPTIONS...] [COMMAND] ...\n\n"
               "Query the PCI and USB devices that hostdevd offers for passthrough.\n\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char head[32];

                snprintf(head, sizeof(head), "%s%s%s", verbs[i].name,
                         verbs[i].args ? " " : "", verbs[i].args ? verbs[i].args : "");
                printf("  %-20s %s\n", head, verbs[i].description);
        }
        printf("\nOptions:\n"
               "  -h --help            Show this help\n"
               "     --version         Show package version\n"
               "  -j --json            Print JSON instead of text\n"
               "     --no-legend       Do not print the table header\n"
               "\nSee the hostdevctl(1) man page for details.\n");
}

static int verb_help(int argc, char *argv[]) {
        help();
        return EXIT_SUCCESS;
}

enum {
        ARG_VERSION = 0x100,
        ARG_NO_LEGEND,
};

/* Returns 1 to continue, 0 to exit successfully, negative on a usage error. */
static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help",      no_argument, NULL, 'h'           },
                { "version",   no_argument, NULL, ARG_VERSION   },
                { "json",      no_argument, NULL, 'j'           },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                {}
        };
        int c;

        /* Our own messages instead of getopt's, which carry the full argv[0]. */
        opterr = 0;

        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("hostdevctl %s\n", VERSION);
                        return 0;
                case 'j':
                        arg_json = true;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case '?': {
                        const char *a = argv[optind - 1];

                        if (strncmp(a, "--", 2) != 0)
                                log_error("Unknown option '-%c'.", optopt);
                        else if (optopt != 0)
                                log_error("Option '%s' takes no argument.", a);
                        else
                                log_error("Unknown option '%s'.", a);
                        return -EINVAL;
                }
                default:
                        log_error("Unhandled option.");
                        return -EINVAL;
                }

        return 1;
}

static int dispatch(int argc, char *argv[]) {
        static char *default_argv[] = { (char *) "list", NULL };
        const Verb *verb = NULL;
        unsigned n_args;

        if (argc <= 0) {
                argc = 1;
                argv = default_argv;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, argv[0])) {
                        verb = verbs + i;
                        break;
                }
        if (!verb) {
                log_error("Unknown command '%s'. See 'hostdevctl --help'.", argv[0]);
                return EXIT_USAGE;
        }

        n_args = (unsigned) argc - 1;
        if (n_args < verb->min_args) {
                log_error("%s: missing argument %s.", verb->name, verb->args);
                return EXIT_USAGE;
        }
        if (n_args > verb->max_args) {
                log_error("%s: too many arguments.", verb->name);
                return EXIT_USAGE;
        }

        return verb->run(argc, argv);
}

int main(int argc, char *argv[]) {
        int r;

        setlocale(LC_ALL, "");

        r = parse_argv(argc, argv);
        if (r < 0)
                return EXIT_USAGE;
        if (r == 0)
                return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;

        return dispatch(argc - optind, argv + optind);
}
