/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <NetworkManager.h>

#include "critical-internal.h"
#include "network.h"
#include "shared/text.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "sysfs.h"

/* Bond over VLAN over bridge over … deeper than this is a loop. */
#define NET_DEPTH_MAX 8

#define NM_BUS_NAME "org.freedesktop.NetworkManager"
/* How long NetworkManager may take to hand over its objects, and how long
 * to leave it alone when it did not. */
#define NM_TIMEOUT_MS 5000
#define NM_QUIET_SEC 30

static const NetLink *link_by_name(const NetLink *links, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(links[i].name, name))
                        return &links[i];
        return NULL;
}

static const NetLink *link_by_index(const NetLink *links, size_t n, int ifindex) {
        for (size_t i = 0; i < n; i++)
                if (links[i].ifindex == ifindex)
                        return &links[i];
        return NULL;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static int add_unique(char ***l, const char *s) {
        for (char **i = *l; i && *i; i++)
                if (streq(*i, s))
                        return 0;
        return strv_extend(l, s);
}

/* Kinds whose IFLA_LINK is the device they send through. (A veth's
 * IFLA_LINK is its peer, a tunnel's an underlay it only routes over.) */
static bool kind_stacks_on_link(const char *kind) {
        static const char *const kinds[] = { "vlan", "macvlan", "macvtap", "ipvlan", "ipvtap", "macsec" };

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kind, kinds[i]))
                        return true;
        return false;
}

/* What the interface sends through, as sysfs and the kernel's link table
 * tell it; either may be missing (a simulated sysfs, no netlink). */
static int lowers_of(const Paths *p, const NetLink *links, size_t n_links, const char *name, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *path = NULL, *slaves = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        const NetLink *self;
        struct dirent *de;

        if (asprintf(&path, "%s/class/net/%s", p->sysfs, name) < 0)
                return -ENOMEM;
        dir = opendir(path);
        if (dir) {
                _cleanup_closedir_ DIR *brif = NULL;
                int fd;

                while ((de = readdir(dir))) {
                        const char *lower = startswith(de->d_name, "lower_");

                        if (lower && *lower && add_unique(&l, lower) < 0)
                                return -ENOMEM;
                }
                /* Kernels before 4.x had no lower_* links for bridge ports. */
                fd = openat(dirfd(dir), "brif", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd >= 0) {
                        brif = fdopendir(fd);
                        if (!brif)
                                close(fd);
                }
                while (brif && (de = readdir(brif)))
                        if (de->d_name[0] != '.' && add_unique(&l, de->d_name) < 0)
                                return -ENOMEM;
                if (sysfs_read(dirfd(dir), "bonding/slaves", &slaves) >= 0) {
                        _cleanup_strv_free_ char **s = strv_split_whitespace(slaves);

                        if (!s)
                                return -ENOMEM;
                        for (char **i = s; *i; i++)
                                if (add_unique(&l, *i) < 0)
                                        return -ENOMEM;
                }
        }

        self = link_by_name(links, n_links, name);
        if (self) {
                for (size_t i = 0; i < n_links; i++) {
                        const NetLink *o = &links[i];

                        if (o == self)
                                continue;
                        /* Ports of a bond, bridge or team; with Open vSwitch
                         * the internal port and the NICs are all ports of
                         * the datapath, so any of them may carry its traffic. */
                        if ((o->master == self->ifindex ||
                             (streq(self->kind, "openvswitch") && self->master > 0 && o->master == self->master)) &&
                            add_unique(&l, o->name) < 0)
                                return -ENOMEM;
                }
                if (kind_stacks_on_link(self->kind) && !self->link_elsewhere && self->link != self->ifindex) {
                        const NetLink *parent = link_by_index(links, n_links, self->link);

                        if (parent && add_unique(&l, parent->name) < 0)
                                return -ENOMEM;
                }
        }
        /* Directory order is arbitrary: sort, so that reasons come out the
         * same each time and only real changes are announced. */
        if (l)
                qsort(l, strv_length(l), sizeof(char *), cmp_strp);
        *ret = TAKE_PTR(l);
        return 0;
}

/* path: the interfaces from the start down to this one's upper, top down. */
static int walk_rec(const Paths *p, const NetLink *links, size_t n_links, const char *name,
                    char ***path, char ***pairs) {
        _cleanup_strv_free_ char **lowers = NULL;
        _cleanup_free_ char *dir = NULL, *address = NULL;
        size_t depth = strv_length(*path);
        int r;

        if (depth > NET_DEPTH_MAX)
                return 0;
        if (asprintf(&dir, "%s/class/net/%s", p->sysfs, name) < 0)
                return -ENOMEM;
        r = sysfs_pci_function_of(dir, &address);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                _cleanup_free_ char *text = strdup(name);

                /* "eno1 via bond0 via bond0.100": the NIC, then the way up. */
                for (size_t i = depth; text && i > 0; i--) {
                        char *t = NULL;

                        if (asprintf(&t, "%s via %s", text, (*path)[i - 1]) < 0)
                                t = NULL;
                        free(text);
                        text = t;
                }
                if (!text)
                        return -ENOMEM;
                for (size_t i = 0; *pairs && (*pairs)[i] && (*pairs)[i + 1]; i += 2)
                        if (streq((*pairs)[i], address))
                                return 0;
                if (strv_extend(pairs, address) < 0 || strv_extend(pairs, text) < 0)
                        return -ENOMEM;
                return 0;
        }

        r = lowers_of(p, links, n_links, name, &lowers);
        if (r < 0)
                return r;
        if (strv_extend(path, name) < 0)
                return -ENOMEM;
        for (char **l = lowers; l && *l && r >= 0; l++) {
                bool seen = false;

                for (char **i = *path; *i; i++)
                        seen = seen || streq(*i, *l);
                if (!seen)
                        r = walk_rec(p, links, n_links, *l, path, pairs);
        }
        free((*path)[depth]);
        (*path)[depth] = NULL;
        return r;
}

int network_walk(const Paths *p, const NetLink *links, size_t n_links, const char *ifname, char ***pairs) {
        _cleanup_strv_free_ char **path = NULL;
        int r;

        r = walk_rec(p, links, n_links, ifname, &path, pairs);
        /* Keep pairs whole even when we ran out of memory half-way. */
        if (r < 0 && strv_length(*pairs) % 2) {
                size_t last = strv_length(*pairs) - 1;

                free((*pairs)[last]);
                (*pairs)[last] = NULL;
        }
        return r;
}

/* libnm is loaded only when NetworkManager owns its name: a host without it
 * (most virtualization hosts) never maps libnm, GLib and GIO. Types come
 * from the headers, so the calls are still checked by the compiler. */
static struct {
        void *handle;
        bool failed;
        typeof(&nm_client_new_async) client_new_async;
        typeof(&nm_client_new_finish) client_new_finish;
        typeof(&nm_client_get_nm_running) client_get_nm_running;
        typeof(&nm_client_get_active_connections) client_get_active_connections;
        typeof(&nm_client_get_context_busy_watcher) client_get_context_busy_watcher;
        typeof(&nm_active_connection_get_devices) active_connection_get_devices;
        typeof(&nm_active_connection_get_state) active_connection_get_state;
        typeof(&nm_active_connection_get_id) active_connection_get_id;
        typeof(&nm_device_get_iface) device_get_iface;
        typeof(&nm_device_get_ip_iface) device_get_ip_iface;
        typeof(&g_object_unref) object_unref;
        typeof(&g_object_weak_ref) object_weak_ref;
        typeof(&g_object_weak_unref) object_weak_unref;
        typeof(&g_main_context_new) main_context_new;
        typeof(&g_main_context_push_thread_default) main_context_push_thread_default;
        typeof(&g_main_context_pop_thread_default) main_context_pop_thread_default;
        typeof(&g_main_context_iteration) main_context_iteration;
        typeof(&g_main_context_unref) main_context_unref;
        typeof(&g_cancellable_new) cancellable_new;
        typeof(&g_cancellable_cancel) cancellable_cancel;
        typeof(&g_timeout_source_new) timeout_source_new;
        typeof(&g_source_set_callback) source_set_callback;
        typeof(&g_source_attach) source_attach;
        typeof(&g_source_destroy) source_destroy;
        typeof(&g_source_unref) source_unref;
        typeof(&g_error_free) error_free;
        /* SR-IOV VF settings through a connection's sriov setting. */
        typeof(&nm_client_get_device_by_iface) client_get_device_by_iface;
        typeof(&nm_device_get_active_connection) device_get_active_connection;
        typeof(&nm_active_connection_get_connection) active_connection_get_connection;
        typeof(&nm_simple_connection_new_clone) simple_connection_new_clone;
        typeof(&nm_connection_get_setting_by_name) connection_get_setting_by_name;
        typeof(&nm_connection_add_setting) connection_add_setting;
        typeof(&nm_connection_to_dbus) connection_to_dbus;
        typeof(&nm_setting_sriov_new) setting_sriov_new;
        typeof(&nm_setting_sriov_get_total_vfs) setting_sriov_get_total_vfs;
        typeof(&nm_setting_sriov_get_num_vfs) setting_sriov_get_num_vfs;
        typeof(&nm_setting_sriov_get_vf) setting_sriov_get_vf;
        typeof(&nm_setting_sriov_add_vf) setting_sriov_add_vf;
        typeof(&nm_setting_sriov_remove_vf_by_index) setting_sriov_remove_vf_by_index;
        typeof(&nm_sriov_vf_new) sriov_vf_new;
        typeof(&nm_sriov_vf_dup) sriov_vf_dup;
        typeof(&nm_sriov_vf_unref) sriov_vf_unref;
        typeof(&nm_sriov_vf_get_index) sriov_vf_get_index;
        typeof(&nm_sriov_vf_set_attribute) sriov_vf_set_attribute;
        typeof(&nm_sriov_vf_get_vlan_ids) sriov_vf_get_vlan_ids;
        typeof(&nm_sriov_vf_add_vlan) sriov_vf_add_vlan;
        typeof(&nm_sriov_vf_remove_vlan) sriov_vf_remove_vlan;
        typeof(&nm_sriov_vf_set_vlan_qos) sriov_vf_set_vlan_qos;
        typeof(&nm_remote_connection_update2) remote_connection_update2;
        typeof(&nm_remote_connection_update2_finish) remote_connection_update2_finish;
        typeof(&nm_device_reapply_async) device_reapply_async;
        typeof(&nm_device_reapply_finish) device_reapply_finish;
        typeof(&g_object_ref) object_ref;
        typeof(&g_object_set) object_set;
        typeof(&g_variant_new_string) variant_new_string;
        typeof(&g_variant_new_boolean) variant_new_boolean;
        typeof(&g_variant_new_uint32) variant_new_uint32;
        typeof(&g_variant_unref) variant_unref;
} nm;

static int nm_load(void) {
        static const struct {
                const char *name;
                size_t offset;
        } syms[] = {
#define SYM(field, name) { #name, offsetof(typeof(nm), field) }
                SYM(client_new_async, nm_client_new_async),
                SYM(client_new_finish, nm_client_new_finish),
                SYM(client_get_nm_running, nm_client_get_nm_running),
                SYM(client_get_active_connections, nm_client_get_active_connections),
                SYM(client_get_context_busy_watcher, nm_client_get_context_busy_watcher),
                SYM(active_connection_get_devices, nm_active_connection_get_devices),
                SYM(active_connection_get_state, nm_active_connection_get_state),
                SYM(active_connection_get_id, nm_active_connection_get_id),
                SYM(device_get_iface, nm_device_get_iface),
                SYM(device_get_ip_iface, nm_device_get_ip_iface),
                SYM(object_unref, g_object_unref),
                SYM(object_weak_ref, g_object_weak_ref),
                SYM(object_weak_unref, g_object_weak_unref),
                SYM(main_context_new, g_main_context_new),
                SYM(main_context_push_thread_default, g_main_context_push_thread_default),
                SYM(main_context_pop_thread_default, g_main_context_pop_thread_default),
                SYM(main_context_iteration, g_main_context_iteration),
                SYM(main_context_unref, g_main_context_unref),
                SYM(cancellable_new, g_cancellable_new),
                SYM(cancellable_cancel, g_cancellable_cancel),
                SYM(timeout_source_new, g_timeout_source_new),
                SYM(source_set_callback, g_source_set_callback),
                SYM(source_attach, g_source_attach),
                SYM(source_destroy, g_source_destroy),
                SYM(source_unref, g_source_unref),
                SYM(error_free, g_error_free),
                SYM(client_get_device_by_iface, nm_client_get_device_by_iface),
                SYM(device_get_active_connection, nm_device_get_active_connection),
                SYM(active_connection_get_connection, nm_active_connection_get_connection),
                SYM(simple_connection_new_clone, nm_simple_connection_new_clone),
                SYM(connection_get_setting_by_name, nm_connection_get_setting_by_name),
                SYM(connection_add_setting, nm_connection_add_setting),
                SYM(connection_to_dbus, nm_connection_to_dbus),
                SYM(setting_sriov_new, nm_setting_sriov_new),
                SYM(setting_sriov_get_total_vfs, nm_setting_sriov_get_total_vfs),
                SYM(setting_sriov_get_num_vfs, nm_setting_sriov_get_num_vfs),
                SYM(setting_sriov_get_vf, nm_setting_sriov_get_vf),
                SYM(setting_sriov_add_vf, nm_setting_sriov_add_vf),
                SYM(setting_sriov_remove_vf_by_index, nm_setting_sriov_remove_vf_by_index),
                SYM(sriov_vf_new, nm_sriov_vf_new),
                SYM(sriov_vf_dup, nm_sriov_vf_dup),
                SYM(sriov_vf_unref, nm_sriov_vf_unref),
                SYM(sriov_vf_get_index, nm_sriov_vf_get_index),
                SYM(sriov_vf_set_attribute, nm_sriov_vf_set_attribute),
                SYM(sriov_vf_get_vlan_ids, nm_sriov_vf_get_vlan_ids),
                SYM(sriov_vf_add_vlan, nm_sriov_vf_add_vlan),
                SYM(sriov_vf_remove_vlan, nm_sriov_vf_remove_vlan),
                SYM(sriov_vf_set_vlan_qos, nm_sriov_vf_set_vlan_qos),
                SYM(remote_connection_update2, nm_remote_connection_update2),
                SYM(remote_connection_update2_finish, nm_remote_connection_update2_finish),
                SYM(device_reapply_async, nm_device_reapply_async),
                SYM(device_reapply_finish, nm_device_reapply_finish),
                SYM(object_ref, g_object_ref),
                SYM(object_set, g_object_set),
                SYM(variant_new_string, g_variant_new_string),
                SYM(variant_new_boolean, g_variant_new_boolean),
                SYM(variant_new_uint32, g_variant_new_uint32),
                SYM(variant_unref, g_variant_unref),
#undef SYM
        };

        if (nm.handle)
                return 0;
        if (nm.failed)
                return -EOPNOTSUPP;
        /* Never unloaded: GLib does not support it. */
        nm.handle = dlopen("libnm.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!nm.handle) {
                nm.failed = true;
                log_warning("NetworkManager runs, but libnm cannot be loaded (%s): "
                            "only the kernel's default routes mark NICs critical.", dlerror());
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
                void *f = dlsym(nm.handle, syms[i].name);

                if (!f) {
                        log_warning("libnm lacks %s: only the kernel's default routes mark NICs critical.",
                                    syms[i].name);
                        nm.failed = true;
                        return -EOPNOTSUPP;
                }
                memcpy((uint8_t *) &nm + syms[i].offset, &f, sizeof(f));
        }
        return 0;
}

typedef struct NmInit {
        NMClient *client;
        GError *error;
        bool done;
        bool timed_out;
        bool watcher_gone;
        GCancellable *cancellable;
} NmInit;

static void on_client_ready(GObject *source, GAsyncResult *result, gpointer userdata) {
        NmInit *s = userdata;

        s->client = nm.client_new_finish(result, &s->error);
        s->done = true;
}

static gboolean on_timeout(gpointer userdata) {
        NmInit *s = userdata;

        s->timed_out = true;
        nm.cancellable_cancel(s->cancellable);
        return G_SOURCE_REMOVE;
}

static void on_watcher_gone(gpointer userdata, GObject *where) {
        ((NmInit *) userdata)->watcher_gone = true;
}

static int nm_running(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r, has;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", NM_BUS_NAME);
        if (r < 0)
                return log_debug_errno(r, "Cannot ask the bus for NetworkManager: %s", error.message ?: "");
        r = sd_bus_message_read(reply, "b", &has);
        return r < 0 ? r : has;
}

/* What the client saw: (id, interface) of every connection that is up or
 * coming up. */
static int collect(NMClient *client, char ***pairs) {
        const GPtrArray *acs = nm.client_get_active_connections(client);

        for (guint i = 0; acs && i < acs->len; i++) {
                NMActiveConnection *ac = acs->pdata[i];
                NMActiveConnectionState state = nm.active_connection_get_state(ac);
                const GPtrArray *devs;
                const char *id;

                if (state != NM_ACTIVE_CONNECTION_STATE_ACTIVATING && state != NM_ACTIVE_CONNECTION_STATE_ACTIVATED)
                        continue;
                id = nm.active_connection_get_id(ac) ?: "";
                devs = nm.active_connection_get_devices(ac);
                for (guint j = 0; devs && j < devs->len; j++) {
                        const char *names[] = { nm.device_get_iface(devs->pdata[j]),
                                                nm.device_get_ip_iface(devs->pdata[j]) };

                        for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                                bool seen = false;

                                if (isempty(names[k]))
                                        continue;
                                for (size_t m = 0; *pairs && (*pairs)[m]; m += 2)
                                        seen = seen || (streq((*pairs)[m], id) && streq((*pairs)[m + 1], names[k]));
                                if (seen)
                                        continue;
                                if (strv_extend(pairs, id) < 0 || strv_extend(pairs, names[k]) < 0)
                                        return -ENOMEM;
                        }
                }
        }
        return 0;
}

static char **strv_copy(char **l) {
        char **c = calloc(strv_length(l) + 1, sizeof(char *));

        for (size_t i = 0; c && l && l[i]; i++)
                if (!(c[i] = strdup(l[i])))
                        return strv_free(c);
        return c;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* One NMClient for one job (an answer, a change): created in a private
 * context, used and dropped, all within NM_TIMEOUT_MS. */
typedef struct NmSession {
        NmInit s;
        GMainContext *ctx;
        GSource *timeout;
} NmSession;

/* n->s.client is NULL when NetworkManager did not answer (n->s.error). */
static void nm_session_open(NmSession *n) {
        *n = (NmSession) {};
        /* A private context, iterated only here: NMClient's callbacks and
         * signals never run behind our back, and the daemon's event loop
         * stays sd-event's. */
        n->ctx = nm.main_context_new();
        nm.main_context_push_thread_default(n->ctx);
        n->s.cancellable = nm.cancellable_new();
        n->timeout = nm.timeout_source_new(NM_TIMEOUT_MS);
        nm.source_set_callback(n->timeout, on_timeout, &n->s, NULL);
        nm.source_attach(n->timeout, n->ctx);

        nm.client_new_async(n->s.cancellable, on_client_ready, &n->s);
        while (!n->s.done)
                nm.main_context_iteration(n->ctx, TRUE);
}

static void nm_session_close(NmSession *n) {
        if (n->s.client) {
                GObject *watcher = nm.client_get_context_busy_watcher(n->s.client);

                /* The client lets go of its D-Bus calls and matches only
                 * while its context runs; its busy watcher dies last. */
                nm.object_weak_ref(watcher, on_watcher_gone, &n->s);
                nm.object_unref(n->s.client);
                while (!n->s.watcher_gone && !n->s.timed_out)
                        nm.main_context_iteration(n->ctx, TRUE);
                /* Gave up waiting: s must not be written once we return. */
                if (!n->s.watcher_gone)
                        nm.object_weak_unref(watcher, on_watcher_gone, &n->s);
        }
        if (n->s.error)
                nm.error_free(n->s.error);
        nm.source_destroy(n->timeout);
        nm.source_unref(n->timeout);
        nm.object_unref(n->s.cancellable);
        nm.main_context_pop_thread_default(n->ctx);
        nm.main_context_unref(n->ctx);
}

static int nm_ask(char ***ret_pairs) {
        _cleanup_strv_free_ char **pairs = NULL;
        NmSession n;
        int r = 0;

        nm_session_open(&n);
        if (!n.s.client) {
                log_warning("NetworkManager did not answer%s (%s); asking again in %u s.",
                            n.s.timed_out ? " in time" : "", n.s.error ? n.s.error->message : "unknown error",
                            NM_QUIET_SEC);
                r = -ETIMEDOUT;
        } else if (nm.client_get_nm_running(n.s.client))
                r = collect(n.s.client, &pairs);
        nm_session_close(&n);
        if (r >= 0)
                *ret_pairs = TAKE_PTR(pairs);
        return r;
}

/* NetworkManager is asked in a thread of its own: libnm needs its GLib
 * context iterated until the answer is in (up to NM_TIMEOUT_MS when it
 * hangs), and the daemon's loop must not wait for that. The thread's
 * answer comes back to the loop through a socket; the loop keeps the last
 * one, hands it out at once, and tells the listener when a new answer
 * differs, so that the critical set is computed again. Only the very first
 * question (start-up, before anything is published) and a caller without
 * an event loop (a tool) wait for the answer. */
typedef struct NmAnswer {
        int r;
        char **pairs;
} NmAnswer;

static struct {
        char **last;            /* the last answer */
        uint64_t quiet_until;   /* after a failure, do not ask before */
        bool asked_once;
        bool fresh;             /* a new answer was announced: the recomputation it causes need not ask */
        bool in_flight, again;
        sd_bus_slot *owner_call;
        sd_event_source *answer;
        void (*changed)(void *userdata);
        void *userdata;
} nm_memo;

void nm_set_listener(void (*changed)(void *userdata), void *userdata) {
        nm_memo.changed = changed;
        nm_memo.userdata = userdata;
}

/* The answer crosses as bytes (the result, then NUL-terminated strings),
 * so that one nobody reads holds no memory. */
#define NM_ANSWER_MAX (64 * 1024)

static void *nm_thread(void *userdata) {
        int fd = (int) (intptr_t) userdata;
        _cleanup_strv_free_ char **pairs = NULL;
        _cleanup_free_ char *buf = malloc(NM_ANSWER_MAX);
        int r = nm_ask(&pairs);
        size_t l = sizeof r;

        if (buf) {
                for (char **i = pairs; r >= 0 && i && *i; i++) {
                        size_t k = strlen(*i) + 1;

                        if (l + k > NM_ANSWER_MAX) {
                                r = -E2BIG;
                                break;
                        }
                        memcpy(buf + l, *i, k);
                        l += k;
                }
                if (r < 0)
                        l = sizeof r;
                memcpy(buf, &r, sizeof r);
                (void) send(fd, buf, l, MSG_NOSIGNAL);
        }
        close(fd);
        return NULL;
}

static NmAnswer nm_receive(int fd) {
        _cleanup_free_ char *buf = malloc(NM_ANSWER_MAX);
        NmAnswer a = { .r = -EIO };
        ssize_t l;

        if (!buf)
                return (NmAnswer) { .r = -ENOMEM };
        l = recv(fd, buf, NM_ANSWER_MAX, 0);
        if (l < (ssize_t) sizeof a.r)
                return a;
        memcpy(&a.r, buf, sizeof a.r);
        for (size_t i = sizeof a.r; a.r >= 0 && i < (size_t) l;) {
                const char *end = memchr(buf + i, 0, (size_t) l - i);

                if (!end || strv_extend(&a.pairs, buf + i) < 0) {
                        a.pairs = strv_free(a.pairs);
                        a.r = -EIO;
                        break;
                }
                i = (size_t) (end - buf) + 1;
        }
        return a;
}

/* Starts the thread; *ret_fd is where its answer comes. */
static int nm_spawn(int *ret_fd) {
        pthread_attr_t attr;
        pthread_t thread;
        int fds[2], r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return -errno;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&thread, &attr, nm_thread, (void *) (intptr_t) fds[1]);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                close(fds[0]);
                close(fds[1]);
                return -r;
        }
        *ret_fd = fds[0];
        return 0;
}

/* true when the answer differs from the last one. */
static bool nm_take(NmAnswer *a) {
        bool differs;

        if (a->r < 0) {
                nm_memo.quiet_until = now_usec() + (uint64_t) NM_QUIET_SEC * 1000000;
                strv_free(a->pairs);
                return false;
        }
        differs = !strv_equal(nm_memo.last, a->pairs);
        strv_free(nm_memo.last);
        nm_memo.last = TAKE_PTR(a->pairs);
        nm_memo.quiet_until = 0;
        return differs;
}

static void nm_gone(void) {
        bool differs = nm_memo.last && nm_memo.last[0];

        nm_memo.last = strv_free(nm_memo.last);
        nm_memo.quiet_until = 0;
        if (differs && nm_memo.changed) {
                nm_memo.fresh = true;
                nm_memo.changed(nm_memo.userdata);
        }
}

static void nm_start(sd_bus *bus);

static void nm_finished(sd_bus *bus, bool differs) {
        nm_memo.in_flight = false;
        if (differs && nm_memo.changed) {
                nm_memo.fresh = true;
                nm_memo.changed(nm_memo.userdata);
        }
        if (nm_memo.again) {
                nm_memo.again = false;
                nm_start(bus);
        }
}

static int on_nm_answer(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        NmAnswer a = nm_receive(fd);

        nm_memo.answer = sd_event_source_disable_unref(nm_memo.answer);
        nm_finished(userdata, nm_take(&a));
        return 0;
}

static int on_nm_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        int has = 0, fd = -1, r;

        nm_memo.owner_call = sd_bus_slot_unref(nm_memo.owner_call);
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "b", &has) < 0 || !has) {
                nm_gone();
                nm_finished(bus, false);
                return 0;
        }
        if (nm_load() < 0 || now_usec() < nm_memo.quiet_until) {
                nm_finished(bus, false);
                return 0;
        }
        r = nm_spawn(&fd);
        if (r >= 0) {
                r = sd_event_add_io(sd_bus_get_event(bus), &nm_memo.answer, fd, EPOLLIN, on_nm_answer, bus);
                if (r >= 0)
                        r = sd_event_source_set_io_fd_own(nm_memo.answer, true);
                if (r < 0 && !nm_memo.answer)
                        close(fd);
        }
        if (r < 0) {
                log_warning_errno(r, "Cannot ask NetworkManager: %m");
                nm_memo.answer = sd_event_source_disable_unref(nm_memo.answer);
                nm_finished(bus, false);
        }
        return 0;
}

/* Asks again in the background: is it there, and then what is active. */
static void nm_start(sd_bus *bus) {
        int r;

        if (nm_memo.in_flight) {
                nm_memo.again = true;
                return;
        }
        r = sd_bus_call_method_async(bus, &nm_memo.owner_call, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "NameHasOwner", on_nm_owner, NULL, "s", NM_BUS_NAME);
        if (r < 0) {
                log_debug_errno(r, "Cannot ask the bus for NetworkManager: %m");
                return;
        }
        nm_memo.in_flight = true;
}

/* The first question, or a caller without a loop: wait for the thread. */
static int nm_ask_now(sd_bus *bus) {
        struct pollfd pfd = { .events = POLLIN };
        NmAnswer a = { .r = -ETIMEDOUT };
        int r;

        r = nm_running(bus);
        if (r <= 0) {
                nm_gone();
                return 0;
        }
        if (nm_load() < 0 || now_usec() < nm_memo.quiet_until)
                return 0;
        r = nm_spawn(&pfd.fd);
        if (r < 0)
                return log_warning_errno(r, "Cannot ask NetworkManager: %m");
        /* nm_ask gives up after NM_TIMEOUT_MS itself; this is a safety net. */
        if (poll(&pfd, 1, 2 * NM_TIMEOUT_MS) > 0)
                a = nm_receive(pfd.fd);
        close(pfd.fd);
        (void) nm_take(&a);
        return 0;
}

int nm_active_interfaces(sd_bus *bus, char ***ret_pairs) {
        sd_event *e;
        int r;

        *ret_pairs = NULL;
        if (!bus)
                return 0;
        e = sd_bus_get_event(bus);
        if (!e || !nm_memo.asked_once) {
                nm_memo.asked_once = true;
                r = nm_ask_now(bus);
                if (r == -ENOMEM)
                        return r;
        } else if (nm_memo.fresh)
                nm_memo.fresh = false;
        else
                nm_start(bus);
        if (nm_memo.last) {
                *ret_pairs = strv_copy(nm_memo.last);
                if (!*ret_pairs)
                        return -ENOMEM;
        }
        return 0;
}

/* head: the text up to the way down, which is closed by ")". */
static int add_walk_hits(const Paths *p, const NetLink *links, size_t n_links, const char *ifname,
                         const char *code, const char *head, CriticalHit **hits, size_t *n) {
        _cleanup_strv_free_ char **pairs = NULL;
        int r;

        r = network_walk(p, links, n_links, ifname, &pairs);
        if (r < 0)
                return r;
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
                _cleanup_free_ char *text = NULL;

                if (asprintf(&text, "%s%s)", head, pairs[i + 1]) < 0)
                        return -ENOMEM;
                r = critical_hits_add(hits, n, pairs[i], code, text);
                if (r < 0)
                        return r;
        }
        return 0;
}

int network_critical_hits(const Paths *p, sd_bus *bus, CriticalHit **hits, size_t *n) {
        _cleanup_strv_free_ char **active = NULL;
        _cleanup_free_ NetLink *links = NULL;
        _cleanup_free_ int *defaults = NULL;
        size_t n_links = 0, n_defaults = 0;
        int r;

        r = rtnl_read(&links, &n_links, &defaults, &n_defaults);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_warning_errno(r, "Cannot read the kernel's routes: %m");

        for (size_t i = 0; i < n_defaults; i++) {
                const NetLink *l = link_by_index(links, n_links, defaults[i]);

                if (!l)
                        continue;
                r = add_walk_hits(p, links, n_links, l->name, "default-route",
                                  "carries the default route (", hits, n);
                if (r < 0)
                        return r;
        }

        r = nm_active_interfaces(bus, &active);
        if (r < 0)
                return r;
        for (size_t i = 0; active && active[i] && active[i + 1]; i += 2) {
                _cleanup_free_ char *head = NULL;

                if (asprintf(&head, "carries the active NetworkManager connection \"%s\" (", active[i]) < 0)
                        return -ENOMEM;
                r = add_walk_hits(p, links, n_links, active[i + 1], "nm-connection", head, hits, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool nm_manages_interface(sd_bus *bus, const char *ifname) {
        _cleanup_strv_free_ char **pairs = NULL;

        if (!bus || nm_active_interfaces(bus, &pairs) < 0)
                return false;
        for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                if (streq(pairs[i + 1], ifname))
                        return true;
        return false;
}

/* ---- SR-IOV VF settings through NetworkManager ---- */

typedef struct NmWait {
        GAsyncResult *result;
        bool done;
} NmWait;

static void on_async_done(GObject *source, GAsyncResult *result, gpointer userdata) {
        NmWait *w = userdata;

        w->result = nm.object_ref(result);
        w->done = true;
}

/* Iterates the session's context until the call answered; the session's
 * timeout cancels it, which answers too. */
static GAsyncResult *nm_wait(NmSession *n, NmWait *w) {
        while (!w->done)
                nm.main_context_iteration(n->ctx, TRUE);
        return w->result;
}

/* The VF's entry: a copy of the one in the setting, else a new one. */
static NMSriovVF *vf_entry(NMSettingSriov *setting, unsigned index) {
        for (guint i = 0; i < nm.setting_sriov_get_num_vfs(setting); i++) {
                NMSriovVF *vf = nm.setting_sriov_get_vf(setting, i);

                if (nm.sriov_vf_get_index(vf) == index)
                        return nm.sriov_vf_dup(vf);
        }
        return nm.sriov_vf_new(index);
}

static void vf_set_vlan(NMSriovVF *vf, const VfSettings *s) {
        guint n = 0;
        const guint *ids = nm.sriov_vf_get_vlan_ids(vf, &n);
        _cleanup_free_ guint *old = n ? malloc(n * sizeof(guint)) : NULL;

        /* One VLAN per VF here, as IFLA_VF_VLAN sets: the others go. */
        if (old)
                memcpy(old, ids, n * sizeof(guint));
        for (guint i = 0; old && i < n; i++)
                if (old[i] != (guint) s->vlan)
                        nm.sriov_vf_remove_vlan(vf, old[i]);
        if (s->vlan > 0) {
                (void) nm.sriov_vf_add_vlan(vf, (guint) s->vlan);
                nm.sriov_vf_set_vlan_qos(vf, (guint) s->vlan, s->qos > 0 ? (guint32) s->qos : 0);
        }
}

static void vf_apply(NMSriovVF *vf, const VfSettings *s) {
        static const uint8_t zero[6] = {};

        if (s->has_mac) {
                char mac[18];

                /* No MAC in the profile: the driver's own. */
                nm.sriov_vf_set_attribute(vf, NM_SRIOV_VF_ATTRIBUTE_MAC,
                                          memcmp(s->mac, zero, 6) == 0 ? NULL
                                                                       : nm.variant_new_string(vf_mac_format(s->mac, mac)));
        }
        if (s->vlan >= 0)
                vf_set_vlan(vf, s);
        if (s->trust >= 0)
                nm.sriov_vf_set_attribute(vf, NM_SRIOV_VF_ATTRIBUTE_TRUST, nm.variant_new_boolean(s->trust));
        if (s->spoofchk >= 0)
                nm.sriov_vf_set_attribute(vf, NM_SRIOV_VF_ATTRIBUTE_SPOOF_CHECK, nm.variant_new_boolean(s->spoofchk));
        if (s->max_tx_rate >= 0)
                nm.sriov_vf_set_attribute(vf, NM_SRIOV_VF_ATTRIBUTE_MAX_TX_RATE,
                                          nm.variant_new_uint32((guint32) s->max_tx_rate));
        if (s->min_tx_rate >= 0)
                nm.sriov_vf_set_attribute(vf, NM_SRIOV_VF_ATTRIBUTE_MIN_TX_RATE,
                                          nm.variant_new_uint32((guint32) s->min_tx_rate));
}

/* The profile with the VF's settings merged into its sriov setting. A new
 * sriov setting carries the current VF count: NetworkManager enforces
 * total-vfs (0 too) whenever the setting is there. */
static NMConnection *with_vf(NMRemoteConnection *remote, const VfSettings *s, unsigned num_vfs) {
        NMConnection *c = nm.simple_connection_new_clone((NMConnection *) remote);
        NMSettingSriov *setting = (NMSettingSriov *) nm.connection_get_setting_by_name(c, NM_SETTING_SRIOV_SETTING_NAME);
        NMSriovVF *vf;

        if (!setting) {
                setting = (NMSettingSriov *) nm.setting_sriov_new();
                nm.object_set(setting, NM_SETTING_SRIOV_TOTAL_VFS, (guint) num_vfs, NULL);
                nm.connection_add_setting(c, (NMSetting *) setting);
        } else if (nm.setting_sriov_get_total_vfs(setting) <= s->index)
                nm.object_set(setting, NM_SETTING_SRIOV_TOTAL_VFS, (guint) num_vfs, NULL);
        vf = vf_entry(setting, s->index);
        vf_apply(vf, s);
        (void) nm.setting_sriov_remove_vf_by_index(setting, s->index);
        nm.setting_sriov_add_vf(setting, vf);
        nm.sriov_vf_unref(vf);
        return c;
}

typedef struct NmVfJob {
        char *ifname;
        VfSettings settings;
        unsigned num_vfs;
        int fd;                 /* the answer: int r, then the message */
} NmVfJob;

static int vf_job_run(NmVfJob *j, char **ret_error) {
        NmSession n;
        NMDevice *dev;
        NMActiveConnection *ac;
        NMRemoteConnection *remote;
        NMConnection *c = NULL;
        NmWait update = {}, reapply = {};
        GVariant *result;
        int r = 0;

        nm_session_open(&n);
        if (!n.s.client) {
                (void) error_setf(ret_error, "NetworkManager manages %s but did not answer: %s", j->ifname,
                                  n.s.error ? n.s.error->message : "timed out");
                r = -EIO;
                goto finish;
        }
        dev = nm.client_get_device_by_iface(n.s.client, j->ifname);
        ac = dev ? nm.device_get_active_connection(dev) : NULL;
        remote = ac ? nm.active_connection_get_connection(ac) : NULL;
        if (!remote) {
                (void) error_setf(ret_error, "NetworkManager has no active connection on %s.", j->ifname);
                r = -ENXIO;
                goto finish;
        }
        c = with_vf(remote, &j->settings, j->num_vfs);
        /* Flags 0: the profile keeps its persistence (on disk or in memory). */
        nm.remote_connection_update2(remote, nm.connection_to_dbus(c, NM_CONNECTION_SERIALIZE_ALL), 0, NULL,
                                     n.s.cancellable, on_async_done, &update);
        result = nm.remote_connection_update2_finish(remote, nm_wait(&n, &update), &n.s.error);
        if (!result) {
                (void) error_setf(ret_error, "NetworkManager refused the sriov setting of %s: %s", j->ifname,
                                  n.s.error ? n.s.error->message : "unknown error");
                r = -EIO;
                goto finish;
        }
        nm.variant_unref(result);
        /* The profile is saved; the device gets it now, not at the next activation. */
        nm.device_reapply_async(dev, c, 0, 0, n.s.cancellable, on_async_done, &reapply);
        if (!nm.device_reapply_finish(dev, nm_wait(&n, &reapply), &n.s.error)) {
                (void) error_setf(ret_error, "NetworkManager saved the VF settings of %s but could not apply them "
                                  "now: %s", j->ifname, n.s.error ? n.s.error->message : "unknown error");
                r = -EIO;
        }
finish:
        if (update.result)
                nm.object_unref(update.result);
        if (reapply.result)
                nm.object_unref(reapply.result);
        if (c)
                nm.object_unref(c);
        nm_session_close(&n);
        return r;
}

static void *vf_job_thread(void *userdata) {
        NmVfJob *j = userdata;
        _cleanup_free_ char *error = NULL, *buf = NULL;
        int r = vf_job_run(j, &error);
        size_t l = error ? strlen(error) : 0;

        buf = malloc(sizeof r + l);
        if (buf) {
                memcpy(buf, &r, sizeof r);
                if (l)
                        memcpy(buf + sizeof r, error, l);
                (void) send(j->fd, buf, sizeof r + l, MSG_NOSIGNAL);
        }
        close(j->fd);
        free(j->ifname);
        free(j);
        return NULL;
}

int nm_sriov_set_vf(sd_bus *bus, const char *ifname, const VfSettings *s, unsigned num_vfs, char **ret_error) {
        _cleanup_free_ char *buf = NULL;
        struct pollfd pfd = { .events = POLLIN };
        pthread_attr_t attr;
        pthread_t thread;
        NmVfJob *j;
        int fds[2], r;
        ssize_t l;

        if (nm_load() < 0) {
                (void) error_setf(ret_error, "NetworkManager manages %s, but libnm cannot be loaded.", ifname);
                return -EOPNOTSUPP;
        }
        if (s->link_state != VF_LINK_UNSET) {
                (void) error_setf(ret_error, "NetworkManager manages %s; its sriov setting has no VF link state.",
                                  ifname);
                return -EOPNOTSUPP;
        }
        j = calloc(1, sizeof(NmVfJob));
        if (!j || !(j->ifname = strdup(ifname))) {
                free(j);
                return -ENOMEM;
        }
        j->settings = *s;
        j->num_vfs = num_vfs;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) {
                free(j->ifname);
                free(j);
                return -errno;
        }
        j->fd = fds[1];
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&thread, &attr, vf_job_thread, j);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                close(fds[0]);
                close(fds[1]);
                free(j->ifname);
                free(j);
                return -r;
        }
        /* The job gives up after NM_TIMEOUT_MS itself; this is a safety net. */
        pfd.fd = fds[0];
        buf = malloc(NM_ANSWER_MAX);
        r = -ETIMEDOUT;
        if (buf && poll(&pfd, 1, 2 * NM_TIMEOUT_MS) > 0 &&
            (l = recv(fds[0], buf, NM_ANSWER_MAX - 1, 0)) >= (ssize_t) sizeof r) {
                memcpy(&r, buf, sizeof r);
                buf[l] = 0;
                if (r < 0 && (size_t) l > sizeof r)
                        (void) error_setf(ret_error, "%s", buf + sizeof r);
        } else
                (void) error_setf(ret_error, "NetworkManager did not answer about %s in time.", ifname);
        close(fds[0]);
        return r;
}
