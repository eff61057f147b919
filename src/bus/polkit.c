/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "bus.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

#define ACTION_MANAGE_GROUPS "org.hostdev1.manage-resource-groups"
#define ACTION_PREPARE "org.hostdev1.prepare-devices"

static const struct {
        const char *interface;
        const char *member;
        const char *action;
} actions[] = {
        { "org.hostdev1.Manager", "CreateResourceGroup", ACTION_MANAGE_GROUPS },
        { "org.hostdev1.Manager", "MakeResource", ACTION_MANAGE_GROUPS },
        { "org.hostdev1.ResourceGroup", "Update", ACTION_MANAGE_GROUPS },
        { "org.hostdev1.ResourceGroup", "SetRules", ACTION_MANAGE_GROUPS },
        { "org.hostdev1.ResourceGroup", "Delete", ACTION_MANAGE_GROUPS },
        { "org.hostdev1.Manager", "Prepare", ACTION_PREPARE },
        { "org.hostdev1.Manager", "Release", ACTION_PREPARE },
        { "org.hostdev1.ResourceGroup", "Prepare", ACTION_PREPARE },
        { "org.hostdev1.ResourceGroup", "Release", ACTION_PREPARE },
};

static const struct {
        const char *interface;
        const char *member;
} read_only[] = {
        { "org.hostdev1.Manager", "GetDevice" },
};

const char *bus_polkit_action(const char *interface, const char *member) {
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (streq(actions[i].interface, interface) && streq(actions[i].member, member))
                        return actions[i].action;
        return NULL;
}

bool bus_method_is_read_only(const char *interface, const char *member) {
        for (size_t i = 0; i < ELEMENTSOF(read_only); i++)
                if (streq(read_only[i].interface, interface) && streq(read_only[i].member, member))
                        return true;
        return false;
}

typedef enum Verdict {
        VERDICT_PENDING,
        VERDICT_ALLOWED,
        VERDICT_DENIED,
} Verdict;

struct PolkitQuery {
        Bus *bus;
        sd_bus_message *request;
        sd_bus_slot *slot;
        char key[32];
        char *actions[3];       /* asked in order; all must be granted */
        size_t current;
        char **details;
        bool interactive;
        Verdict verdict;
        sd_bus_error error;
};

static PolkitQuery *query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        if (q->bus)
                hashmap_remove(q->bus->polkit_queries, q->key);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        sd_bus_error_free(&q->error);
        for (size_t i = 0; i < ELEMENTSOF(q->actions); i++)
                free(q->actions[i]);
        strv_free(q->details);
        free(q);
        return NULL;
}

void bus_polkit_gc(Bus *d) {
        PolkitQuery *q;
        size_t i = 0;

        /* Runs when no message waits: an answered query still here belongs
         * to a call whose second run failed before it asked again. */
        while (hashmap_iterate(d->polkit_queries, &i, (void **) &q, NULL))
                if (q->verdict != VERDICT_PENDING) {
                        query_free(q);
                        i = 0;
                }
}

void bus_polkit_flush(Bus *d) {
        PolkitQuery *q;
        size_t i = 0;

        /* query_free removes from the map: restart the walk each time. */
        while (hashmap_iterate(d->polkit_queries, &i, (void **) &q, NULL)) {
                query_free(q);
                i = 0;
        }
}

_printf_(3, 4) static void deny(PolkitQuery *q, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        q->verdict = VERDICT_DENIED;
        sd_bus_error_set(&q->error, name, msg ?: "Not authorized.");
}

static int send_check(PolkitQuery *q);

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        const char *action = q->actions[q->current];
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized, challenge, r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (e) {
                log_warning("polkit check for %s failed: %s", action, e->message);
                deny(q, SD_BUS_ERROR_ACCESS_DENIED,
                     "Cannot check authorization with polkit (%s); refusing.", e->message);
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0)
                        deny(q, SD_BUS_ERROR_ACCESS_DENIED, "polkit sent an unreadable answer for %s; refusing.",
                             action);
                else if (authorized && q->actions[q->current + 1]) {
                        /* Granted; the next action must be granted too. */
                        q->current++;
                        r = send_check(q);
                        if (r >= 0)
                                return 1;
                        deny(q, SD_BUS_ERROR_ACCESS_DENIED, "Cannot ask polkit for authorization (%s); refusing.",
                             strerror(-r));
                } else if (authorized)
                        q->verdict = VERDICT_ALLOWED;
                /* polkit also answers "challenge" when no agent could ask anybody:
                 * only a caller that forbade interaction is told to allow it. */
                else if (challenge && !q->interactive)
                        deny(q, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                             "Authentication is required for %s; call again allowing interaction.", action);
                else
                        deny(q, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized for %s.", action);
        }

        /* Run the method handler again; it finds the verdict. The flush
         * after it sweeps the verdict away if the handler never asked. */
        r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0) {
                log_error_errno(r, "Cannot re-dispatch a call after polkit answered: %m");
                query_free(q);
                return 1;
        }
        daemon_schedule_flush(q->bus->daemon);
        return 1;
}

static int send_check(PolkitQuery *q) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus = sd_bus_message_get_bus(q->request);
        int r;

        r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                                          sd_bus_message_get_sender(q->request), q->actions[q->current]);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{ss}");
        for (char **i = q->details; r >= 0 && i && i[0] && i[1]; i += 2)
                r = sd_bus_message_append(call, "{ss}", i[0], i[1]);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        /* Flag 1: AllowUserInteraction. */
        if (r >= 0)
                r = sd_bus_message_append(call, "us", q->interactive ? 1u : 0u, "");
        if (r < 0)
                return r;
        return sd_bus_call_async(bus, &q->slot, call, on_polkit_reply, q, 0);
}

int bus_verify_polkit(Bus *d, sd_bus_message *m, const char *extra_action, const char *const *details,
                      bool interactive, sd_bus_error *error) {
        const char *action = bus_polkit_action(sd_bus_message_get_interface(m), sd_bus_message_get_member(m));
        PolkitQuery *q;
        char key[32];
        int r;

        if (!action)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s.%s has no authorization rule; refusing.",
                                         sd_bus_message_get_interface(m), sd_bus_message_get_member(m));

        snprintf(key, sizeof key, "%p", (void *) m);
        q = hashmap_get(d->polkit_queries, key);
        if (q && q->verdict == VERDICT_PENDING)
                return 0;
        if (q) {
                /* The answer to our earlier question, for this very call. */
                if (q->verdict == VERDICT_ALLOWED)
                        r = 1;
                else if (sd_bus_error_copy(error, &q->error) < 0 && sd_bus_error_is_set(error))
                        r = -EACCES;
                else
                        r = sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized.");
                query_free(q);
                return r;
        }

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->request = sd_bus_message_ref(m);
        q->actions[0] = strdup(action);
        q->actions[1] = extra_action ? strdup(extra_action) : NULL;
        q->interactive = interactive;
        memcpy(q->key, key, sizeof key);
        for (const char *const *i = details; i && *i; i++)
                if (strv_extend(&q->details, *i) < 0) {
                        query_free(q);
                        return -ENOMEM;
                }
        if (!q->actions[0] || (extra_action && !q->actions[1]) || hashmap_put(d->polkit_queries, q->key, q) < 0) {
                query_free(q);
                return -ENOMEM;
        }
        q->bus = d;
        r = send_check(q);
        if (r < 0) {
                query_free(q);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot ask polkit for authorization (%s); refusing.", strerror(-r));
        }
        log_debug("Asked polkit for %s", action);
        return 0;
}
