/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Calls to hostdevd: connecting, fetching the host, changes and their errors. */

#include <errno.h>

#include "agent.h"
#include "client.h"
#include "decode.h"
#include "errors.h"
#include "output.h"

int hd_bus_open(sd_bus **ret) {
        int r;

        r = sd_bus_open_system(ret);
        if (r < 0) {
                log_error("Failed to connect to the system bus: %s", strerror(-r));
                return r;
        }
        return 0;
}

int hd_host_fetch(sd_bus *bus, HdHost **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        int r;

        h = calloc(1, sizeof(HdHost));
        if (!h) {
                log_oom();
                return -ENOMEM;
        }

        r = sd_bus_call_method(bus, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH,
                               "org.freedesktop.DBus.Properties", "GetAll",
                               &error, &reply, "s", HOSTDEV_MANAGER_INTERFACE);
        if (r < 0) {
                log_bus_error(&error, r, "Failed to query hostdevd");
                return r;
        }
        r = hd_decode_manager(reply, h);
        if (r < 0)
                goto parse_fail;
        reply = sd_bus_message_unref(reply);

        r = sd_bus_call_method(bus, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH,
                               "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                               &error, &reply, NULL);
        if (r < 0) {
                log_bus_error(&error, r, "Failed to list objects of hostdevd");
                return r;
        }

        r = hd_decode_objects(reply, h);
        if (r < 0)
                goto parse_fail;

        hd_host_sort(h);
        *ret = h;
        h = NULL;
        return 0;

parse_fail:
        if (r == -ENOMEM)
                log_oom();
        else
                log_error("Failed to parse the reply of hostdevd: %s", strerror(-r));
        return r;
}

int hd_get_device(sd_bus *bus, const char *address, char **ret_path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH,
                               HOSTDEV_MANAGER_INTERFACE, "GetDevice",
                               &error, &reply, "s", address);
        if (r < 0) {
                log_lookup_error(&error, r, address);
                return r;
        }

        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                log_error("Failed to parse the reply of hostdevd: %s", strerror(-r));
                return r;
        }

        *ret_path = strdup(path);
        if (!*ret_path) {
                log_oom();
                return -ENOMEM;
        }
        return 0;
}

int log_message_error(int r) {
        if (r == -ENOMEM)
                log_oom();
        else
                log_error("Failed to build or parse a message: %s", strerror(-r));
        return r;
}

int hd_new_call(sd_bus *bus, sd_bus_message **ret, const char *path, const char *interface, const char *member,
                bool interactive) {
        int r;

        r = sd_bus_message_new_method_call(bus, ret, HOSTDEV_SERVICE, path, interface, member);
        if (r >= 0)
                r = sd_bus_message_set_allow_interactive_authorization(*ret, interactive);
        if (r < 0)
                return log_message_error(r);
        return 0;
}

int hd_close_options(sd_bus_message *m, bool interactive) {
        int r;

        r = sd_bus_message_append(m, "{sv}", "auth.no_user_interaction", "b", (int) !interactive);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

int hd_append_devices_option(sd_bus_message *m, char **paths) {
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "devices");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "ao");
        if (r >= 0)
                r = hd_append_object_paths(m, paths);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int hd_call(sd_bus *bus, sd_bus_message *m, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (sd_bus_message_get_allow_interactive_authorization(m) > 0)
                polkit_agent_open();
        r = sd_bus_call(bus, m, HD_MUTATING_TIMEOUT_USEC, &error, ret_reply);
        polkit_agent_close();
        if (r < 0)
                log_call_error(bus, m, &error, r);
        return r;
}

int hd_append_object_paths(sd_bus_message *m, char **paths) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "o");
        for (char **p = paths; r >= 0 && p && *p; p++)
                r = sd_bus_message_append_basic(m, 'o', *p);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}
