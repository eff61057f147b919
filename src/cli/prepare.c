/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* "prepare" and "release": devices to vfio-pci and back, and the plan hostdevd carries out. */

#include "common/address.h"
#include "decode.h"
#include "hostdevctl.h"

int resolve_device(sd_bus *bus, const char *what, char **ret_path) {
        if (isempty(what)) {
                log_error("A device address must not be empty.");
                return -EINVAL;
        }
        /* An object path is taken as it is; anything else is for the daemon to resolve. */
        if (what[0] == '/') {
                if (!sd_bus_object_path_is_valid(what)) {
                        log_error("'%s' is not a D-Bus object path.", what);
                        return -EINVAL;
                }
                *ret_path = strdup(what);
                if (!*ret_path) {
                        log_oom();
                        return -ENOMEM;
                }
                return 0;
        }
        if (address_parse(what, NULL, NULL) < 0) {
                log_error("'%s' is not a device address. Type a PCI function (01:00.0 or 0000:01:00.0), "
                          "a PCI slot (01:00 or 01:00.*) or a USB port path (1-3.2).", what);
                return -EINVAL;
        }
        return hd_get_device(bus, what, ret_path);
}

static bool strv_contains(char **l, const char *s) {
        for (char **i = l; i && *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}

/* Every function of a PCI slot ("0000:01:00"), in address order. */
static int add_slot(const HdHost *h, const char *what, const char *slot, char ***paths) {
        size_t l = strlen(slot);
        bool found = false;

        for (size_t i = 0; i < h->n_devices; i++) {
                const HdDevice *d = h->devices[i];

                if (!streq_ptr(d->kind, "pci") || !d->address || strncmp(d->address, slot, l) != 0 ||
                    d->address[l] != '.')
                        continue;
                found = true;
                if (!strv_contains(*paths, d->path) && strv_extend(paths, d->path) < 0) {
                        log_oom();
                        return -ENOMEM;
                }
        }
        if (!found) {
                log_error("No PCI function in slot %s. 'hostdevctl list' shows the addresses.", what);
                return -ENOENT;
        }
        return 0;
}

int resolve_devices(char **what, size_t n, sd_bus **ret_bus, char ***ret_paths) {
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_host_free_ HdHost *h = NULL;

        if (hd_bus_open(ret_bus) < 0)
                return -EIO;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *slot = NULL, *path = NULL;

                if (pci_slot_parse(what[i], &slot) == 0) {
                        /* Only a slot needs the whole host: a function is the daemon's to resolve. */
                        if (!h && hd_host_fetch(*ret_bus, &h) < 0)
                                return -EIO;
                        if (add_slot(h, what[i], slot, &paths) < 0)
                                return -EIO;
                        continue;
                }
                if (resolve_device(*ret_bus, what[i], &path) < 0)
                        return -EIO;
                if (!strv_contains(paths, path) && strv_extend(&paths, path) < 0) {
                        log_oom();
                        return -ENOMEM;
                }
        }
        *ret_paths = TAKE_PTR(paths);
        return 0;
}

static int print_plan_steps(char **plan, bool dry_run) {
        static const char * const headers[] = { "DEVICE", "FROM", "TO", "REASON" };
        _cleanup_table_free_ Table *t = NULL;
        int r;

        if (arg_json) {
                JsonWriter w;

                json_init(&w, stdout, true);
                json_begin_array(&w);
                for (char **p = plan; p[0] && p[1] && p[2] && p[3]; p += 4) {
                        json_begin_object(&w);
                        json_kv_string(&w, "device", p[0]);
                        json_kv_string_or_null(&w, "from", p[1]);
                        json_kv_string_or_null(&w, "to", p[2]);
                        json_kv_string(&w, "reason", p[3]);
                        json_end_object(&w);
                }
                json_end_array(&w);
                return json_finish(&w);
        }

        if (strv_isempty(plan))
                printf("Nothing to do.\n");
        else {
                t = table_new(ELEMENTSOF(headers), headers);
                if (!t)
                        return -ENOMEM;
                table_set_shrinkable(t, 3, true);
                for (char **p = plan; p[0] && p[1] && p[2] && p[3]; p += 4) {
                        r = table_add_row(t, (const char * const[]) { p[0], strdash(p[1]), strdash(p[2]), p[3] });
                        if (r < 0)
                                return r;
                }
                r = table_print(t, stdout, arg_legend, on_tty() ? terminal_columns() : 0);
                if (r < 0)
                        return r;
        }
        if (dry_run)
                printf("Dry run: nothing was changed.\n");
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

int call_with_plan(sd_bus *bus, sd_bus_message *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **plan = NULL;
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_dry_run)
                r = sd_bus_message_append(m, "{sv}", "dry-run", "b", 1);
        if (r >= 0 && arg_override_critical)
                r = sd_bus_message_append(m, "{sv}", "override-critical", "b", 1);
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);

        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        r = hd_read_plan(reply, &plan);
        if (r < 0)
                return exit_message_error(r);
        return output_result(print_plan_steps(plan, arg_dry_run));
}

static int prepare_or_release(int argc, char *argv[], const char *method) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_strv_free_ char **devices = NULL;
        int r;

        for (int i = 1; i < argc; i++)
                if (isempty(argv[i])) {
                        log_error("%s: a device address must not be empty.", argv[0]);
                        return EXIT_USAGE;
                }

        if (resolve_devices(argv + 1, (size_t) argc - 1, &bus, &devices) < 0)
                return EXIT_FAILURE;

        if (hd_new_call(bus, &m, HOSTDEV_MANAGER_PATH, HOSTDEV_MANAGER_INTERFACE, method, arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = hd_append_object_paths(m, devices);
        if (r < 0)
                return exit_message_error(r);
        return call_with_plan(bus, m);
}

int verb_prepare(int argc, char *argv[]) {
        return prepare_or_release(argc, argv, "Prepare");
}

int verb_release(int argc, char *argv[]) {
        return prepare_or_release(argc, argv, "Release");
}
