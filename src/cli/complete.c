/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * "__complete KIND": live values for the shell completion, one a line.
 * Quick and quiet: the daemon is never started for it, a call that takes
 * longer than COMPLETE_TIMEOUT_USEC gives up, and any failure prints
 * nothing at all (exit status 1), so that a shell never hangs on Tab.
 */

#include "decode.h"
#include "hostdevctl.h"

#define COMPLETE_TIMEOUT_USEC (300ULL * 1000ULL)
#define CLAIM_PATH_PREFIX HOSTDEV_MANAGER_PATH "/claim/"

static int fetch_objects(sd_bus *bus, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, HOSTDEV_SERVICE, HOSTDEV_MANAGER_PATH,
                                           "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
        if (r < 0)
                return r;
        /* Tab must not start a service. */
        r = sd_bus_message_set_auto_start(m, false);
        if (r < 0)
                return r;
        return sd_bus_call(bus, m, COMPLETE_TIMEOUT_USEC, NULL, ret);
}

/* Claim ids: the last element of the claim objects' paths. */
static int print_claims(sd_bus_message *m) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
                _cleanup_free_ char *id = NULL;
                const char *path;

                r = sd_bus_message_read_basic(m, 'o', &path);
                if (r < 0)
                        return r;
                if (sd_bus_path_decode(path, HOSTDEV_MANAGER_PATH "/claim", &id) > 0 && !isempty(id))
                        printf("%s\n", id);
                r = sd_bus_message_skip(m, "a{sa{sv}}");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        return r;
}

static void print_host(const HdHost *h, const char *kind) {
        if (streq(kind, "devices") || streq(kind, "prepared-devices")) {
                for (size_t i = 0; i < h->n_devices; i++)
                        if (h->devices[i]->address &&
                            (streq(kind, "devices") || streq_ptr(h->devices[i]->state, "prepared")))
                                printf("%s\n", h->devices[i]->address);
        } else if (streq(kind, "iommu-groups")) {
                for (size_t i = 0; i < h->n_groups; i++)
                        printf("%u\n", h->groups[i]->number);
        } else if (streq(kind, "groups")) {
                for (size_t i = 0; i < h->n_resource_groups; i++)
                        if (!isempty(h->resource_groups[i]->name))
                                printf("%s\n", h->resource_groups[i]->name);
        }
}

int verb_complete(int argc, char *argv[]) {
        static const char * const kinds[] = {
                "devices", "prepared-devices", "iommu-groups", "groups", "claims",
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_host_free_ HdHost *h = NULL;
        const char *kind = argv[1];
        bool known = false;

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                known = known || streq(kinds[i], kind);
        if (!known)
                return EXIT_USAGE;

        /* Nothing on stderr either: the shell prints it in the middle of the line. */
        log_set_max_level(LOG_EMERG);
        if (sd_bus_open_system(&bus) < 0 || fetch_objects(bus, &reply) < 0)
                return EXIT_FAILURE;

        if (streq(kind, "claims"))
                return print_claims(reply) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        h = calloc(1, sizeof(HdHost));
        if (!h || hd_decode_objects(reply, h) < 0)
                return EXIT_FAILURE;
        hd_host_sort(h);
        print_host(h, kind);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
