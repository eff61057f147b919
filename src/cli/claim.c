/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * "claim GROUP", "claim list|show|release", "claims" and "unclaim": the
 * members of resource groups that consumers (virtual machines) took, and
 * the handles a hypervisor needs to use them.
 */

#include <inttypes.h>
#include <time.h>

#include "common/address.h"
#include "hostdevctl.h"

typedef enum ClaimFormat {
        FORMAT_TEXT,
        FORMAT_LIBVIRT,
        FORMAT_QEMU,
        FORMAT_JSON,
} ClaimFormat;

/* --format, or --json; both only when they agree. */
static int claim_format(ClaimFormat *ret) {
        static const char * const names[] = {
                [FORMAT_TEXT] = "text", [FORMAT_LIBVIRT] = "libvirt", [FORMAT_QEMU] = "qemu", [FORMAT_JSON] = "json",
        };

        if (!arg_format) {
                *ret = arg_json ? FORMAT_JSON : FORMAT_TEXT;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(arg_format, names[i])) {
                        if (arg_json && i != FORMAT_JSON) {
                                log_error("%s: --json and --format=%s contradict each other.", error_command(),
                                          arg_format);
                                return -EINVAL;
                        }
                        *ret = (ClaimFormat) i;
                        return 0;
                }
        /* main() refuses other formats. */
        return -EINVAL;
}

/* "2026-12-05 10:40:02 UTC", local time; "-" when unknown. */
static void format_since(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "-");
}

static const char *claim_group_name(const HdHost *h, const HdClaim *c) {
        if (isempty(c->resource_group) || streq(c->resource_group, "/"))
                return NULL;
        return hd_host_resource_group_name(h, c->resource_group);
}

/* A claimed device that is unplugged: its address, from the path it had
 * ("1-3.2"), else that path. */
static char *missing_address(const char *path) {
        return address_from_object_path(path) ?: strdup(path);
}

static bool claim_misses(const HdClaim *c, const char *path) {
        for (char **p = c->missing; p && *p; p++)
                if (streq(*p, path))
                        return true;
        return false;
}

static void json_write_handle(JsonWriter *w, const HdHandle *x) {
        json_begin_object(w);
        json_kv_string(w, "address", x->address);
        json_kv_string(w, "object_path", x->device);
        json_kv_string_or_null(w, "sysfs_path", x->sysfs);
        json_kv_string_or_null(w, "vfio_group", x->vfio_group);
        json_kv_string_or_null(w, "qemu", x->qemu);
        json_kv_string_or_null(w, "libvirt", x->libvirt);
        json_kv_string_or_null(w, "libvirt_interface", x->libvirt_interface);
        json_end_object(w);
}

static void json_write_claim(JsonWriter *w, const HdHost *h, const HdClaim *c) {
        json_begin_object(w);
        json_kv_string(w, "id", c->id);
        json_kv_string(w, "object_path", c->path);
        json_kv_string(w, "consumer", c->consumer);
        json_kv_string_or_null(w, "resource_group", claim_group_name(h, c));
        json_kv_string_or_null(w, "lease", c->lease);
        json_kv_uint(w, "since", c->since);
        json_key(w, "devices");
        json_write_members(w, h, c->devices);
        json_key(w, "missing");
        json_begin_array(w);
        for (char **p = c->missing; p && *p; p++) {
                _cleanup_free_ char *a = missing_address(*p);

                json_string(w, a ?: *p);
        }
        json_end_array(w);
        json_key(w, "handles");
        json_begin_array(w);
        for (size_t i = 0; i < c->n_handles; i++)
                json_write_handle(w, c->handles + i);
        json_end_array(w);
        json_end_object(w);
}

static int add_claim(KeyValue *kv, const HdHost *h, const HdClaim *c) {
        char since[64];
        int r;

        format_since(c->since, since, sizeof(since));
        if ((r = kv_add(kv, "Claim", "%s", strdash(c->id))) < 0 ||
            (r = kv_add(kv, "Object", "%s", c->path)) < 0 ||
            (r = kv_add(kv, "Consumer", "%s", strdash(c->consumer))) < 0 ||
            (r = kv_add(kv, "Resource Group", "%s", strdash(claim_group_name(h, c)))) < 0 ||
            (r = kv_add(kv, "Lease", "%s", isempty(c->lease) ? "none" : c->lease)) < 0 ||
            (r = kv_add(kv, "Since", "%s", since)) < 0)
                return r;

        if (strv_isempty(c->devices) && (r = kv_add(kv, "Devices", "none")) < 0)
                return r;
        for (char **p = c->devices; p && *p; p++) {
                _cleanup_free_ char *line = NULL, *a = NULL;

                if (claim_misses(c, *p)) {
                        a = missing_address(*p);
                        if (a && asprintf(&line, "%s  (missing: unplugged; the claim takes it back when it "
                                          "returns)", a) < 0)
                                line = NULL;
                } else
                        line = group_member_line(h, *p);
                if (!line)
                        return -ENOMEM;
                r = p == c->devices ? kv_add(kv, "Devices", "%s", line) : kv_add_more(kv, "%s", line);
                if (r < 0)
                        return r;
        }

        /* What --format=qemu prints, with the VFIO group the hypervisor opens. */
        for (size_t i = 0; i < c->n_handles; i++) {
                const HdHandle *x = c->handles + i;

                r = i == 0 ? kv_add(kv, "Handles", "%s  %s  %s", strdash(x->address), strdash(x->vfio_group),
                                    strdash(x->qemu))
                           : kv_add_more(kv, "%s  %s  %s", strdash(x->address), strdash(x->vfio_group),
                                         strdash(x->qemu));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int print_claim_text(const HdHost *h, const HdClaim *c) {
        _cleanup_kv_free_ KeyValue *kv = kv_new();
        int r;

        if (!kv)
                return -ENOMEM;
        r = add_claim(kv, h, c);
        if (r < 0)
                return r;
        kv_print(kv, stdout);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

/* One handle a line: <hostdev> elements (a NIC's VF as the <interface>
 * that carries its MAC and VLAN), or -device arguments. */
static int print_handles(const HdClaim *c, ClaimFormat format) {
        for (size_t i = 0; i < c->n_handles; i++) {
                const HdHandle *x = c->handles + i;
                const char *s = format == FORMAT_QEMU ? x->qemu :
                                !isempty(x->libvirt_interface) ? x->libvirt_interface : x->libvirt;

                if (isempty(s))
                        continue;
                printf(format == FORMAT_QEMU ? "-device %s\n" : "%s\n", s);
        }
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

static int print_claim(const HdHost *h, const HdClaim *c, ClaimFormat format) {
        JsonWriter w;

        switch (format) {
        case FORMAT_JSON:
                json_init(&w, stdout, true);
                json_write_claim(&w, h, c);
                return json_finish(&w);
        case FORMAT_LIBVIRT:
        case FORMAT_QEMU:
                return print_handles(c, format);
        default:
                return print_claim_text(h, c);
        }
}

/* Connects and fetches everything, and finds the claim the user named (id or object path). */
static int fetch_claim(const char *what, sd_bus **ret_bus, HdHost **ret_host, HdClaim **ret_claim) {
        HdClaim *c;

        if (hd_bus_open(ret_bus) < 0 || hd_host_fetch(*ret_bus, ret_host) < 0)
                return -EIO;
        c = hd_host_lookup_claim(*ret_host, what);
        if (!c) {
                log_error("No claim %s. 'hostdevctl claims' shows them.", what);
                return -ENOENT;
        }
        *ret_claim = c;
        return 0;
}

int resolve_device_options(sd_bus *bus, char ***ret_paths) {
        _cleanup_strv_free_ char **paths = calloc(strv_length(arg_devices) + 1, sizeof(char *));
        size_t n = 0;

        if (!paths) {
                log_oom();
                return -ENOMEM;
        }
        for (char **d = arg_devices; d && *d; d++)
                if (resolve_device(bus, *d, paths + n++) < 0)
                        return -EINVAL;
        *ret_paths = paths;
        paths = NULL;
        return 0;
}

unsigned requested_count(void) {
        if (arg_count > 0)
                return arg_count;
        if (arg_devices)
                return (unsigned) strv_length(arg_devices);
        return 1;
}

static int append_claim_options(sd_bus_message *m, char **devices) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_no_prepare)
                r = sd_bus_message_append(m, "{sv}", "prepare", "b", 0);
        if (r >= 0 && arg_numa >= 0)
                r = sd_bus_message_append(m, "{sv}", "numa-node", "i", (int32_t) arg_numa);
        if (r >= 0 && arg_numa_strict)
                r = sd_bus_message_append(m, "{sv}", "numa-strict", "b", 1);
        if (r >= 0 && devices)
                r = hd_append_devices_option(m, devices);
        if (r >= 0 && arg_mac)
                r = sd_bus_message_append(m, "{sv}", "mac", "s", arg_mac);
        if (r >= 0 && arg_vlan >= 0)
                r = sd_bus_message_append(m, "{sv}", "vlan", "u", (uint32_t) arg_vlan);
        if (r >= 0 && arg_lease_pid > 0) {
                char lease[32];

                snprintf(lease, sizeof(lease), "pid:%u", arg_lease_pid);
                r = sd_bus_message_append(m, "{sv}", "lease", "s", lease);
        }
        if (r < 0)
                return r;
        return hd_close_options(m, arg_ask_password);
}

/* "claim GROUP --consumer=ID ...": ResourceGroup.Claim, then the claim as --format says. */
static int claim_group(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_host_free_ HdHost *h = NULL, *after = NULL;
        _cleanup_strv_free_ char **devices = NULL;
        HdResourceGroup *g;
        const HdClaim *c;
        ClaimFormat format;
        const char *path;
        int r;

        if (claim_format(&format) < 0)
                return EXIT_USAGE;
        if (!arg_consumer) {
                log_error("claim: missing option --consumer=ID (who takes the devices, e.g. a VM name).");
                return EXIT_USAGE;
        }
        if (arg_numa_strict && arg_numa < 0) {
                log_error("claim: option '--numa-strict' needs --numa=NODE.");
                return EXIT_USAGE;
        }

        if (fetch_resource_group(argv[1], &bus, &h, &g) < 0)
                return EXIT_FAILURE;
        if (arg_devices && resolve_device_options(bus, &devices) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, g->path, HOSTDEV_RESOURCE_GROUP_INTERFACE, "Claim", arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_append(m, "su", arg_consumer, requested_count());
        if (r >= 0)
                r = append_claim_options(m, devices);
        if (r < 0)
                return exit_message_error(r);

        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return exit_message_error(r);

        if (hd_host_fetch(bus, &after) < 0)
                return EXIT_FAILURE;
        c = hd_host_find_claim(after, path);
        if (!c) {
                /* A lease ended at once, or somebody released it. */
                log_error("The claim %s disappeared.", path);
                return EXIT_FAILURE;
        }
        return output_result(print_claim(after, c, format));
}

static int claim_list(int argc, char *argv[]) {
        static const char * const headers[] = { "ID", "CONSUMER", "GROUP", "DEVICES", "LEASE", "SINCE" };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        _cleanup_table_free_ Table *t = NULL;
        JsonWriter w;

        if (hd_bus_open(&bus) < 0 || hd_host_fetch(bus, &h) < 0)
                return EXIT_FAILURE;

        if (arg_json) {
                json_init(&w, stdout, true);
                json_begin_array(&w);
                for (size_t i = 0; i < h->n_claims; i++)
                        json_write_claim(&w, h, h->claims[i]);
                json_end_array(&w);
                return output_result(json_finish(&w));
        }

        if (h->n_claims == 0) {
                if (arg_legend)
                        printf("No claims.\n");
                return output_result(fflush(stdout) == 0 ? 0 : -EIO);
        }

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return output_result(-ENOMEM);
        table_set_shrinkable(t, 1, true);
        table_set_shrinkable(t, 3, true);
        for (size_t i = 0; i < h->n_claims; i++) {
                const HdClaim *c = h->claims[i];
                _cleanup_strv_free_ char **addresses = calloc(strv_length(c->devices) + 1, sizeof(char *));
                _cleanup_free_ char *devices = NULL;
                char since[64];
                size_t n = 0;
                int r;

                if (!addresses)
                        return output_result(-ENOMEM);
                for (char **p = c->devices; p && *p; p++) {
                        _cleanup_free_ char *a = claim_misses(c, *p) ? missing_address(*p) : NULL;

                        if (claim_misses(c, *p) ? !a || asprintf(&addresses[n], "%s (missing)", a) < 0
                                                : !(addresses[n] = strdup(hd_host_path_to_address(h, *p))))
                                return output_result(-ENOMEM);
                        n++;
                }
                devices = strv_join(addresses, ",");
                if (!devices)
                        return output_result(-ENOMEM);
                format_since(c->since, since, sizeof(since));
                r = table_add_row(t, (const char * const[]) {
                        c->id, c->consumer, claim_group_name(h, c), devices, strdash(c->lease), since,
                });
                if (r < 0)
                        return output_result(r);
        }
        return output_result(table_print(t, stdout, arg_legend, on_tty() ? terminal_columns() : 0));
}

static int claim_show(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        ClaimFormat format;
        HdClaim *c;

        if (claim_format(&format) < 0)
                return EXIT_USAGE;
        if (fetch_claim(argv[1], &bus, &h, &c) < 0)
                return EXIT_FAILURE;
        return output_result(print_claim(h, c, format));
}

/* Claim.Release: the devices go back to the pool (and their host drivers, as the group says). */
static int claim_release(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        HdClaim *c;
        int r;

        if (fetch_claim(argv[1], &bus, &h, &c) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, c->path, HOSTDEV_CLAIM_INTERFACE, "Release", arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);
        return hd_call(bus, m, NULL) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define CLAIM_OPTIONS (OPT_COUNT | OPT_CONSUMER | OPT_NUMA | OPT_NUMA_STRICT | OPT_DEVICE | OPT_LEASE_PID | \
                       OPT_NO_PREPARE | OPT_FORMAT | OPT_MAC | OPT_VLAN)

/* "claim GROUP": not a sub-command but the noun's own form; listed first in the help. */
const Verb claim_group_verb = {
        "claim", "GROUP --consumer=ID", 1, 1, CLAIM_OPTIONS, claim_group,
        "Claim members of a resource group; print the handles",
};

const Verb claim_verbs[] = {
        { "list",    NULL,    0, 0, 0,          claim_list,    "List claims (also \"hostdevctl claims\")" },
        { "show",    "CLAIM", 1, 1, OPT_FORMAT, claim_show,    "Show a claim, its devices and handles" },
        { "release", "CLAIM", 1, 1, 0,          claim_release,
          "Give a claim's devices back (also \"hostdevctl unclaim\")" },
};
const size_t n_claim_verbs = ELEMENTSOF(claim_verbs);

int verb_claim(int argc, char *argv[]) {
        static char *list_argv[] = { (char *) "list", NULL };

        /* "claim --consumer=vm-1" without a group is a claim that misses its group, not a list. */
        if (argc <= 1 && (arg_consumer || arg_count > 0 || arg_devices || arg_numa >= 0 || arg_numa_strict ||
                          arg_lease_pid > 0 || arg_no_prepare || arg_format))
                return dispatch_verb(&claim_group_verb, 1, "", argc, argv);
        if (argc <= 1)
                return dispatch_verb(claim_verbs, n_claim_verbs, "claim ", 1, list_argv);
        /* A sub-command's name first: a group named so is claimed by its id. */
        for (size_t i = 0; i < n_claim_verbs; i++)
                if (streq(argv[1], claim_verbs[i].name))
                        return dispatch_verb(claim_verbs, n_claim_verbs, "claim ", argc - 1, argv + 1);
        return dispatch_verb(&claim_group_verb, 1, "", argc, argv);
}

int verb_claims(int argc, char *argv[]) {
        return claim_list(argc, argv);
}

int verb_unclaim(int argc, char *argv[]) {
        return claim_release(argc, argv);
}
