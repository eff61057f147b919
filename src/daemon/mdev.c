/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"
#include "kernel/mdev.h"
#include "model/claim.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"

/* Mediated devices in the core: parents and instances kept current from
 * the kernel's events, and the two changes on them. A create writes the
 * UUID to the type's `create` and waits for the instance's add uevent; a
 * remove writes `remove` and waits for its remove uevent; each wait has
 * the bind timeout. One change per UUID at a time. */

typedef struct MdevOp {
        Daemon *d;
        ChangeKind kind;        /* CHANGE_MDEV_CREATE or CHANGE_MDEV_REMOVE */
        char *uuid;
        char *requester;
        MdevDone done;
        void *userdata;
        sd_event_source *timer;
        sd_event_source *check; /* the instance may already be there (or gone) */
        bool keep_record;       /* a recreate: a failure leaves the record (a converge problem) */
        struct MdevOp *next, *prev;
} MdevOp;

static void op_free(MdevOp *o) {
        if (!o)
                return;
        if (o->prev)
                o->prev->next = o->next;
        else if (o->d->mdev_ops == o)
                o->d->mdev_ops = o->next;
        if (o->next)
                o->next->prev = o->prev;
        sd_event_source_disable_unref(o->timer);
        sd_event_source_disable_unref(o->check);
        free(o->uuid);
        free(o->requester);
        free(o);
}

static MdevOp *op_find(Daemon *d, const char *uuid) {
        for (MdevOp *o = d->mdev_ops; o; o = o->next)
                if (streq(o->uuid, uuid))
                        return o;
        return NULL;
}

/* The record follows: a create that failed takes its intent back, a
 * remove that worked drops it. */
static void op_records(MdevOp *o, int r) {
        Daemon *d = o->d;

        if (!o->keep_record && (o->kind == CHANGE_MDEV_CREATE) == (r < 0) && mdev_record_remove(&d->mdev_records, o->uuid) > 0 &&
            daemon_save(d) < 0)
                log_warning("Cannot save the state after mediated device %s.", o->uuid);
}

static void op_finish(MdevOp *o, int r, const char *error) {
        MdevDone done = o->done;
        void *userdata = o->userdata;
        Daemon *d = o->d;
        _cleanup_free_ char *uuid = NULL;

        op_records(o, r);
        uuid = TAKE_PTR(o->uuid);
        op_free(o);
        if (d->ready_done)
                daemon_update_converged(d);
        if (done)
                done(userdata, uuid, r, error);
}

/* Done once the set says so. */
static bool op_check(MdevOp *o) {
        const Mdev *m = mdev_set_get(&o->d->mdevs, o->uuid);
        bool present = m && m->active;

        if (o->kind == CHANGE_MDEV_CREATE ? !present : present)
                return false;
        op_finish(o, 0, NULL);
        return true;
}

static int on_op_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        MdevOp *o = userdata;
        _cleanup_free_ char *msg = NULL;

        if (asprintf(&msg, "The kernel did not %s mediated device %s within %" PRIu64 " ms.",
                     o->kind == CHANGE_MDEV_CREATE ? "create" : "remove", o->uuid,
                     o->d->bind_timeout_usec / 1000) < 0)
                msg = NULL;
        log_warning("%s", strempty(msg));
        op_finish(o, -ETIMEDOUT, msg);
        return 0;
}

static int on_op_check(sd_event_source *s, void *userdata) {
        MdevOp *o = userdata;

        o->check = sd_event_source_disable_unref(o->check);
        (void) op_check(o);
        return 0;
}

static int op_start(Daemon *d, ChangeKind kind, const char *uuid, const char *requester, MdevDone done,
                    void *userdata, MdevOp **ret) {
        MdevOp *o = calloc(1, sizeof(MdevOp));
        int r;

        if (!o)
                return -ENOMEM;
        *o = (MdevOp) { .d = d, .kind = kind, .done = done, .userdata = userdata, .next = d->mdev_ops };
        o->uuid = strdup(uuid);
        o->requester = strdup(strempty(requester));
        if (o->next)
                o->next->prev = o;
        d->mdev_ops = o;
        if (!o->uuid || !o->requester) {
                op_free(o);
                return -ENOMEM;
        }
        r = sd_event_add_time_relative(d->event, &o->timer, CLOCK_MONOTONIC, d->bind_timeout_usec, 0, on_op_timer,
                                       o);
        if (r < 0) {
                op_free(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int busy_error(Daemon *d, const char *uuid, char **ret_error) {
        MdevOp *o = op_find(d, uuid);

        if (!o)
                return 0;
        error_setf(ret_error, "Mediated device %s is being %s by %s.", uuid,
                   o->kind == CHANGE_MDEV_CREATE ? "created" : "removed", o->requester);
        return -EBUSY;
}

static int claimed_error(Daemon *d, const char *key, char **ret_error) {
        const Claim *c = claim_set_find_device(&d->claims, key);

        if (!c)
                return 0;
        error_setf(ret_error, "%s %s is claimed by '%s' (claim %s); release the claim first.",
                   mdev_key_is_vf(key) ? "The vGPU on VF" : "Mediated device", key, c->consumer, c->id);
        return -EBUSY;
}

static int vf_set_type(Daemon *d, const char *vf, unsigned type) {
        const Device *dev = inventory_get(&d->inventory, vf);

        return dev ? kernel_vgpu_set_type(d->kernel, dev->syspath, type) : -ENODEV;
}

static Device *parent_device(Daemon *d, const char *address) {
        Device *dev = inventory_get(&d->inventory, address);

        return dev && dev->kind == DEVICE_PCI && dev->pci.mdev_parent ? dev : NULL;
}

/* A parent that is no PCI device, known by its name. */
static MdevParent *standalone_parent(Daemon *d, const char *name) {
        MdevParent *p = mdev_set_parent(&d->mdevs, name);

        return p && p->standalone ? p : NULL;
}

int daemon_mdev_create_claimed(Daemon *d, const char *parent, const char *type, const char *uuid,
                               const char *requester, const char *claim, MdevDone done, void *userdata,
                               char **ret_error) {
        MdevParent *p = mdev_set_parent(&d->mdevs, parent);
        Device *dev = parent_device(d, parent);
        const char *syspath = dev ? dev->syspath : p && p->standalone ? p->syspath : NULL;
        const Mdev *existing;
        const MdevType *t;
        MdevOp *o;
        int r;

        if (!p || !syspath) {
                error_setf(ret_error, "%s offers no mediated device types.", parent);
                return -ENODEV;
        }
        if (p->vf_based)
                return daemon_vgpu_create(d, parent, type, mdev_key_is_vf(uuid) ? uuid : NULL, requester, claim, done,
                                          userdata, ret_error);
        t = mdev_parent_type(p, type);
        if (!t) {
                error_setf(ret_error, "%s offers no mediated device type '%s'.", parent, type);
                return -ENOENT;
        }
        existing = mdev_set_get(&d->mdevs, uuid);
        /* A definition not started is made only once it is hostdev's. */
        if (existing && (existing->active || !mdev_record_find(&d->mdev_records, uuid))) {
                error_setf(ret_error, "A mediated device %s exists already%s.", uuid,
                           existing->active ? "" : " (an mdevctl definition)");
                return -EEXIST;
        }
        r = busy_error(d, uuid, ret_error);
        if (r < 0)
                return r;
        if (t->available == 0) {
                error_setf(ret_error, "%s has no instance of type '%s'%s%s%s left.", parent, type,
                           isempty(t->name) ? "" : " (", strempty(t->name), isempty(t->name) ? "" : ")");
                return -ENOSPC;
        }
        r = op_start(d, CHANGE_MDEV_CREATE, uuid, requester, done, userdata, &o);
        if (r < 0)
                return r;
        /* The intent first: a crash after the write leaves a record that
         * start-up completes. A recreate has its record already. */
        o->keep_record = mdev_record_find(&d->mdev_records, uuid);
        if (!o->keep_record) {
                r = mdev_record_add(&d->mdev_records, uuid, type, parent, dev ? dev->serial : NULL);
                if (r >= 0 && claim)
                        r = mdev_record_set_claim(mdev_record_find(&d->mdev_records, uuid), claim);
                if (r >= 0 && (r = daemon_save(d)) < 0)
                        (void) mdev_record_remove(&d->mdev_records, uuid);
                if (r < 0) {
                        op_free(o);
                        if (r == -ENOMEM)
                                return r;
                        error_setf(ret_error, "Cannot record the mediated device: %s", strerror(-r));
                        return -EIO;
                }
        }
        r = kernel_mdev_create(d->kernel, syspath, type, uuid);
        if (r < 0) {
                op_records(o, r);
                op_free(o);
                if (r == -ENOMEM)
                        return r;
                error_setf(ret_error, "Creating a mediated device of type '%s' on %s failed: %s", type, parent,
                           strerror(-r));
                return -EIO;
        }
        log_info("%s: creating mediated device %s of type %s for %s.", parent, uuid, type, strempty(requester));
        /* The add uevent may have been read already. */
        r = sd_event_add_defer(d->event, &o->check, on_op_check, o);
        if (r < 0)
                log_debug_errno(r, "Cannot check %s at once: %m", uuid);
        return 0;
}

int daemon_mdev_create(Daemon *d, const char *parent, const char *type, const char *uuid, const char *requester,
                       MdevDone done, void *userdata, char **ret_error) {
        return daemon_mdev_create_claimed(d, parent, type, uuid, requester, NULL, done, userdata, ret_error);
}

int daemon_mdev_remove(Daemon *d, const char *uuid, const char *requester, MdevDone done, void *userdata,
                       char **ret_error) {
        Mdev *m = mdev_set_get(&d->mdevs, uuid);
        MdevOp *o;
        int r;

        if (!m || !m->active) {
                error_setf(ret_error, "There is no mediated device %s%s.", uuid, m ? " running" : "");
                return m ? -EPERM : -ENOENT;
        }
        r = busy_error(d, uuid, ret_error);
        if (r < 0)
                return r;
        if (m->source == MDEV_SOURCE_MDEVCTL) {
                error_setf(ret_error, "Mediated device %s is defined by mdevctl; hostdev leaves it alone.", uuid);
                return -EPERM;
        }
        r = claimed_error(d, uuid, ret_error);
        if (r < 0)
                return r;
        r = op_start(d, CHANGE_MDEV_REMOVE, uuid, requester, done, userdata, &o);
        if (r < 0)
                return r;
        r = m->vf ? vf_set_type(d, m->vf, 0) : kernel_mdev_remove(d->kernel, uuid);
        if (r < 0) {
                op_free(o);
                if (r == -ENOMEM)
                        return r;
                error_setf(ret_error, "Removing mediated device %s failed: %s", uuid, strerror(-r));
                return -EIO;
        }
        log_info("Removing mediated device %s for %s.", uuid, strempty(requester));
        r = sd_event_add_defer(d->event, &o->check, on_op_check, o);
        if (r < 0)
                log_debug_errno(r, "Cannot check %s at once: %m", uuid);
        return 0;
}

int daemon_mdev_import(Daemon *d, const char *uuid, char **ret_error) {
        Mdev *m = mdev_set_get(&d->mdevs, uuid);
        const Device *dev;
        int r;

        if (!m) {
                error_setf(ret_error, "There is no mediated device %s.", uuid);
                return -ENOENT;
        }
        if (m->source != MDEV_SOURCE_MDEVCTL) {
                error_setf(ret_error, "Mediated device %s is hostdev's already.", uuid);
                return -EALREADY;
        }
        r = busy_error(d, uuid, ret_error);
        if (r < 0)
                return r;
        dev = inventory_get(&d->inventory, m->parent);
        r = mdev_record_add(&d->mdev_records, m->uuid, m->type, m->parent, dev ? dev->serial : NULL);
        if (r >= 0 && (r = daemon_save(d)) < 0)
                (void) mdev_record_remove(&d->mdev_records, uuid);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                error_setf(ret_error, "Cannot record the mediated device: %s", strerror(-r));
                return -EIO;
        }
        m->source = MDEV_SOURCE_HOSTDEV;
        NOTIFY(d, mdev_changed, m);
        daemon_schedule_flush(d);
        log_info("Mediated device %s (type %s on %s) imported from mdevctl.", m->uuid, m->type, m->parent);
        if (!m->active)
                daemon_mdev_recreate(d);
        return 0;
}

/* mdevctl's definitions: a running one is marked as mdevctl's, one not
 * started is shown inactive; one imported into the store is hostdev's. */
static int load_definitions(Daemon *d) {
        MdevSet defs = {};
        Mdev *def;
        size_t i = 0;
        int r;

        r = mdev_set_init(&defs);
        if (r >= 0)
                r = kernel_mdevctl_read(d->kernel, &defs);
        /* Each definition is taken out of defs: kept, or freed. */
        while (r >= 0 && hashmap_iterate(defs.mdevs, &i, (void **) &def, NULL)) {
                Mdev *cur = mdev_set_get(&d->mdevs, def->uuid);

                hashmap_remove(defs.mdevs, def->uuid);
                i = 0;
                if (cur || mdev_record_find(&d->mdev_records, def->uuid)) {
                        if (cur && !mdev_record_find(&d->mdev_records, def->uuid))
                                cur->source = MDEV_SOURCE_MDEVCTL;
                        mdev_free(def);
                        continue;
                }
                r = mdev_set_put(&d->mdevs, def);
                if (r < 0)
                        mdev_free(def);
        }
        mdev_set_done(&defs);
        return r;
}

/* ---- start-up ---- */

/* The address of the parent a record names now: the device with its
 * serial, else the one at its address, else a parent that is no PCI
 * device by its name. */
static const char *record_parent(Daemon *d, const MdevRecord *rec) {
        Device *dev;
        size_t i = 0;

        if (rec->serial)
                while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL))
                        if (dev->kind == DEVICE_PCI && dev->pci.mdev_parent && streq_ptr(dev->serial, rec->serial))
                                return dev->address;
        dev = parent_device(d, rec->parent);
        if (dev)
                return dev->address;
        return standalone_parent(d, rec->parent) ? rec->parent : NULL;
}

static void on_recreated(void *userdata, const char *uuid, int r, const char *error) {
        if (r < 0)
                log_warning("Mediated device %s could not be recreated: %s", uuid, strempty(error));
        else
                log_info("Mediated device %s recreated.", uuid);
}

void daemon_mdev_recreate(Daemon *d) {
        /* Once the store is read: a definition imported is hostdev's. */
        if (!d->mdev_definitions_read) {
                d->mdev_definitions_read = true;
                if (load_definitions(d) < 0)
                        log_warning("Cannot read mdevctl's definitions.");
        }
        for (size_t i = 0; i < d->mdev_records.n_items; i++) {
                const MdevRecord *rec = &d->mdev_records.items[i];
                _cleanup_free_ char *err = NULL;
                const char *parent;
                int r;

                const Mdev *m = mdev_set_get(&d->mdevs, rec->uuid);

                if ((m && m->active) || op_find(d, rec->uuid))
                        continue;
                parent = record_parent(d, rec);
                if (!parent) {
                        log_warning("Mediated device %s: its parent %s is not there.", rec->uuid, rec->parent);
                        continue;
                }
                if (mdev_key_is_vf(rec->uuid))
                        r = daemon_vgpu_create(d, parent, rec->type, rec->uuid, "hostdevd", NULL, on_recreated, NULL,
                                               &err);
                else
                        r = daemon_mdev_create(d, parent, rec->type, rec->uuid, "hostdevd", on_recreated, NULL, &err);
                if (r < 0)
                        log_warning("Mediated device %s cannot be recreated: %s", rec->uuid,
                                    err ?: strerror(-r));
        }
}

int daemon_mdev_converge_problems(Daemon *d, char ***problems) {
        int n = 0;

        for (size_t i = 0; i < d->mdev_records.n_items; i++) {
                const MdevRecord *rec = &d->mdev_records.items[i];
                const char *parent;
                _cleanup_free_ char *text = NULL;

                const Mdev *m = mdev_set_get(&d->mdevs, rec->uuid);

                if ((m && m->active) || op_find(d, rec->uuid))
                        continue;
                parent = record_parent(d, rec);
                if (asprintf(&text, "mediated device %s of type %s is missing%s", rec->uuid, rec->type,
                             parent ? "" : ": its parent is not present") < 0 ||
                    strv_extend(problems, parent ?: rec->parent) < 0 || strv_extend(problems, text) < 0)
                        return -ENOMEM;
                n++;
        }
        return n;
}

/* ---- NVIDIA vGPU on SR-IOV VFs ---- */

static int vf_index_cmp(const void *a, const void *b) {
        const Device *x = *(const Device *const *) a, *y = *(const Device *const *) b;

        return x->pci.vf_index < y->pci.vf_index ? -1 : x->pci.vf_index > y->pci.vf_index;
}

static void vfs_free(VgpuVf *vfs, size_t n) {
        for (size_t i = 0; i < n; i++)
                vgpu_vf_done(&vfs[i]);
        free(vfs);
}

/* The VFs of pf (in the inventory: they may come before the PF's own
 * list is re-read) that have the vGPU files, by VF index. */
static int vgpu_read_vfs(Daemon *d, const char *pf, VgpuVf **ret, size_t *ret_n) {
        _cleanup_free_ const Device **devs = NULL;
        VgpuVf *vfs = NULL;
        size_t n_devs = 0, n = 0, i = 0;
        Device *dev;
        int r = 0;

        while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL)) {
                const Device **t;

                if (dev->kind != DEVICE_PCI || !streq_ptr(dev->pci.physfn, pf))
                        continue;
                t = realloc(devs, (n_devs + 1) * sizeof(Device *));
                if (!t)
                        return -ENOMEM;
                devs = t;
                devs[n_devs++] = dev;
        }
        if (n_devs > 1)
                qsort(devs, n_devs, sizeof(Device *), vf_index_cmp);
        vfs = calloc(n_devs + 1, sizeof(VgpuVf));
        if (!vfs)
                return -ENOMEM;
        for (i = 0; i < n_devs; i++) {
                r = kernel_vgpu_read_vf(d->kernel, devs[i]->address, devs[i]->syspath, &vfs[n]);
                if (r == -ENOMEM) {
                        vfs_free(vfs, n);
                        return r;
                }
                if (r >= 0)
                        n++;
        }
        *ret = vfs;
        *ret_n = n;
        return 0;
}

/* The PF's vGPU parent and the VFs that are vGPUs, gone; announced
 * when the PF itself stays. */
static void vgpu_drop(Daemon *d, const char *pf, bool announce) {
        MdevParent *p = mdev_set_parent(&d->mdevs, pf);
        Mdev *m;
        size_t i = 0;

        if (!p || !p->vf_based)
                return;
        while (hashmap_iterate(d->mdevs.mdevs, &i, (void **) &m, NULL)) {
                if (!m->vf || !streq(m->parent, pf))
                        continue;
                m = mdev_set_take(&d->mdevs, m->vf);
                NOTIFY(d, mdev_removed, m);
                mdev_free(m);
                i = 0;
        }
        mdev_parent_free(mdev_set_take_parent(&d->mdevs, pf));
        if (announce)
                NOTIFY(d, mdev_parent_removed, pf);
        daemon_schedule_flush(d);
}

static Mdev *vgpu_mdev_new(const char *pf, const VgpuVf *v) {
        _cleanup_(mdev_freep) Mdev *m = calloc(1, sizeof(Mdev));

        if (!m || !(m->vf = strdup(v->address)) || !(m->parent = strdup(pf)) ||
            asprintf(&m->type, "%u", v->current) < 0)
                return NULL;
        m->iommu_group = v->iommu_group;
        m->source = MDEV_SOURCE_HOSTDEV;
        m->active = true;
        return TAKE_PTR(m);
}

/* The VFs that are vGPUs as Mdevs: new ones added, changed or gone ones removed. */
static void vgpu_sync_mdevs(Daemon *d, const char *pf, const VgpuVf *vfs, size_t n) {
        Mdev *m;
        size_t i = 0;

        while (hashmap_iterate(d->mdevs.mdevs, &i, (void **) &m, NULL)) {
                const VgpuVf *v = NULL;
                char type[16];

                if (!m->vf || !streq(m->parent, pf))
                        continue;
                for (size_t j = 0; j < n && !v; j++)
                        if (streq(vfs[j].address, m->vf))
                                v = &vfs[j];
                snprintf(type, sizeof type, "%u", v ? v->current : 0);
                if (v && v->current && streq(m->type, type))
                        continue;
                m = mdev_set_take(&d->mdevs, m->vf);
                NOTIFY(d, mdev_removed, m);
                mdev_free(m);
                i = 0;
        }
        for (size_t j = 0; j < n; j++) {
                if (vfs[j].current == 0 || mdev_set_get(&d->mdevs, vfs[j].address))
                        continue;
                m = vgpu_mdev_new(pf, &vfs[j]);
                if (!m || mdev_set_put(&d->mdevs, m) < 0) {
                        mdev_free(m);
                        log_oom();
                        continue;
                }
                NOTIFY(d, mdev_added, m);
        }
}

/* Re-reads pf's VFs. A change the driver answered on event_vf (its
 * event came) and that did not happen was refused. 1 when pf is a vGPU
 * parent, 0 when it is not (any earlier view of it dropped). */
static int vgpu_update(Daemon *d, const char *pf, const char *event_vf) {
        Device *dev = inventory_get(&d->inventory, pf);
        MdevParent *old = mdev_set_parent(&d->mdevs, pf), *p = NULL;
        VgpuVf *vfs = NULL;
        size_t n = 0;
        int r;

        if (!dev || dev->kind != DEVICE_PCI || !dev->pci.sriov_capable || (old && !old->vf_based)) {
                vgpu_drop(d, pf, false);
                return 0;
        }
        r = vgpu_read_vfs(d, pf, &vfs, &n);
        if (r >= 0 && n == 0) {
                vgpu_drop(d, pf, true);
                vfs_free(vfs, n);
                return 0;
        }
        if (r >= 0)
                r = vgpu_parent_from_vfs(pf, vfs, n, old, &p);
        if (r < 0) {
                vfs_free(vfs, n);
                log_oom();
                return 1;
        }
        log_debug("%s: %zu VFs with vGPU types, %zu types offered", pf, n, p->n_types);
        dev->pci.mdev_parent = true;
        if (old && mdev_parent_equal(old, p))
                mdev_parent_free(p);
        else if (mdev_set_put_parent(&d->mdevs, p) < 0) {
                mdev_parent_free(p);
                log_oom();
        } else if (old)
                NOTIFY(d, mdev_parent_changed, p);
        else
                NOTIFY(d, mdev_parent_added, p);
        vgpu_sync_mdevs(d, pf, vfs, n);
        vfs_free(vfs, n);
        daemon_schedule_flush(d);

        for (MdevOp *o = d->mdev_ops, *next; o; o = next) {
                _cleanup_free_ char *msg = NULL;

                next = o->next;
                if (!mdev_key_is_vf(o->uuid) || op_check(o) || !streq_ptr(event_vf, o->uuid))
                        continue;
                if (asprintf(&msg, "The driver refused to %s the vGPU on VF %s.",
                             o->kind == CHANGE_MDEV_CREATE ? "set up" : "end", o->uuid) < 0)
                        msg = NULL;
                op_finish(o, -EIO, msg);
        }
        return 1;
}

static bool vgpu_on_event(Daemon *d, const Device *dev, const char *address) {
        const Mdev *m;
        size_t i = 0;

        if (dev && dev->kind == DEVICE_PCI && dev->pci.physfn) {
                (void) vgpu_update(d, dev->pci.physfn, address);
                /* On Ampere a VF is an mdev parent itself: go on. */
                return false;
        }
        if (dev)
                return dev->kind == DEVICE_PCI && dev->pci.sriov_capable && vgpu_update(d, address, NULL) > 0;
        /* A VF that was a vGPU is gone. */
        while (hashmap_iterate(d->mdevs.mdevs, &i, (void **) &m, NULL))
                if (m->vf && streq(m->vf, address)) {
                        _cleanup_free_ char *pf = strdup(m->parent);

                        if (pf)
                                (void) vgpu_update(d, pf, address);
                        break;
                }
        return vgpu_update(d, address, NULL) > 0;
}

int daemon_vgpu_create(Daemon *d, const char *pf, const char *type, const char *vf, const char *requester,
                       const char *claim, MdevDone done, void *userdata, char **ret_error) {
        const MdevParent *p = mdev_set_parent(&d->mdevs, pf);
        const Device *dev = inventory_get(&d->inventory, pf);
        const MdevType *t = mdev_parent_type(p, type);
        VgpuVf *vfs = NULL;
        const VgpuVf *pick = NULL;
        MdevRecord *rec;
        size_t n = 0;
        MdevOp *o;
        int r;

        if (!p || !p->vf_based || !dev) {
                error_setf(ret_error, "%s has no VFs that offer vGPU types.", pf);
                return -ENODEV;
        }
        if (!t) {
                error_setf(ret_error, "The VFs of %s offer no vGPU type '%s'.", pf, type);
                return -ENOENT;
        }
        r = vgpu_read_vfs(d, pf, &vfs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && vf; i++)
                if (streq(vfs[i].address, vf))
                        pick = vgpu_free_vf(&vfs[i], 1, type);
        if (!vf)
                pick = vgpu_free_vf(vfs, n, type);
        if (!pick) {
                vfs_free(vfs, n);
                if (vf)
                        error_setf(ret_error, "VF %s of %s cannot take vGPU type '%s' now.", vf, pf, type);
                else
                        error_setf(ret_error, "No free VF of %s can take vGPU type '%s'%s%s%s now.", pf, type,
                                   isempty(t->name) ? "" : " (", strempty(t->name), isempty(t->name) ? "" : ")");
                return -ENOSPC;
        }
        r = busy_error(d, pick->address, ret_error);
        if (r >= 0)
                r = op_start(d, CHANGE_MDEV_CREATE, pick->address, requester, done, userdata, &o);
        if (r < 0) {
                vfs_free(vfs, n);
                return r;
        }
        /* The intent first, as for an mdev. */
        o->keep_record = (rec = mdev_record_find(&d->mdev_records, pick->address));
        if (!rec) {
                r = mdev_record_add(&d->mdev_records, pick->address, type, pf, dev->serial);
                if (r >= 0 && claim)
                        r = mdev_record_set_claim(mdev_record_find(&d->mdev_records, pick->address), claim);
                if (r >= 0 && (r = daemon_save(d)) < 0)
                        (void) mdev_record_remove(&d->mdev_records, pick->address);
                if (r < 0) {
                        vfs_free(vfs, n);
                        op_free(o);
                        if (r == -ENOMEM)
                                return r;
                        error_setf(ret_error, "Cannot record the vGPU: %s", strerror(-r));
                        return -EIO;
                }
        }
        r = vf_set_type(d, pick->address, (unsigned) strtoul(type, NULL, 10));
        if (r < 0) {
                error_setf(ret_error, "Setting vGPU type '%s' on VF %s failed: %s", type, pick->address, strerror(-r));
                vfs_free(vfs, n);
                op_records(o, r);
                op_free(o);
                return r == -ENOMEM ? r : -EIO;
        }
        log_info("%s: VF %s becomes a vGPU of type %s for %s.", pf, pick->address, type, strempty(requester));
        vfs_free(vfs, n);
        r = sd_event_add_defer(d->event, &o->check, on_op_check, o);
        if (r < 0)
                log_debug_errno(r, "Cannot check %s at once: %m", o->uuid);
        return 0;
}

/* ---- the set, from the kernel ---- */

/* A parent that is no PCI device, read again at syspath: added, changed
 * or gone. PCI parents (in the inventory) are left to their device. */
static void standalone_update(Daemon *d, const char *syspath) {
        _cleanup_free_ char *name = strdup(strrchr(syspath, '/') + 1);
        MdevParent *old, *p = NULL;
        int r;

        if (!name) {
                log_oom();
                return;
        }
        /* Devices only: /sys/class/mtty comes and goes with mtty/mtty. */
        if (!startswith(syspath, "/sys/devices/") || inventory_get(&d->inventory, name))
                return;
        old = mdev_set_parent(&d->mdevs, name);
        if (old && (!old->standalone || !streq(old->syspath, syspath)))
                return;
        r = kernel_mdev_read_parent(d->kernel, name, syspath, &p);
        if (r == -ENOMEM) {
                log_oom();
                return;
        }
        if (r < 0) {
                if (old) {
                        log_debug_errno(r, "Cannot read mdev parent %s: %m", syspath);
                        mdev_parent_free(mdev_set_take_parent(&d->mdevs, name));
                        NOTIFY(d, mdev_parent_removed, name);
                        log_debug("mdev parent %s gone", name);
                        daemon_schedule_flush(d);
                }
                return;
        }
        p->standalone = true;
        if (old && mdev_parent_equal(old, p)) {
                mdev_parent_free(p);
                return;
        }
        r = mdev_set_put_parent(&d->mdevs, p);
        if (r < 0) {
                mdev_parent_free(p);
                log_oom();
                return;
        }
        if (old)
                NOTIFY(d, mdev_parent_changed, p);
        else {
                NOTIFY(d, mdev_parent_added, p);
                log_debug("mdev parent %s at %s", p->address, p->syspath);
        }
        daemon_schedule_flush(d);
}

void daemon_mdev_on_other_uevent(Daemon *d, const char *syspath) {
        standalone_update(d, syspath);
}

void daemon_mdev_parent_update(Daemon *d, const char *address) {
        Device *dev, *any = inventory_get(&d->inventory, address);
        MdevParent *old, *p = NULL;
        int r;

        /* NVIDIA vGPU: a VF's event is its PF's; a PF with such VFs is
         * a parent of its own kind. */
        if (vgpu_on_event(d, any, address))
                return;
        dev = parent_device(d, address);
        old = mdev_set_parent(&d->mdevs, address);

        if (!dev && old && old->standalone) {
                standalone_update(d, old->syspath);
                return;
        }
        if (!dev) {
                mdev_parent_free(mdev_set_take_parent(&d->mdevs, address));
                return;
        }
        r = kernel_mdev_read_parent(d->kernel, address, dev->syspath, &p);
        if (r < 0) {
                if (r == -ENOMEM)
                        log_oom();
                return;
        }
        if (old && mdev_parent_equal(old, p)) {
                mdev_parent_free(p);
                return;
        }
        if (mdev_set_put_parent(&d->mdevs, p) < 0) {
                mdev_parent_free(p);
                log_oom();
                return;
        }
        if (old)
                NOTIFY(d, mdev_parent_changed, p);
        daemon_schedule_flush(d);
}

/* The kernel announces an instance (device_add) before it binds the
 * parent's driver and makes mdev_type: an add that cannot be read yet is
 * read again a little later, a few times. */
typedef struct MdevRetry {
        Daemon *d;
        char *syspath;
        unsigned left;
} MdevRetry;

#define MDEV_RETRY_USEC (50 * 1000)
#define MDEV_RETRIES 40

static void retry_free(void *userdata) {
        MdevRetry *t = userdata;

        free(t->syspath);
        free(t);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        MdevRetry *t = userdata;
        _cleanup_(mdev_freep) Mdev *m = NULL;
        int r = kernel_mdev_read(t->d->kernel, t->syspath, &m);

        if (r == -ENODEV && --t->left > 0 && sd_event_source_set_time_relative(s, MDEV_RETRY_USEC) >= 0 &&
            sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) >= 0)
                return 0;
        if (r >= 0)
                daemon_mdev_on_uevent(t->d, UEVENT_ADD, t->syspath);
        else
                log_debug_errno(r, "Cannot read mdev %s, giving up: %m", t->syspath);
        /* The loop holds floating sources; take it back to free this one. */
        (void) sd_event_source_set_floating(s, false);
        sd_event_source_unref(s);
        return 0;
}

static void retry_read(Daemon *d, const char *syspath) {
        sd_event_source *s = NULL;
        MdevRetry *t = calloc(1, sizeof(MdevRetry));

        if (!t || !(t->syspath = strdup(syspath))) {
                free(t);
                log_oom();
                return;
        }
        t->d = d;
        t->left = MDEV_RETRIES;
        if (sd_event_add_time_relative(d->event, &s, CLOCK_MONOTONIC, MDEV_RETRY_USEC, 0, on_retry, t) < 0) {
                retry_free(t);
                return;
        }
        (void) sd_event_source_set_destroy_callback(s, retry_free);
        /* The loop's now: freed with it if still pending at exit. */
        if (sd_event_source_set_floating(s, true) < 0)
                sd_event_source_disable_unref(s);
}

void daemon_mdev_on_uevent(Daemon *d, UeventAction action, const char *syspath) {
        _cleanup_(mdev_freep) Mdev *gone = NULL;
        const char *uuid = strrchr(syspath, '/');
        Mdev *m = NULL, *cur;
        bool was_active;
        int r;

        if (!uuid || !mdev_uuid_valid(++uuid))
                return;
        if (action == UEVENT_ADD) {
                r = kernel_mdev_read(d->kernel, syspath, &m);
                if (r == -ENOMEM)
                        log_oom();
                if (r == -ENODEV)
                        retry_read(d, syspath);
                if (r < 0) {
                        log_debug_errno(r, "Cannot read mdev %s: %m", syspath);
                        return;
                }
                /* A definition's source stays what it was. */
                cur = mdev_set_get(&d->mdevs, m->uuid);
                was_active = cur && cur->active;
                if (cur)
                        m->source = cur->source;
                if (mdev_set_put(&d->mdevs, m) < 0) {
                        mdev_free(m);
                        log_oom();
                        return;
                }
                if (!cur)
                        NOTIFY(d, mdev_added, m);
                else if (!was_active)
                        NOTIFY(d, mdev_changed, m);
                log_debug("mdev %s added on %s", m->uuid, m->parent);
                daemon_mdev_parent_update(d, m->parent);
        } else {
                _cleanup_free_ char *lower = mdev_uuid_normalize(uuid);

                if (!lower)
                        return;
                gone = mdev_set_take(&d->mdevs, lower);
                if (!gone)
                        return;
                if (gone->source == MDEV_SOURCE_MDEVCTL) {
                        /* Stopped, still defined: shown as such. */
                        gone->active = false;
                        gone->iommu_group = -1;
                        if (mdev_set_put(&d->mdevs, gone) >= 0) {
                                NOTIFY(d, mdev_changed, gone);
                                m = TAKE_PTR(gone);
                        }
                }
                if (gone)
                        NOTIFY(d, mdev_removed, gone);
                log_debug("mdev %s removed", uuid);
                daemon_mdev_parent_update(d, (m ?: gone)->parent);
        }
        daemon_schedule_flush(d);
        /* A change may wait for exactly this. */
        for (MdevOp *o = d->mdev_ops, *next; o; o = next) {
                next = o->next;
                if (streq(o->uuid, m ? m->uuid : gone->uuid))
                        (void) op_check(o);
        }
}

/* Parents that are no PCI device: those the kernel links in
 * /sys/class/mdev_bus and the inventory does not have. */
static int enumerate_standalone(Daemon *d) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = kernel_mdev_bus_parents(d->kernel, &l);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        for (char **s = l; s && *s; s++)
                standalone_update(d, *s);
        return 0;
}

int daemon_mdev_enumerate(Daemon *d) {
        Device *dev;
        size_t i = 0;
        int r;

        while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL)) {
                MdevParent *p = NULL;

                if (dev->kind != DEVICE_PCI || !dev->pci.mdev_parent)
                        continue;
                r = kernel_mdev_read_parent(d->kernel, dev->address, dev->syspath, &p);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                r = mdev_set_put_parent(&d->mdevs, p);
                if (r < 0) {
                        mdev_parent_free(p);
                        return r;
                }
        }
        i = 0;
        while (hashmap_iterate(d->inventory.devices, &i, (void **) &dev, NULL))
                if (dev->kind == DEVICE_PCI && dev->pci.sriov_capable)
                        (void) vgpu_update(d, dev->address, NULL);
        r = enumerate_standalone(d);
        if (r < 0)
                return r;
        return kernel_mdev_enumerate(d->kernel, &d->mdevs);
}

int daemon_mdev_init(Daemon *d) {
        return mdev_set_init(&d->mdevs);
}

void daemon_mdev_done(Daemon *d) {
        daemon_vgpu_done(d);
        while (d->mdev_ops)
                op_free(d->mdev_ops);
        mdev_set_done(&d->mdevs);
        mdev_record_set_done(&d->mdev_records);
}
