/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "common/address.h"
#include "hostdevctl.h"

/* "mdev types [PARENT] | list | create PARENT TYPE [--uuid U] | remove UUID
 * | import": mediated devices through org.hostdev1.MdevParent and
 * org.hostdev1.Mdev. Text output only. */

#define MDEV_PARENT_INTERFACE "org.hostdev1.MdevParent"
#define MDEV_INTERFACE "org.hostdev1.Mdev"

typedef struct MdevRow {
        char *path, *uuid, *type, *parent, *source;
        int iommu_group;
        bool active;
} MdevRow;

/* "/org/hostdev1/pci/0000_01_00_0" → "0000:01:00.0" */
static void address_of(const char *path, char buf[static 32]) {
        const char *last = strrchr(path, '/');
        _cleanup_free_ char *name = NULL;

        /* a parent on no bus: its name, as sd-bus escaped it */
        if (sd_bus_path_decode(path, HOSTDEV_MANAGER_PATH "/mdev_parent", &name) > 0) {
                snprintf(buf, 32, "%s", name);
                return;
        }

        snprintf(buf, 32, "%s", last ? last + 1 : path);
        /* dddd_bb_ss_f */
        if (strlen(buf) == 12) {
                buf[4] = ':';
                buf[7] = ':';
                buf[10] = '.';
        }
}

/* PARENT: a device's address, else the name of a parent on no bus
 * ("mtty"), whose object is /org/hostdev1/mdev_parent/<name>. */
static int parent_path(sd_bus *bus, const char *arg, char **ret) {
        _cleanup_free_ char *address = NULL;

        if (pci_address_parse(arg, &address) >= 0 || usb_address_parse(arg, &address) >= 0)
                return hd_get_device(bus, arg, ret);
        if (sd_bus_path_encode(HOSTDEV_MANAGER_PATH "/mdev_parent", arg, ret) < 0)
                return log_oom();
        return 0;
}

static int print_types(sd_bus_message *m, const char *parent_path) {
        const char *id, *name, *description;
        char address[32];
        uint32_t available;
        int r;

        address_of(parent_path, address);
        r = sd_bus_message_enter_container(m, 'a', "(sssu)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(sssu)", &id, &name, &description, &available)) > 0) {
                _cleanup_free_ char *n = printable(name), *t = printable(id);

                if (!n || !t)
                        return -ENOMEM;
                printf("%-14s %-20s %9" PRIu32 "  %s\n", address, t, available, n);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void legend_types(void) {
        if (arg_legend)
                printf("%-14s %-20s %9s  %s\n", "PARENT", "TYPE", "AVAILABLE", "NAME");
}

/* Walks GetManagedObjects; calls back for each interface named, with m at its a{sv}. */
static int walk_objects(sd_bus *bus, const char *interface, int (*cb)(sd_bus_message *m, const char *path, void *u),
                        void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path, *iface;
        int r;

        r = sd_bus_call_method(bus, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL);
        if (r < 0) {
                log_bus_error(&error, r, "Failed to list the objects");
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                r = sd_bus_message_read(reply, "o", &path);
                if (r >= 0)
                        r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                        r = sd_bus_message_read(reply, "s", &iface);
                        if (r >= 0 && streq(iface, interface))
                                r = cb(reply, path, userdata);
                        else if (r >= 0)
                                r = sd_bus_message_skip(reply, "a{sv}");
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        return r < 0 ? log_message_error(r) : 0;
}

static int parent_types_cb(sd_bus_message *m, const char *path, void *userdata) {
        const char *name;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &name);
                if (r >= 0 && streq(name, "SupportedTypes")) {
                        r = sd_bus_message_enter_container(m, 'v', "a(sssu)");
                        if (r >= 0)
                                r = print_types(m, path);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int mdev_types(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (hd_bus_open(&bus) < 0)
                return EXIT_FAILURE;
        if (argc < 2) {
                legend_types();
                return walk_objects(bus, MDEV_PARENT_INTERFACE, parent_types_cb, NULL) < 0 ? EXIT_FAILURE
                                                                                          : EXIT_SUCCESS;
        }
        if (parent_path(bus, argv[1], &path) < 0)
                return EXIT_FAILURE;
        r = sd_bus_get_property(bus, HOSTDEV_SERVICE, path, MDEV_PARENT_INTERFACE, "SupportedTypes", &error, &reply,
                                "a(sssu)");
        if (r < 0) {
                log_bus_error(&error, r, "Failed to read the mediated device types");
                return EXIT_FAILURE;
        }
        legend_types();
        r = print_types(reply, path);
        return r < 0 ? exit_message_error(r) : EXIT_SUCCESS;
}

static int mdev_row_cb(sd_bus_message *m, const char *path, void *userdata) {
        const char *name, *s;
        MdevRow row = { .iommu_group = -1 };
        char parent[32] = "", vf[32] = "";
        int r, b;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        break;
                if (streq(name, "Uuid") || streq(name, "Type") || streq(name, "Source")) {
                        r = sd_bus_message_read(m, "v", "s", &s);
                        if (r >= 0)
                                *(streq(name, "Uuid") ? &row.uuid : streq(name, "Type") ? &row.type : &row.source) =
                                        (char *) s;
                } else if (streq(name, "Parent")) {
                        r = sd_bus_message_read(m, "v", "o", &s);
                        if (r >= 0)
                                address_of(s, parent);
                } else if (streq(name, "Device")) {
                        /* A vGPU on a VF: the VF stands where a UUID would. */
                        r = sd_bus_message_read(m, "v", "o", &s);
                        if (r >= 0 && !streq(s, "/"))
                                address_of(s, vf);
                } else if (streq(name, "IommuGroup"))
                        r = sd_bus_message_read(m, "v", "i", &row.iommu_group);
                else if (streq(name, "Active")) {
                        r = sd_bus_message_read(m, "v", "b", &b);
                        row.active = b;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0)
                return r;
        printf("%-36s %-14s %-20s %-8s %s\n", isempty(row.uuid) ? vf : row.uuid, parent, strempty(row.type),
               strempty(row.source), row.active ? "active" : "defined");
        return sd_bus_message_exit_container(m);
}

static int mdev_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;

        if (hd_bus_open(&bus) < 0)
                return EXIT_FAILURE;
        if (arg_legend)
                printf("%-36s %-14s %-20s %-8s %s\n", "UUID", "PARENT", "TYPE", "SOURCE", "STATE");
        return walk_objects(bus, MDEV_INTERFACE, mdev_row_cb, NULL) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int mdev_create(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const char *created;
        int r;

        if (hd_bus_open(&bus) < 0 || parent_path(bus, argv[1], &path) < 0)
                return EXIT_FAILURE;
        if (hd_new_call(bus, &m, path, MDEV_PARENT_INTERFACE, "CreateMdev", arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_append(m, "s", argv[2]);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && arg_uuid)
                r = sd_bus_message_append(m, "{sv}", "uuid", "s", arg_uuid);
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);
        if (hd_call(bus, m, &reply) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_read(reply, "o", &created);
        if (r < 0)
                return exit_message_error(r);
        /* The UUID is the path's last element, '_' for '-'. */
        {
                _cleanup_free_ char *uuid = strdup(strrchr(created, '/') + 1);

                if (!uuid)
                        return exit_message_error(-ENOMEM);
                /* A vGPU on a VF: "vf_0000_0b_00_4" is VF 0000:0b:00.4. */
                if (startswith(uuid, "vf_") && strlen(uuid) == 15) {
                        uuid[7] = uuid[10] = ':';
                        uuid[13] = '.';
                        printf("%s\n", uuid + 3);
                        return EXIT_SUCCESS;
                }
                for (char *c = uuid; *c; c++)
                        if (*c == '_')
                                *c = '-';
                printf("%s\n", uuid);
        }
        return EXIT_SUCCESS;
}

static char *mdev_path(const char *uuid) {
        char *p;

        /* A VF's address names the vGPU on it. */
        if (asprintf(&p, "/org/hostdev1/mdev/%s%s", strchr(uuid, ':') ? "vf_" : "", uuid) < 0)
                return NULL;
        for (char *c = p + strlen("/org/hostdev1/mdev/"); *c; c++)
                if (*c == '-' || *c == ':' || *c == '.')
                        *c = '_';
                else if (*c >= 'A' && *c <= 'F')
                        *c = (char) (*c - 'A' + 'a');
        return p;
}

static int call_mdev(const char *uuid, const char *method) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *path = mdev_path(uuid);
        int r;

        if (!path)
                return exit_message_error(-ENOMEM);
        if (!sd_bus_object_path_is_valid(path)) {
                log_error("'%s' is not a mediated device UUID.", uuid);
                return EXIT_USAGE;
        }
        if (hd_bus_open(&bus) < 0 || hd_new_call(bus, &m, path, MDEV_INTERFACE, method, arg_ask_password) < 0)
                return EXIT_FAILURE;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = hd_close_options(m, arg_ask_password);
        if (r < 0)
                return exit_message_error(r);
        return hd_call(bus, m, NULL) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int mdev_remove(int argc, char *argv[]) {
        return call_mdev(argv[1], "Remove");
}

static int mdevctl_uuid_cb(sd_bus_message *m, const char *path, void *userdata) {
        char ***uuids = userdata;
        const char *name, *s, *uuid = NULL, *source = NULL;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &name);
                if (r >= 0 && (streq(name, "Uuid") || streq(name, "Source"))) {
                        r = sd_bus_message_read(m, "v", "s", &s);
                        *(streq(name, "Uuid") ? &uuid : &source) = s;
                } else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0)
                return r;
        if (uuid && streq_ptr(source, "mdevctl") && strv_extend(uuids, uuid) < 0)
                return -ENOMEM;
        return sd_bus_message_exit_container(m);
}

static int mdev_import(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **uuids = NULL;
        int ret = EXIT_SUCCESS;

        if (hd_bus_open(&bus) < 0 || walk_objects(bus, MDEV_INTERFACE, mdevctl_uuid_cb, &uuids) < 0)
                return EXIT_FAILURE;
        for (char **u = uuids; u && *u; u++) {
                if (call_mdev(*u, "Import") != EXIT_SUCCESS)
                        ret = EXIT_FAILURE;
                else
                        printf("Imported %s\n", *u);
        }
        if (!uuids)
                log_note("No mdevctl definitions to import.");
        return ret;
}

const Verb mdev_verbs[] = {
        { "types",  "[PARENT]",    0, 1, 0, mdev_types,
          "List the mediated device types of PARENT, or of every parent" },
        { "list",   NULL,          0, 0, 0, mdev_list,   "List the mediated devices" },
        { "create", "PARENT TYPE", 2, 2, OPT_UUID, mdev_create,
          "Create a mediated device of TYPE on PARENT (--uuid, else a random one)" },
        { "remove", "UUID",        1, 1, 0, mdev_remove, "Remove a mediated device" },
        { "import", NULL,          0, 0, 0, mdev_import,
          "Let hostdev keep the mdevctl definitions it shows" },
};
const size_t n_mdev_verbs = ELEMENTSOF(mdev_verbs);

int verb_mdev(int argc, char *argv[]) {
        static char *list_argv[] = { (char *) "list", NULL };

        if (argc <= 1)
                return dispatch_verb(mdev_verbs, n_mdev_verbs, "mdev ", 1, list_argv);
        return dispatch_verb(mdev_verbs, n_mdev_verbs, "mdev ", argc - 1, argv + 1);
}
