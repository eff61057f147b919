/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <sys/types.h>

#define UID_INVALID ((uid_t) -1)
#define UID_FMT "%u"

#include "bus.h"
#include "polkit.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

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
        { "org.hostdev1.SriovPhysicalFunction", "SetNumVfs", ACTION_CONFIGURE_SRIOV },
        { "org.hostdev1.SriovPhysicalFunction", "SetVfConfig", ACTION_CONFIGURE_SRIOV },
        { "org.hostdev1.MdevParent", "CreateMdev", ACTION_MANAGE_MDEV },
        { "org.hostdev1.Mdev", "Remove", ACTION_MANAGE_MDEV },
        { "org.hostdev1.Mdev", "Import", ACTION_MANAGE_MDEV },
        { "org.hostdev1.ResourceGroup", "Claim", ACTION_CLAIM },
        { "org.hostdev1.Claim", "Release", ACTION_CLAIM },
        { "org.hostdev1.ResourceGroup", "AssignToTenant", ACTION_ASSIGN_TENANT },
        { "org.hostdev1.ResourceGroup", "ReturnToParent", ACTION_ASSIGN_TENANT },
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

PolkitGate bus_polkit_gate(const char *interface, const char *member) {
        if (startswith(interface, "org.hostdev1.")) {
                if (bus_polkit_action(interface, member))
                        return POLKIT_GATE_GUARDED;
                return bus_method_is_read_only(interface, member) ? POLKIT_GATE_OPEN : POLKIT_GATE_DENIED;
        }
        /* Every property is read-only; sd-bus's own interfaces otherwise only read. */
        if (streq(interface, "org.freedesktop.DBus.Properties") && streq(member, "Set"))
                return POLKIT_GATE_DENIED;
        return POLKIT_GATE_OPEN;
}

/* ---- checks and details ---------------------------------------------- */

void polkit_checks_done(PolkitChecks *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->actions[i]);
                strv_free(c->details[i]);
        }
        free(c->actions);
        free(c->details);
        *c = (PolkitChecks) {};
}

int polkit_checks_add(PolkitChecks *c, const char *action, char **details) {
        _cleanup_strv_free_ char **owned = details;
        _cleanup_free_ char *a = NULL;
        char **actions_new, ***details_new;

        if (action && !(a = strdup(action)))
                return -ENOMEM;
        actions_new = realloc(c->actions, (c->n + 1) * sizeof(char *));
        if (!actions_new)
                return -ENOMEM;
        c->actions = actions_new;
        details_new = realloc(c->details, (c->n + 1) * sizeof(char **));
        if (!details_new)
                return -ENOMEM;
        c->details = details_new;
        c->actions[c->n] = TAKE_PTR(a);
        c->details[c->n] = TAKE_PTR(owned);
        c->n++;
        return 0;
}

bool polkit_checks_equal(const PolkitChecks *a, const PolkitChecks *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq_ptr(a->actions[i], b->actions[i]) || !strv_equal(a->details[i], b->details[i]))
                        return false;
        return true;
}

int polkit_details_add(char ***details, const char *key, const char *value) {
        if (!value)
                return 0;
        /* A key is passed once: a later value replaces the earlier. */
        for (char **i = *details; i && i[0] && i[1]; i += 2)
                if (streq(i[0], key))
                        return free_and_strdup(&i[1], value);
        if (strv_extend(details, key) < 0)
                return -ENOMEM;
        if (strv_extend(details, value) < 0) {
                /* Keep the list in pairs. */
                size_t n = strv_length(*details);
                free((*details)[n - 1]);
                (*details)[n - 1] = NULL;
                return -ENOMEM;
        }
        return 0;
}

int polkit_details_for_group(char ***details, const ResourceGroup *g) {
        if (polkit_details_add(details, "resource-group", g->id) < 0 ||
            polkit_details_add(details, "resource-group-name", g->name) < 0)
                return -ENOMEM;
        return 0;
}

int polkit_details_for_device(char ***details, const Device *dev) {
        char vendor[8], product[8];

        snprintf(vendor, sizeof vendor, "%04x", dev->vendor_id);
        snprintf(product, sizeof product, "%04x", dev->product_id);
        if (polkit_details_add(details, "device", dev->address) < 0 ||
            polkit_details_add(details, "vendor-id", vendor) < 0 ||
            polkit_details_add(details, "product-id", product) < 0 ||
            polkit_details_add(details, "serial", isempty(dev->serial) ? NULL : dev->serial) < 0)
                return -ENOMEM;
        if (dev->resource_group)
                return polkit_details_for_group(details, dev->resource_group);
        return 0;
}

static char *join_addresses(const Device *const *devs, size_t n, const char *sep) {
        size_t len = 1;
        char *s, *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(devs[i]->address) + strlen(sep);
        s = p = malloc(len);
        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; i < n; i++)
                p = stpcpy(stpcpy(p, i ? sep : ""), devs[i]->address);
        return s;
}

int polkit_details_for_devices(char ***details, const Device *const *devs, size_t n) {
        _cleanup_free_ char *all = join_addresses(devs, n, ",");

        if (!all)
                return -ENOMEM;
        return polkit_details_add(details, "devices", all);
}

int polkit_details_for_rules(char ***details, const Inventory *inv, ResourceType type, const Rule *rules,
                             size_t n) {
        _cleanup_free_ const Device **devs = calloc(inventory_n_devices(inv) + 1, sizeof(Device *));
        const ResourceGroup g = { .type = type, .rules = (Rule *) rules, .n_rules = n };
        size_t k = 0;

        if (!devs)
                return -ENOMEM;
        for (Device *const *dev = inventory_sorted(inv); *dev; dev++)
                if (resource_group_accepts(&g, *dev))
                        devs[k++] = *dev;
        return polkit_details_for_devices(details, devs, k);
}

char **polkit_details_new(const char *key, const char *value, ...) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        va_list ap;
        int r = l ? 0 : -ENOMEM;

        va_start(ap, value);
        for (; r >= 0 && key; key = va_arg(ap, const char *), value = key ? va_arg(ap, const char *) : NULL)
                r = polkit_details_add(&l, key, value);
        va_end(ap);
        return r < 0 ? NULL : TAKE_PTR(l);
}

/* "0000:00:17.0: holds /var (…); is a PCI bridge" */
static char *critical_reasons(const Device *dev) {
        char *s = NULL, *t;

        for (size_t j = 0; dev->critical && dev->critical[j] && dev->critical[j + 1]; j += 2) {
                if (asprintf(&t, "%s%s%s", strempty(s), s ? "; " : "", dev->critical[j + 1]) < 0) {
                        free(s);
                        return NULL;
                }
                free(s);
                s = t;
        }
        return s;
}

static int device_check(PolkitChecks *c, const char *action, const Device *dev, const Device *const *devs,
                        size_t n, const ResourceGroup *group, const char *message) {
        _cleanup_strv_free_ char **details = NULL;

        /* The group acted on replaces the device's own group. */
        if (polkit_details_for_device(&details, dev) < 0 || (group && polkit_details_for_group(&details, group) < 0))
                return -ENOMEM;
        if (polkit_details_for_devices(&details, devs, n) < 0 ||
            polkit_details_add(&details, "polkit.message", message) < 0)
                return -ENOMEM;
        return polkit_checks_add(c, action, TAKE_PTR(details));
}

int polkit_checks_for_devices(PolkitChecks *c, const Device *const *devs, size_t n, const ResourceGroup *group,
                              bool critical, const char *message) {
        int r;

        for (size_t i = 0; i < n; i++) {
                r = device_check(c, NULL, devs[i], devs, n, group, message);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; critical && i < n; i++) {
                _cleanup_free_ char *reasons = NULL, *msg = NULL;

                if (!devs[i]->critical || !devs[i]->critical[0])
                        continue;
                reasons = critical_reasons(devs[i]);
                if (!reasons || asprintf(&msg, "Authentication is required to act on %s, which the host "
                                         "itself needs (%s); this may make the host unusable.",
                                         devs[i]->address, reasons) < 0)
                        return -ENOMEM;
                r = device_check(c, ACTION_OVERRIDE_CRITICAL, devs[i], devs, n, group, msg);
                if (r < 0)
                        return r;
        }
        return 0;
}

int polkit_checks_for_group(PolkitChecks *c, const ResourceGroup *g, char **extra, const char *message) {
        _cleanup_strv_free_ char **owned = extra, **details = NULL;

        if (polkit_details_for_group(&details, g) < 0)
                return -ENOMEM;
        for (char **i = owned; i && i[0] && i[1]; i += 2)
                if (polkit_details_add(&details, i[0], i[1]) < 0)
                        return -ENOMEM;
        if (polkit_details_add(&details, "polkit.message", message) < 0)
                return -ENOMEM;
        return polkit_checks_add(c, NULL, TAKE_PTR(details));
}

int polkit_checks_for_new_group(PolkitChecks *c, const Inventory *inv, const char *name, ResourceType type,
                                const RuleList *rules) {
        _cleanup_strv_free_ char **details = NULL;
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "Authentication is required to create the resource group '%s'.", name) < 0)
                return -ENOMEM;
        if (polkit_details_add(&details, "resource-group-name", name) < 0 ||
            polkit_details_for_rules(&details, inv, type, rules->rules, rules->n_rules) < 0 ||
            polkit_details_add(&details, "polkit.message", msg) < 0)
                return -ENOMEM;
        return polkit_checks_add(c, NULL, TAKE_PTR(details));
}

int polkit_checks_for_plan(PolkitChecks *c, Bus *b, sd_bus_message *m, const Plan *plan, bool prepare) {
        _cleanup_free_ const Device **devs = calloc(plan->n_steps + 1, sizeof(Device *));
        _cleanup_free_ char *addresses = NULL, *msg = NULL;
        const ResourceGroup *group = NULL;
        size_t n = 0;

        if (!devs)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const Device *dev = inventory_get(&b->daemon->inventory, plan->steps[i].address);

                /* Plans are made from the inventory: a step without its
                 * device would change what polkit is never asked about. */
                if (!dev)
                        return -ENXIO;
                devs[n++] = dev;
        }
        if (streq_ptr(sd_bus_message_get_interface(m), "org.hostdev1.ResourceGroup"))
                group = bus_resource_group_from_path(b, sd_bus_message_get_path(m));
        addresses = join_addresses(devs, n, ", ");
        if (!addresses)
                return -ENOMEM;
        if ((prepare ? asprintf(&msg, "Authentication is required to prepare %s%s%s%s for passthrough: %s "
                               "to vfio-pci.", n == 1 ? "" : "the devices ", addresses,
                               group ? " of the resource group " : "", group ? group->name : "",
                               n == 1 ? "it moves from its host driver" : "they move from their host drivers")
                    : asprintf(&msg, "Authentication is required to give %s%s%s back to %s.", addresses,
                               group ? " of the resource group " : "", group ? group->name : "",
                               n == 1 ? "its host driver" : "their host drivers")) < 0)
                return -ENOMEM;
        return polkit_checks_for_devices(c, devs, n, group, prepare, msg);
}

/* ---- queries ------------------------------------------------------------ */

typedef enum Verdict {
        VERDICT_PENDING,
        VERDICT_ALLOWED,
        VERDICT_DENIED,
} Verdict;

struct PolkitQuery {
        Bus *front;
        sd_bus_message *request;
        sd_bus_slot *slot;
        char key[32];
        char *sender;
        uid_t uid;              /* of the sender, UID_INVALID when unknown */
        PolkitChecks checks;    /* actions resolved; asked in order */
        size_t current;
        bool interactive;
        unsigned round;         /* 1 for the first question of this call */
        Verdict verdict;
        sd_bus_error error;
        /* The method handler that asked, run again once polkit answered. */
        sd_bus_message_handler_t handler;
        void *userdata;
        uint64_t asked;         /* CLOCK_MONOTONIC µs the current check went out */
};

static PolkitQuery *query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        if (q->front)
                hashmap_remove(q->front->polkit_queries, q->key);
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        sd_bus_error_free(&q->error);
        polkit_checks_done(&q->checks);
        free(q->sender);
        free(q);
        return NULL;
}

static void query_freep(PolkitQuery **q) {
        query_free(*q);
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

/* The answer to the current check: the verdict, or 1 when the next check
 * was sent. */
static int read_answer(PolkitQuery *q, sd_bus_message *reply) {
        const char *action = q->checks.actions[q->current];
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized, challenge, r;

        if (e) {
                log_warning("polkit check for %s failed: %s", action, e->message);
                deny(q, SD_BUS_ERROR_ACCESS_DENIED, "Cannot check authorization with polkit (%s); refusing.",
                     e->message);
                return 0;
        }
        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                deny(q, SD_BUS_ERROR_ACCESS_DENIED, "polkit sent an unreadable answer for %s; refusing.", action);
        else if (authorized && q->current + 1 < q->checks.n) {
                /* Granted; the next check must be granted too. */
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
        return 0;
}

/* The handler again, right here rather than through sd-bus's read
 * queue: that costs an event loop iteration and a timer armed and read.
 * Only for handlers whose userdata is the Bus (they look their object up
 * by path, so one that went meanwhile is found gone), never asking
 * sd-bus for the current message or slot, which now are polkit's reply.
 * An error goes back as sd-bus would send it. */
static void resume(PolkitQuery *q) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = sd_bus_message_ref(q->request);
        Bus *b = q->front;
        char key[32];
        int r;

        snprintf(key, sizeof key, "%p", (void *) m);
        r = q->handler(m, q->userdata, &error);
        if (sd_bus_error_is_set(&error))
                (void) sd_bus_reply_method_error(m, &error);
        else if (r < 0)
                (void) sd_bus_reply_method_errno(m, r, NULL);
        /* q is gone when the handler took its verdict; a verdict left
         * means the handler failed before it asked. */
        q = hashmap_get(b->polkit_queries, key);
        if (q && q->verdict != VERDICT_PENDING)
                query_free(q);
        daemon_schedule_flush(b->daemon);
}

/* The verdict is in: the method runs again and finds it. */
static void answered(PolkitQuery *q) {
        int r;

        /* Run the method handler again, from the first argument; it finds
         * the verdict. The flush after it sweeps the verdict away if the
         * handler never asked. */
        r = sd_bus_message_rewind(q->request, true);
        if (r >= 0 && q->handler && q->userdata == q->front) {
                resume(q);
                return;
        }
        if (r >= 0)
                r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0) {
                log_error_errno(r, "Cannot re-dispatch a call after polkit answered: %m");
                (void) sd_bus_reply_method_errorf(q->request, SD_BUS_ERROR_ACCESS_DENIED,
                                                  "Cannot continue after polkit answered (%s); refusing.",
                                                  strerror(-r));
                query_free(q);
                return;
        }
        daemon_schedule_flush(q->front->daemon);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;

        q->slot = sd_bus_slot_unref(q->slot);
        if (read_answer(q, reply) == 0)
                answered(q);
        return 1;
}

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t bus_polkit_timeout_usec(void) {
        const char *e = getenv("HOSTDEV_POLKIT_TIMEOUT_MSEC");
        unsigned long ms = e ? strtoul(e, NULL, 10) : 0;

        return ms > 0 ? (uint64_t) ms * 1000 : POLKIT_TIMEOUT_USEC;
}

/* polkit's answers are awaited without sd-bus's per-call timeout: arming
 * and disarming its timer cost two timerfd calls on every authorized
 * call. One timer serves every question instead: armed when one goes out
 * and it is not, it refuses the questions that waited too long and is
 * armed again for the oldest left, if any. */
static int on_polkit_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int arm_timer(Bus *b, uint64_t when) {
        int enabled = SD_EVENT_OFF;
        int r;

        if (!b->polkit_timer)
                return sd_event_add_time(b->daemon->event, &b->polkit_timer, CLOCK_MONOTONIC, when, 0,
                                         on_polkit_timer, b);
        /* Armed: it fires for an older question first, then re-arms. */
        if (sd_event_source_get_enabled(b->polkit_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return 0;
        r = sd_event_source_set_time(b->polkit_timer, when);
        return r < 0 ? r : sd_event_source_set_enabled(b->polkit_timer, SD_EVENT_ONESHOT);
}

static int on_polkit_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;
        uint64_t now = now_monotonic_usec(), oldest = UINT64_MAX;
        _cleanup_strv_free_ char **late = NULL;
        PolkitQuery *q;
        size_t i = 0;

        /* Keys first: running a handler again changes the map. */
        while (hashmap_iterate(b->polkit_queries, &i, (void **) &q, NULL))
                if (q->verdict == VERDICT_PENDING && q->asked + b->polkit_timeout_usec <= now &&
                    strv_extend(&late, q->key) < 0)
                        return log_oom();
        for (char **k = late; k && *k; k++) {
                q = hashmap_get(b->polkit_queries, *k);
                if (!q || q->verdict != VERDICT_PENDING)
                        continue;
                log_warning("polkit did not answer about %s for %s within %" PRIu64 " ms.",
                            q->checks.actions[q->current], q->sender, b->polkit_timeout_usec / 1000);
                q->slot = sd_bus_slot_unref(q->slot);   /* a late answer goes nowhere */
                deny(q, SD_BUS_ERROR_ACCESS_DENIED, "polkit did not answer within %" PRIu64 " ms; refusing.",
                     b->polkit_timeout_usec / 1000);
                answered(q);
        }
        i = 0;
        while (hashmap_iterate(b->polkit_queries, &i, (void **) &q, NULL))
                if (q->verdict == VERDICT_PENDING && q->asked < oldest)
                        oldest = q->asked;
        if (oldest != UINT64_MAX && arm_timer(b, oldest + b->polkit_timeout_usec) < 0)
                log_warning("Cannot arm the polkit timer; unanswered questions wait on.");
        return 0;
}

static int send_check(PolkitQuery *q) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus = sd_bus_message_get_bus(q->request);
        char **details = q->checks.details[q->current];
        const char *device = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s", q->sender,
                                          q->checks.actions[q->current]);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{ss}");
        for (char **i = details; r >= 0 && i && i[0] && i[1]; i += 2)
                r = sd_bus_message_append(call, "{ss}", i[0], i[1]);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        /* Flag 1: AllowUserInteraction. */
        if (r >= 0)
                r = sd_bus_message_append(call, "us", q->interactive ? 1u : 0u, "");
        if (r < 0)
                return r;
        for (char **i = details; i && i[0] && i[1]; i += 2)
                if (streq(i[0], "device"))
                        device = i[1];
        log_debug("Asking polkit for %s (%zu of %zu)%s%s for %s", q->checks.actions[q->current], q->current + 1,
                  q->checks.n, device ? " about " : "", strempty(device), q->sender);
        /* No timeout of sd-bus's own: the polkit timer keeps time. */
        r = sd_bus_call_async(bus, &q->slot, call, on_polkit_reply, q, UINT64_MAX);
        if (r < 0)
                return r;
        q->asked = now_monotonic_usec();
        return arm_timer(q->front, q->asked + q->front->polkit_timeout_usec);
}

/* The checks with the method's action filled in. */
static int resolve_checks(const PolkitChecks *in, const char *action, PolkitChecks *ret) {
        _cleanup_(polkit_checks_done) PolkitChecks c = {};

        for (size_t i = 0; i < in->n || (i == 0 && in->n == 0); i++) {
                _cleanup_strv_free_ char **details = NULL;

                for (char **j = i < in->n ? in->details[i] : NULL; j && *j; j++)
                        if (strv_extend(&details, *j) < 0)
                                return -ENOMEM;
                if (polkit_checks_add(&c, i < in->n && in->actions[i] ? in->actions[i] : action,
                                      TAKE_PTR(details)) < 0)
                        return -ENOMEM;
        }
        *ret = c;
        c = (PolkitChecks) {};
        return 0;
}

typedef struct Pending {
        size_t sender, user, all;
} Pending;

static Pending pending_counts(Bus *d, const char *sender, uid_t uid) {
        Pending p = {};
        PolkitQuery *q;
        size_t i = 0;

        while (hashmap_iterate(d->polkit_queries, &i, (void **) &q, NULL))
                if (q->verdict == VERDICT_PENDING) {
                        p.all++;
                        p.sender += streq(q->sender, sender);
                        p.user += uid != UID_INVALID && q->uid == uid;
                }
        return p;
}

/* The caller's user: known when the same connection asked lately
 * (unique names are never reused), else asked of the bus driver (one
 * round trip to dbus-daemon, as sd-bus itself does to check privileged
 * methods) and remembered. */
static uid_t sender_uid(Bus *d, sd_bus_message *m, const char *sender) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        char *copy;
        uid_t uid;

        for (size_t i = 0; i < ELEMENTSOF(d->uid_cache); i++)
                if (streq_ptr(d->uid_cache[i].sender, sender))
                        return d->uid_cache[i].uid;
        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) < 0 ||
            sd_bus_creds_get_euid(creds, &uid) < 0)
                return UID_INVALID;
        copy = strdup(sender);
        if (copy) {
                unsigned k = d->uid_cache_next++ % ELEMENTSOF(d->uid_cache);

                free(d->uid_cache[k].sender);
                d->uid_cache[k].sender = copy;
                d->uid_cache[k].uid = uid;
        }
        return uid;
}

/* The verdict polkit gave for exactly these checks. */
static int query_verdict(PolkitQuery *q, sd_bus_error *error) {
        int r;

        if (q->verdict == VERDICT_ALLOWED)
                r = 1;
        else if (sd_bus_error_copy(error, &q->error) < 0 && sd_bus_error_is_set(error))
                r = -EACCES;
        else
                r = sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized.");
        query_free(q);
        return r;
}

static int ask(Bus *d, sd_bus_message *m, PolkitChecks *checks, bool interactive, unsigned round,
               sd_bus_message_handler_t handler, void *userdata, sd_bus_error *error) {
        _cleanup_(query_freep) PolkitQuery *q = NULL;
        const char *sender = sd_bus_message_get_sender(m);
        Pending pending;
        uid_t uid;
        int r;

        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "A call without a sender; refusing.");
        uid = sender_uid(d, m, sender);
        pending = pending_counts(d, sender, uid);
        if (pending.sender >= POLKIT_PENDING_PER_SENDER)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "Too many authorization checks pending for %s; "
                                         "try again once polkit answered them.", sender);
        if (pending.user >= POLKIT_PENDING_PER_USER)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "Too many authorization checks pending for user "
                                         UID_FMT " (%s and its other connections); try again once polkit "
                                         "answered them.", uid, sender);
        if (pending.all >= POLKIT_PENDING_MAX)
                return sd_bus_error_set(error, BUS_ERROR_BUSY,
                                        "Too many authorization checks pending; try again shortly.");

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->request = sd_bus_message_ref(m);
        q->sender = strdup(sender);
        if (!q->sender)
                return -ENOMEM;
        q->checks = *checks;
        *checks = (PolkitChecks) {};
        q->uid = uid;
        q->interactive = interactive;
        q->round = round;
        q->handler = handler;
        q->userdata = userdata;
        snprintf(q->key, sizeof q->key, "%p", (void *) m);
        r = hashmap_put(d->polkit_queries, q->key, q);
        if (r < 0)
                return r;
        q->front = d;
        r = send_check(q);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot ask polkit for authorization (%s); refusing.", strerror(-r));
        q = NULL;
        return 0;
}

int bus_verify_polkit(Bus *d, sd_bus_message *m, const PolkitChecks *checks, bool no_user_interaction,
                      sd_bus_error *error) {
        const char *interface = sd_bus_message_get_interface(m), *member = sd_bus_message_get_member(m);
        const char *action = interface && member ? bus_polkit_action(interface, member) : NULL;
        _cleanup_(polkit_checks_done) PolkitChecks wanted = {};
        bool interactive;
        sd_bus *bus = sd_bus_message_get_bus(m);
        sd_bus_message_handler_t handler = NULL;
        void *userdata = NULL;
        unsigned round = 1;
        PolkitQuery *q;
        char key[32];
        int r;

        /* The gate lets no unguarded method through to a handler. */
        assert(action);
        if (!action)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s.%s has no authorization rule; refusing.", strempty(interface),
                                         strempty(member));

        r = resolve_checks(checks, action, &wanted);
        if (r < 0)
                return r;
        /* Either the header or the option saying "no interaction" wins. */
        r = sd_bus_message_get_allow_interactive_authorization(m);
        interactive = r > 0 && !no_user_interaction;

        snprintf(key, sizeof key, "%p", (void *) m);
        q = hashmap_get(d->polkit_queries, key);
        if (q && q->verdict == VERDICT_PENDING)
                return 0;
        if (q && (q->verdict == VERDICT_DENIED ||
                  (polkit_checks_equal(&q->checks, &wanted) && q->interactive == interactive)))
                return query_verdict(q, error);
        if (q) {
                /* Granted, but for another question: the host changed while
                 * polkit decided (a device turned critical, joined the group).
                 * That answer does not cover this call: ask again. */
                round = q->round + 1;
                handler = q->handler;
                userdata = q->userdata;
                log_info("What %s.%s from %s asks changed while polkit decided; asking again.", interface, member,
                         q->sender);
                query_free(q);
                if (round > POLKIT_ROUNDS_MAX)
                        return sd_bus_error_set(error, BUS_ERROR_BUSY,
                                                "What this call would change kept changing while polkit "
                                                "decided; try again.");
        }
        if (!handler && sd_bus_get_current_message(bus) == m) {
                handler = sd_bus_get_current_handler(bus);
                userdata = sd_bus_get_current_userdata(bus);
        }
        return ask(d, m, &wanted, interactive, round, handler, userdata, error);
}
