/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdint.h>

#include "config.h"
#include "errors.h"
#include "hostdevctl.h"

bool arg_json = false;
bool arg_legend = true;
bool arg_ask_password = true;
bool arg_dry_run = false;
bool arg_include_companions = false;
bool arg_override_critical = false;
bool arg_all = false;
char *arg_type = NULL;
char *arg_name = NULL;
char *arg_description = NULL;
char *arg_class = NULL;
char *arg_uuid = NULL;
char **arg_rules = NULL;
unsigned arg_count = 0;
char *arg_consumer = NULL;
int arg_numa = -1;
bool arg_numa_strict = false;
char **arg_devices = NULL;
unsigned arg_lease_pid = 0;
bool arg_no_prepare = false;
char *arg_mac = NULL;
int arg_vlan = -1;
char *arg_format = NULL;

/* The OPT_* options given, to refuse those a command does not take. */
static unsigned arg_given = 0;

static int verb_help(int argc, char *argv[]);

/*
 * One noun, then a verb: "device", "iommu", "group". Device commands are
 * what hostdevctl is mostly for, so they also stand alone ("hostdevctl
 * prepare 01:00" is "hostdevctl device prepare 01:00"). No two nouns are
 * one letter apart: "groups" (IOMMU groups) became "iommu list".
 */
const Verb device_verbs[] = {
        { "list",    NULL,          0, 0,        0, verb_list,
          "List PCI functions and USB devices (default)" },
        { "show",    "DEVICE...",   1, ARGS_MAX, 0, verb_show,
          "Show all properties of devices" },
        { "prepare", "DEVICE...",   1, ARGS_MAX, OPT_DRY_RUN | OPT_OVERRIDE_CRITICAL, verb_prepare,
          "Bind devices and companions to vfio-pci" },
        { "release", "DEVICE...",   1, ARGS_MAX, OPT_DRY_RUN, verb_release,
          "Give prepared devices back to host drivers" },
};
const size_t n_device_verbs = ELEMENTSOF(device_verbs);

const Verb iommu_verbs[] = {
        { "list",    NULL,            0, 0, 0, verb_iommu_list,
          "List IOMMU groups, their members and viability" },
        { "show",    "NUMBER|DEVICE", 1, 1, 0, verb_iommu_show,
          "Show one IOMMU group" },
};
const size_t n_iommu_verbs = ELEMENTSOF(iommu_verbs);

static int verb_device(int argc, char *argv[]) {
        static char *list_argv[] = { (char *) "list", NULL };

        if (argc <= 1)
                return dispatch_verb(device_verbs, n_device_verbs, "device ", 1, list_argv);
        return dispatch_verb(device_verbs, n_device_verbs, "device ", argc - 1, argv + 1);
}

static int verb_iommu(int argc, char *argv[]) {
        static char *list_argv[] = { (char *) "list", NULL };

        if (argc <= 1)
                return dispatch_verb(iommu_verbs, n_iommu_verbs, "iommu ", 1, list_argv);
        return dispatch_verb(iommu_verbs, n_iommu_verbs, "iommu ", argc - 1, argv + 1);
}

static int verb_groups_deprecated(int argc, char *argv[]) {
        log_note("'hostdevctl groups' is deprecated and goes away in the next release; "
                 "use 'hostdevctl iommu list'.");
        return verb_iommu_list(argc, argv);
}

static int verb_make_resource_deprecated(int argc, char *argv[]) {
        log_note("'hostdevctl make-resource' is deprecated and goes away in the next release; "
                 "use 'hostdevctl group create NAME DEVICE...'.");
        return group_create_of_devices(argc, argv);
}

static const Verb verbs[] = {
        { "list",          NULL,                 0, 0,        0, verb_list,              NULL },
        { "show",          "DEVICE...",          1, ARGS_MAX, 0, verb_show,              NULL },
        { "prepare",       "DEVICE...",          1, ARGS_MAX, OPT_DRY_RUN | OPT_OVERRIDE_CRITICAL, verb_prepare, NULL },
        { "release",       "DEVICE...",          1, ARGS_MAX, OPT_DRY_RUN, verb_release, NULL },
        /* Take every option: each sub-command checks its own. */
        { "device",        "[COMMAND] ...",      0, ARGS_MAX, ~0u, verb_device,          NULL },
        { "iommu",         "[COMMAND] ...",      0, ARGS_MAX, ~0u, verb_iommu,           NULL },
        { "group",         "[COMMAND] ...",      0, ARGS_MAX, ~0u, verb_group,           NULL },
        { "sriov",         "[COMMAND] ...",      0, ARGS_MAX, ~0u, verb_sriov,           NULL },
        { "mdev",          "[COMMAND] ...",      0, ARGS_MAX, ~0u, verb_mdev,            NULL },
        { "claim",         "[COMMAND] ...",      0, ARGS_MAX, ~0u, verb_claim,           NULL },
        { "tenant",        "[COMMAND] ...",      0, ARGS_MAX, ~0u, verb_tenant,          NULL },
        { "claims",        NULL,                 0, 0,        0, verb_claims,
          "List claims (as \"claim list\")" },
        { "unclaim",       "CLAIM",              1, 1,        0, verb_unclaim,
          "Release a claim (as \"claim release\")" },
        { "usb",           NULL,                 0, 0,        0, verb_usb,
          "Show the USB devices by port, with drivers and claims" },
        { "status",        NULL,                 0, 0,        OPT_ALL, verb_status,
          "Show IOMMU, reboot and critical-device state" },
        { "monitor",       NULL,                 0, 0,        0, verb_monitor,
          "Print device and group changes as they happen" },
        { "help",          NULL,                 0, 0,        0, verb_help,
          "Show this help" },
        /* The spellings of the last release, for one more release; a note says what replaces them. */
        { "groups",        NULL,                 0, 0,        0, verb_groups_deprecated, NULL },
        { "make-resource", "NAME DEVICE...",     2, ARGS_MAX, OPT_INCLUDE_COMPANIONS | OPT_DESCRIPTION | OPT_CLASS,
          verb_make_resource_deprecated, NULL },
        /* For the shell completion: live values, quickly, nothing when the daemon is away. */
        { "__complete",    "KIND",               1, 1,        0, verb_complete,          NULL },
};

static void help_verbs(const char *prefix, const Verb *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char head[64];

                if (!v[i].description)
                        continue;
                snprintf(head, sizeof(head), "%s%s%s%s", prefix, v[i].name,
                         v[i].args ? " " : "", v[i].args ? v[i].args : "");
                printf("  %-31s %s\n", head, v[i].description);
        }
}

static void help(void) {
        printf("hostdevctl [OPTIONS...] [COMMAND] ...\n\n"
               "Query the PCI and USB devices that hostdevd offers for passthrough,\n"
               "prepare them for virtual machines and manage resource groups.\n\n"
               "Commands:\n");
        help_verbs("", verbs, ELEMENTSOF(verbs));
        printf("\nDevice commands (\"device\" may be left out):\n");
        help_verbs("device ", device_verbs, n_device_verbs);
        printf("\nIOMMU group commands:\n");
        help_verbs("iommu ", iommu_verbs, n_iommu_verbs);
        printf("\nResource group commands:\n");
        help_verbs("group ", group_verbs, n_group_verbs);
        help_verbs("group rule ", group_rule_verbs, n_group_rule_verbs);
        help_verbs("sriov ", sriov_verbs, n_sriov_verbs);
        printf("\nMediated device commands:\n");
        help_verbs("mdev ", mdev_verbs, n_mdev_verbs);
        printf("\nClaim and tenant commands:\n");
        help_verbs("", &claim_group_verb, 1);
        help_verbs("claim ", claim_verbs, n_claim_verbs);
        help_verbs("tenant ", tenant_verbs, n_tenant_verbs);
        printf("\nOptions:\n"
               "  -h --help              Show this help\n"
               "     --version           Show package version\n"
               "  -j --json              Print JSON instead of text\n"
               "     --no-legend         Do not print the table header\n"
               "     --no-ask-password   Do not ask for a password to authorize a change\n"
               "     --dry-run           prepare, release: show the plan, change nothing\n"
               "     --override-critical prepare: also devices the host needs (authorized\n"
               "                         separately, every time)\n"
               "     --type=TYPE         group create: pci, usb, sriov-nic or vgpu\n"
               "     --rule=RULE         group create: a rule, may be repeated; a RULE is\n"
               "                         FIELD=VALUE[,FIELD=VALUE...], e.g. vendor-id=10de\n"
               "     --description=TEXT  group create, group update\n"
               "     --class=HINT        group create, group update: an icon hint such as\n"
               "                         gpu, nic or usb\n"
               "     --name=NAME         group update: the new name\n"
               "     --include-companions\n"
               "                         group create NAME DEVICE...: add the IOMMU group\n"
               "                         companions\n"
               "     --all               status: also the bridges the host needs\n"
               "     --uuid=UUID         mdev create: the new device's UUID\n"
               "     --consumer=ID       claim: who takes the devices (a VM name or UUID)\n"
               "     --count=N           claim, tenant assign: how many members (default 1)\n"
               "     --device=DEVICE     claim, tenant assign: this member exactly; may be\n"
               "                         repeated\n"
               "     --numa=NODE         claim: members on this NUMA node first\n"
               "     --numa-strict       claim: only members on the --numa node\n"
               "     --lease-pid=PID     claim: release the claim when process PID exits\n"
               "     --no-prepare        claim: leave the devices on their drivers\n"
               "     --mac=ADDRESS       claim from a sriov-nic group: the VF's MAC address\n"
               "     --vlan=ID           claim from a sriov-nic group: the VF's VLAN, 1 to 4094\n"
               "     --format=FORMAT     claim, claim show: text, libvirt, qemu or json\n"
               "\nSee the hostdevctl(1) man page for details.\n");
}

static int verb_help(int argc, char *argv[]) {
        help();
        return EXIT_SUCCESS;
}

enum {
        ARG_VERSION = 0x100,
        ARG_NO_LEGEND,
        ARG_NO_ASK_PASSWORD,
        ARG_DRY_RUN,
        ARG_OVERRIDE_CRITICAL,
        ARG_INCLUDE_COMPANIONS,
        ARG_TYPE,
        ARG_NAME,
        ARG_DESCRIPTION,
        ARG_CLASS,
        ARG_RULE,
        ARG_ALL,
        ARG_NO_AUTOPROBE,
        ARG_UUID,
        ARG_COUNT,
        ARG_CONSUMER,
        ARG_NUMA,
        ARG_NUMA_STRICT,
        ARG_DEVICE,
        ARG_LEASE_PID,
        ARG_NO_PREPARE,
        ARG_FORMAT,
        ARG_MAC,
        ARG_VLAN,
};

static const struct option options[] = {
        { "help",               no_argument,       NULL, 'h'                    },
        { "version",            no_argument,       NULL, ARG_VERSION            },
        { "json",               no_argument,       NULL, 'j'                    },
        { "no-legend",          no_argument,       NULL, ARG_NO_LEGEND          },
        { "no-ask-password",    no_argument,       NULL, ARG_NO_ASK_PASSWORD    },
        { "dry-run",            no_argument,       NULL, ARG_DRY_RUN            },
        { "override-critical",  no_argument,       NULL, ARG_OVERRIDE_CRITICAL  },
        { "include-companions", no_argument,       NULL, ARG_INCLUDE_COMPANIONS },
        { "type",               required_argument, NULL, ARG_TYPE               },
        { "name",               required_argument, NULL, ARG_NAME               },
        { "description",        required_argument, NULL, ARG_DESCRIPTION        },
        { "class",              required_argument, NULL, ARG_CLASS              },
        { "rule",               required_argument, NULL, ARG_RULE               },
        { "all",                no_argument,       NULL, ARG_ALL                },
        { "no-autoprobe",       no_argument,       NULL, ARG_NO_AUTOPROBE       },
        { "uuid",               required_argument, NULL, ARG_UUID               },
        { "count",              required_argument, NULL, ARG_COUNT              },
        { "consumer",           required_argument, NULL, ARG_CONSUMER           },
        { "numa",               required_argument, NULL, ARG_NUMA               },
        { "numa-strict",        no_argument,       NULL, ARG_NUMA_STRICT        },
        { "device",             required_argument, NULL, ARG_DEVICE             },
        { "lease-pid",          required_argument, NULL, ARG_LEASE_PID          },
        { "no-prepare",         no_argument,       NULL, ARG_NO_PREPARE         },
        { "format",             required_argument, NULL, ARG_FORMAT             },
        { "mac",                required_argument, NULL, ARG_MAC                },
        { "vlan",               required_argument, NULL, ARG_VLAN               },
        {}
};

/* The long option of an OPT_* bit, for messages. */
static const char *option_name(unsigned bit) {
        static const struct { unsigned bit; const char *name; } table[] = {
                { OPT_TYPE,               "--type"               },
                { OPT_NAME,               "--name"               },
                { OPT_DESCRIPTION,        "--description"        },
                { OPT_CLASS,              "--class"              },
                { OPT_RULE,               "--rule"               },
                { OPT_DRY_RUN,            "--dry-run"            },
                { OPT_INCLUDE_COMPANIONS, "--include-companions" },
                { OPT_OVERRIDE_CRITICAL,  "--override-critical"  },
                { OPT_ALL,                "--all"                },
                { OPT_NO_AUTOPROBE,       "--no-autoprobe"       },
                { OPT_UUID,               "--uuid"               },
                { OPT_COUNT,              "--count"              },
                { OPT_CONSUMER,           "--consumer"           },
                { OPT_NUMA,               "--numa"               },
                { OPT_NUMA_STRICT,        "--numa-strict"        },
                { OPT_DEVICE,             "--device"             },
                { OPT_LEASE_PID,          "--lease-pid"          },
                { OPT_NO_PREPARE,         "--no-prepare"         },
                { OPT_FORMAT,             "--format"             },
                { OPT_MAC,                "--mac"                },
                { OPT_VLAN,               "--vlan"               },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].bit == bit)
                        return table[i].name;
        return "?";
}

static int set_string(char **p, const char *value, unsigned bit) {
        if (arg_given & bit) {
                log_error("Option '%s' given twice.", option_name(bit));
                return -EINVAL;
        }
        arg_given |= bit;
        if (free_and_strdup(p, value) < 0) {
                log_oom();
                return -ENOMEM;
        }
        return 0;
}

static int add_repeated(char ***list, const char *value, unsigned bit) {
        size_t n = strv_length(*list);
        char **l = realloc(*list, (n + 2) * sizeof(char *));

        if (!l) {
                log_oom();
                return -ENOMEM;
        }
        *list = l;
        l[n] = strdup(value);
        l[n + 1] = NULL;
        if (!l[n]) {
                log_oom();
                return -ENOMEM;
        }
        arg_given |= bit;
        return 0;
}

static int add_rule(const char *value) {
        return add_repeated(&arg_rules, value, OPT_RULE);
}

/* A decimal number from min to max, digits only; a usage error names the option. */
static int set_number(unsigned *p, const char *value, unsigned bit, unsigned min, unsigned max) {
        unsigned long n;
        char *end;

        if (arg_given & bit) {
                log_error("Option '%s' given twice.", option_name(bit));
                return -EINVAL;
        }
        errno = 0;
        n = strtoul(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || errno != 0 || *end != '\0' || n < min || n > max) {
                log_error("Option '%s' takes a number from %u to %u, not '%s'.", option_name(bit), min, max,
                          value);
                return -EINVAL;
        }
        *p = (unsigned) n;
        arg_given |= bit;
        return 0;
}

static int set_format(const char *value) {
        static const char * const formats[] = { "text", "libvirt", "qemu", "json" };

        for (size_t i = 0; i < ELEMENTSOF(formats); i++)
                if (streq(value, formats[i]))
                        return set_string(&arg_format, value, OPT_FORMAT);
        log_error("Unknown format '%s': expected text, libvirt, qemu or json.", value);
        return -EINVAL;
}

/* Returns 1 to continue, 0 to exit successfully, negative on a usage error. */
static int parse_argv(int argc, char *argv[]) {
        int c, r = 0;

        /* Our own messages instead of getopt's, which carry the full argv[0]. */
        opterr = 0;

        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0) {
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
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        arg_given |= OPT_DRY_RUN;
                        break;
                case ARG_OVERRIDE_CRITICAL:
                        arg_override_critical = true;
                        arg_given |= OPT_OVERRIDE_CRITICAL;
                        break;
                case ARG_INCLUDE_COMPANIONS:
                        arg_include_companions = true;
                        arg_given |= OPT_INCLUDE_COMPANIONS;
                        break;
                case ARG_TYPE:
                        r = set_string(&arg_type, optarg, OPT_TYPE);
                        break;
                case ARG_NAME:
                        r = set_string(&arg_name, optarg, OPT_NAME);
                        break;
                case ARG_DESCRIPTION:
                        r = set_string(&arg_description, optarg, OPT_DESCRIPTION);
                        break;
                case ARG_CLASS:
                        r = set_string(&arg_class, optarg, OPT_CLASS);
                        break;
                case ARG_RULE:
                        r = add_rule(optarg);
                        break;
                case ARG_ALL:
                        arg_all = true;
                        arg_given |= OPT_ALL;
                        break;
                case ARG_NO_AUTOPROBE:
                        arg_no_autoprobe = true;
                        arg_given |= OPT_NO_AUTOPROBE;
                        break;
                case ARG_UUID:
                        r = set_string(&arg_uuid, optarg, OPT_UUID);
                        break;
                case ARG_COUNT:
                        /* The daemon's bounds (ResourceGroup.Claim). */
                        r = set_number(&arg_count, optarg, OPT_COUNT, 1, 4096);
                        break;
                case ARG_CONSUMER:
                        r = set_string(&arg_consumer, optarg, OPT_CONSUMER);
                        break;
                case ARG_NUMA: {
                        unsigned n = 0;

                        r = set_number(&n, optarg, OPT_NUMA, 0, INT32_MAX);
                        arg_numa = (int) n;
                        break;
                }
                case ARG_NUMA_STRICT:
                        arg_numa_strict = true;
                        arg_given |= OPT_NUMA_STRICT;
                        break;
                case ARG_DEVICE:
                        r = add_repeated(&arg_devices, optarg, OPT_DEVICE);
                        break;
                case ARG_LEASE_PID:
                        r = set_number(&arg_lease_pid, optarg, OPT_LEASE_PID, 1, INT32_MAX);
                        break;
                case ARG_NO_PREPARE:
                        arg_no_prepare = true;
                        arg_given |= OPT_NO_PREPARE;
                        break;
                case ARG_FORMAT:
                        r = set_format(optarg);
                        break;
                case ARG_MAC:
                        /* The daemon checks it, as it checks SetVfConfig's. */
                        r = set_string(&arg_mac, optarg, OPT_MAC);
                        break;
                case ARG_VLAN: {
                        unsigned n = 0;

                        r = set_number(&n, optarg, OPT_VLAN, 1, 4094);
                        arg_vlan = (int) n;
                        break;
                }
                case '?': {
                        const char *a = argv[optind - 1];

                        if (strncmp(a, "--", 2) != 0)
                                log_error("Unknown option '-%c'.", optopt);
                        else if (optopt != 0 && strchr(a, '='))
                                log_error("Option '%s' takes no argument.", a);
                        else if (optopt != 0)
                                log_error("Option '%s' needs an argument.", a);
                        else
                                log_error("Unknown option '%s'.", a);
                        return -EINVAL;
                }
                default:
                        log_error("Unhandled option.");
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }

        return 1;
}

int dispatch_verb(const Verb *table, size_t n_verbs, const char *prefix, int argc, char *argv[]) {
        const Verb *verb = NULL;
        unsigned n_args, extra;

        for (size_t i = 0; i < n_verbs; i++)
                if (streq(table[i].name, argv[0])) {
                        verb = table + i;
                        break;
                }
        if (!verb) {
                log_error("Unknown command '%s%s'. See 'hostdevctl --help'.", prefix, argv[0]);
                return EXIT_USAGE;
        }

        n_args = (unsigned) argc - 1;
        if (n_args < verb->min_args) {
                log_error("%s%s: missing argument %s.", prefix, verb->name, verb->args);
                return EXIT_USAGE;
        }
        if (n_args > verb->max_args) {
                log_error("%s%s: too many arguments.", prefix, verb->name);
                return EXIT_USAGE;
        }

        extra = arg_given & ~verb->options;
        if (extra) {
                log_error("%s%s: option '%s' does not apply.", prefix, verb->name,
                          option_name(extra & -extra));
                return EXIT_USAGE;
        }

        error_set_command(prefix, verb->name);
        return verb->run(argc, argv);
}

int output_result(int r) {
        if (r == -ENOMEM) {
                log_oom();
                return EXIT_FAILURE;
        }
        if (r < 0) {
                log_error("Failed to write output: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

static int dispatch(int argc, char *argv[]) {
        static char *default_argv[] = { (char *) "list", NULL };

        if (argc <= 0) {
                argc = 1;
                argv = default_argv;
        }
        return dispatch_verb(verbs, ELEMENTSOF(verbs), "", argc, argv);
}

int main(int argc, char *argv[]) {
        int r;

        setlocale(LC_ALL, "");
        log_setup("hostdevctl");

        r = parse_argv(argc, argv);
        if (r == -ENOMEM)
                r = EXIT_FAILURE;
        else if (r < 0)
                r = EXIT_USAGE;
        else if (r == 0)
                r = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        else
                r = dispatch(argc - optind, argv + optind);

        free(arg_type);
        free(arg_name);
        free(arg_description);
        free(arg_class);
        free(arg_uuid);
        strv_free(arg_rules);
        free(arg_consumer);
        strv_free(arg_devices);
        free(arg_format);
        free(arg_mac);
        return r;
}
