/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-id128.h>

#include "daemon.h"
#include "model/vgpu.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"

/* Claims on vgpu resource groups: instances made one after the other
 * through the mdev changes (mdev.c), all or nothing, and removed again
 * with the claim. */

typedef struct VgpuClaimOp {
        Daemon *d;
        char *group, *type, *claim, *requester;
        unsigned count;         /* instances wanted */
        unsigned left;          /* instances still to create */
        bool started;
        bool scheduled;         /* claims on one group go one at a time: this one's turn came */
        char **keys;            /* taken and made, in order */
        char **made;            /* made: removed again on failure */
        char **full;            /* parents whose room turned out to be gone */
        VgpuClaimDone done;
        void *userdata;
        sd_event_source *step;
        int error_r;            /* rolling back: why */
        char *error;
        unsigned pending;       /* removes of the roll-back in flight */
        struct VgpuClaimOp *next, *prev;
} VgpuClaimOp;

/* The next step, from the loop: never from within a change's callback,
 * so that the next change starts afresh. */
static int schedule(VgpuClaimOp *o) {
        o->scheduled = true;
        return sd_event_source_set_enabled(o->step, SD_EVENT_ONESHOT);
}

/* The oldest claim waiting on group, if any (the list is newest first). */
static VgpuClaimOp *next_waiting(Daemon *d, const char *group) {
        VgpuClaimOp *found = NULL;

        for (VgpuClaimOp *o = d->vgpu_claims; o; o = o->next)
                if (!o->scheduled && streq(o->group, group))
                        found = o;
        return found;
}

static bool group_busy(Daemon *d, const char *group) {
        for (VgpuClaimOp *o = d->vgpu_claims; o; o = o->next)
                if (o->scheduled && streq(o->group, group))
                        return true;
        return false;
}

static void op_free(VgpuClaimOp *o) {
        if (!o)
                return;
        if (o->prev)
                o->prev->next = o->next;
        else if (o->d->vgpu_claims == o)
                o->d->vgpu_claims = o->next;
        if (o->next)
                o->next->prev = o->prev;
        sd_event_source_disable_unref(o->step);
        free(o->group);
        free(o->type);
        free(o->claim);
        free(o->requester);
        strv_free(o->keys);
        strv_free(o->made);
        strv_free(o->full);
        free(o->error);
        free(o);
}

void daemon_vgpu_done(Daemon *d) {
        while (d->vgpu_claims)
                op_free(d->vgpu_claims);
}

static void finish(VgpuClaimOp *o) {
        VgpuClaimDone done = o->done;
        void *userdata = o->userdata;
        _cleanup_strv_free_ char **keys = o->error_r < 0 ? NULL : TAKE_PTR(o->keys);
        _cleanup_free_ char *error = TAKE_PTR(o->error);
        _cleanup_free_ char *group = TAKE_PTR(o->group);
        Daemon *d = o->d;
        VgpuClaimOp *next;
        int r = o->error_r;

        op_free(o);
        /* The next claim on the group starts from the loop, once this one is recorded. */
        next = next_waiting(d, group);
        if (next && schedule(next) < 0)
                log_warning("vGPU claim on %s: cannot start the next one.", group);
        done(userdata, r, error, keys);
}


static void on_rolled_back(void *userdata, const char *key, int r, const char *error) {
        VgpuClaimOp *o = userdata;

        if (r < 0)
                log_warning("vGPU claim: instance %s stays: %s", key, strempty(error));
        if (--o->pending == 0)
                finish(o);
}

/* Removes what was made, then answers with r. */
static void fail(VgpuClaimOp *o, int r, const char *error) {
        o->error_r = r == -ENOSPC ? -ENOSPC : -EIO;
        o->error = strdup(error ?: "Creating an instance failed.");
        for (char **k = o->made; k && *k; k++) {
                _cleanup_free_ char *err = NULL;

                r = daemon_mdev_remove(o->d, *k, o->requester, on_rolled_back, o, &err);
                if (r < 0)
                        log_warning("vGPU claim: instance %s stays: %s", *k, err ?: strerror(-r));
                else
                        o->pending++;
        }
        if (o->pending == 0)
                finish(o);
}

static void on_made(void *userdata, const char *key, int r, const char *error) {
        VgpuClaimOp *o = userdata;

        if (r >= 0 && (strv_extend(&o->keys, key) < 0 || strv_extend(&o->made, key) < 0))
                r = -ENOMEM;
        if (r < 0) {
                /* Made, but not noted: it goes with the claim's record all the same. */
                fail(o, r, error);
                return;
        }
        o->left--;
        r = schedule(o);
        if (r < 0)
                fail(o, r, "Cannot go on.");
}

static bool strv_has(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

/* First step: what to take and make, as the group stands now (a claim
 * before this one may have taken what was free when this one was asked). */
static int start(VgpuClaimOp *o) {
        Daemon *d = o->d;
        const ResourceGroup *g = resource_set_find_id(&d->resources, o->group);
        _cleanup_(vgpu_offer_done) VgpuOffer offer = {};
        _cleanup_free_ char *err = NULL;
        int r;

        o->started = true;
        if (!g) {
                fail(o, -EIO, "The resource group is gone.");
                return -EIO;
        }
        r = vgpu_group_offer(g, &d->inventory, &d->mdevs, &d->claims, o->type, &offer, &err);
        if (r >= 0)
                r = vgpu_offer_take(&offer, o->count, &err);
        if (r < 0) {
                fail(o, r, err);
                return r;
        }
        for (char **k = offer.take; k && *k; k++)
                if (strv_extend(&o->keys, *k) < 0) {
                        fail(o, -ENOMEM, NULL);
                        return -ENOMEM;
                }
        o->left = o->count - (unsigned) strv_length(o->keys);
        return 0;
}

/* One more instance, on the first parent with room now. */
static void step(VgpuClaimOp *o) {
        Daemon *d = o->d;
        const ResourceGroup *g = resource_set_find_id(&d->resources, o->group);
        _cleanup_(vgpu_offer_done) VgpuOffer offer = {};
        _cleanup_free_ char *err = NULL;
        int r;

        if (!o->started && start(o) < 0)
                return;
        if (o->left == 0) {
                finish(o);
                return;
        }
        if (!g) {
                fail(o, -EIO, "The resource group is gone.");
                return;
        }
        r = vgpu_group_offer(g, &d->inventory, &d->mdevs, &d->claims, o->type, &offer, &err);
        for (char **p = r >= 0 ? offer.parents : NULL; p && *p; p++) {
                const MdevParent *parent = mdev_set_parent(&d->mdevs, *p);
                char uuid[SD_ID128_UUID_STRING_MAX];
                sd_id128_t id;

                if (strv_has(o->full, *p))
                        continue;
                free(err);
                err = NULL;
                if (parent && parent->vf_based)
                        r = daemon_vgpu_create(d, *p, o->type, NULL, o->requester, o->claim, on_made, o, &err);
                else {
                        r = sd_id128_randomize(&id);
                        if (r < 0)
                                break;
                        sd_id128_to_uuid_string(id, uuid);
                        r = daemon_mdev_create_claimed(d, *p, o->type, uuid, o->requester, o->claim, on_made, o,
                                                       &err);
                }
                if (r >= 0)
                        return;
                if (r != -ENOSPC)
                        break;
                /* Less room than it showed: the next parent. */
                if (strv_extend(&o->full, *p) < 0) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r >= 0 || r == -ENOSPC) {
                free(err);
                err = NULL;
                (void) asprintf(&err, "Only %zu instances of type '%s' could be made; every one was removed again.",
                                strv_length(o->keys), o->type);
                r = -ENOSPC;
        }
        fail(o, r, err);
}

static int on_step(sd_event_source *s, void *userdata) {
        step(userdata);
        return 0;
}

int daemon_vgpu_claim(Daemon *d, const char *group_id, const char *type, unsigned count, const char *claim,
                      const char *requester, VgpuClaimDone done, void *userdata) {
        VgpuClaimOp *o;
        bool busy = group_busy(d, group_id) || next_waiting(d, group_id);
        int r;

        o = calloc(1, sizeof(VgpuClaimOp));
        if (!o)
                return -ENOMEM;
        *o = (VgpuClaimOp) { .d = d, .count = count, .done = done, .userdata = userdata, .next = d->vgpu_claims };
        if (o->next)
                o->next->prev = o;
        d->vgpu_claims = o;
        o->group = strdup(group_id);
        o->type = strdup(type);
        o->claim = strdup(claim);
        o->requester = strdup(strempty(requester));
        o->keys = calloc(1, sizeof(char *));
        if (!o->group || !o->type || !o->claim || !o->requester || !o->keys) {
                op_free(o);
                return -ENOMEM;
        }
        r = sd_event_add_defer(d->event, &o->step, on_step, o);
        /* Behind another claim on the group: started when that one is done. */
        if (r >= 0)
                r = busy ? sd_event_source_set_enabled(o->step, SD_EVENT_OFF) : schedule(o);
        if (r < 0) {
                op_free(o);
                return r;
        }
        return 0;
}

/* ---- release ---- */

typedef struct VgpuRelease {
        unsigned pending;
        void (*done)(void *userdata);
        void *userdata;
} VgpuRelease;

static void on_released(void *userdata, const char *key, int r, const char *error) {
        VgpuRelease *rel = userdata;

        if (r < 0)
                log_warning("Instance %s of a released claim stays: %s", key, strempty(error));
        if (--rel->pending > 0)
                return;
        if (rel->done)
                rel->done(rel->userdata);
        free(rel);
}

int daemon_vgpu_release(Daemon *d, const char *claim, void (*done)(void *userdata), void *userdata) {
        _cleanup_strv_free_ char **keys = NULL;
        VgpuRelease *rel = calloc(1, sizeof(VgpuRelease));

        if (!rel)
                return -ENOMEM;
        *rel = (VgpuRelease) { .done = done, .userdata = userdata };
        for (size_t i = 0; i < d->mdev_records.n_items; i++)
                if (streq_ptr(d->mdev_records.items[i].claim, claim) &&
                    strv_extend(&keys, d->mdev_records.items[i].uuid) < 0) {
                        free(rel);
                        return -ENOMEM;
                }
        for (char **k = keys; k && *k; k++) {
                _cleanup_free_ char *err = NULL;
                const Mdev *m = mdev_set_get(&d->mdevs, *k);
                int r;

                if (!m || !m->active) {
                        /* Never made again: the record goes. */
                        if (mdev_record_remove(&d->mdev_records, *k) > 0 && daemon_save(d) < 0)
                                log_warning("Cannot save the state after releasing %s.", *k);
                        continue;
                }
                rel->pending++;
                r = daemon_mdev_remove(d, *k, "hostdevd", on_released, rel, &err);
                if (r < 0) {
                        rel->pending--;
                        log_warning("Instance %s of released claim %s stays: %s", *k, claim, err ?: strerror(-r));
                }
        }
        if (rel->pending == 0) {
                free(rel);
                return 0;
        }
        return (int) rel->pending;
}
