/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/hashmap.h"

/* Mediated devices: parents (a device with mdev_supported_types), the
 * types each offers, and the instances that exist. Pure: the kernel layer
 * fills these in, the bus layer shows them. */

/* "8-4-4-4-12" hex digits. */
#define MDEV_UUID_LEN 36

typedef struct MdevType {
        char *id;               /* "mtty-2" (the directory name) */
        char *name;             /* may be "" */
        char *description;      /* may be "" */
        char *device_api;       /* "vfio-pci", may be "" */
        unsigned available;     /* available_instances */
} MdevType;

struct VgpuVf;

typedef struct MdevParent {
        char *address;          /* the parent device's address; its name when not a PCI device */
        char *syspath;          /* "/sys/devices/…", as read */
        /* Not a PCI device (mtty's /sys/devices/virtual/mtty/mtty, ccw, ap):
         * published as an object of its own. */
        bool standalone;
        MdevType *types;
        size_t n_types;
        /* An SR-IOV GPU whose VFs take vGPU types (NVIDIA, vGPU host
         * driver 550+): the types its VFs offer, each with the number of
         * free VFs that list it now as its available instances; vfs: each
         * VF as last read, by VF index. */
        bool vf_based;
        struct VgpuVf *vfs;
        size_t n_vfs;
} MdevParent;

typedef enum MdevSource {
        MDEV_SOURCE_HOSTDEV,    /* made by hostdevd, or found and not defined elsewhere */
        MDEV_SOURCE_MDEVCTL,    /* defined in /etc/mdevctl.d: shown, never touched */
        _MDEV_SOURCE_MAX,
} MdevSource;

typedef struct Mdev {
        char *uuid;             /* lower case; NULL for a vGPU on a VF */
        char *vf;               /* a vGPU on a VF: the VF's address; else NULL */
        char *type;             /* type id */
        char *parent;           /* the parent's address */
        int iommu_group;        /* -1 when none */
        MdevSource source;
        bool active;            /* exists in sysfs; false: an mdevctl definition not started */
} Mdev;

typedef struct MdevSet {
        Hashmap *parents;       /* address → MdevParent */
        Hashmap *mdevs;         /* uuid → Mdev */
} MdevSet;

const char *mdev_source_to_string(MdevSource s);

/* How the set, the store and the bus name an instance: its UUID, or the
 * address of the VF that is the vGPU. The two never collide (':'). */
static inline const char *mdev_key(const Mdev *m) {
        return m->vf ?: m->uuid;
}
bool mdev_key_is_vf(const char *key);

/* A UUID as the kernel takes it; case-insensitive. */
bool mdev_uuid_valid(const char *s);
/* Lower-cased copy of a valid UUID; NULL (errno EINVAL/ENOMEM) otherwise. */
char *mdev_uuid_normalize(const char *s);
/* A type id is one path element: [A-Za-z0-9_.+-]{1,64}, not "." or "..". */
bool mdev_type_id_valid(const char *s);

void mdev_type_done(MdevType *t);
MdevParent *mdev_parent_free(MdevParent *p);
Mdev *mdev_free(Mdev *m);
static inline void mdev_parent_freep(MdevParent **p) {
        mdev_parent_free(*p);
}
static inline void mdev_freep(Mdev **m) {
        mdev_free(*m);
}
const MdevType *mdev_parent_type(const MdevParent *p, const char *id);
/* true when the two readings of a parent offer the same (incl. counts). */
bool mdev_parent_equal(const MdevParent *a, const MdevParent *b);

int mdev_set_init(MdevSet *s);
void mdev_set_done(MdevSet *s);
MdevParent *mdev_set_parent(const MdevSet *s, const char *address);
/* Takes p, replacing (and freeing) an earlier reading. */
int mdev_set_put_parent(MdevSet *s, MdevParent *p);
/* The parent, taken out; NULL when none. */
MdevParent *mdev_set_take_parent(MdevSet *s, const char *address);
Mdev *mdev_set_get(const MdevSet *s, const char *uuid);
/* Takes m, replacing an earlier reading. */
int mdev_set_put(MdevSet *s, Mdev *m);
Mdev *mdev_set_take(MdevSet *s, const char *uuid);

/* What the store keeps of an instance hostdev made: recreated at start-up
 * on the parent with that serial (else at that address). */
typedef struct MdevRecord {
        char *uuid;             /* the key: a UUID, or a VF's address (a vGPU type on a VF) */
        char *type;
        char *parent;           /* the parent's address when it was made (a VF's: its PF) */
        char *serial;           /* the parent's serial, NULL when none */
        char *claim;            /* the claim that made it (removed with the claim), NULL when none */
} MdevRecord;

typedef struct MdevRecordSet {
        MdevRecord *items;
        size_t n_items;
} MdevRecordSet;

void mdev_record_set_done(MdevRecordSet *s);
MdevRecord *mdev_record_find(const MdevRecordSet *s, const char *uuid);
/* Copies the strings; -EEXIST when the uuid is recorded already. */
int mdev_record_add(MdevRecordSet *s, const char *uuid, const char *type, const char *parent, const char *serial);
/* 0 when it was not recorded. */
int mdev_record_remove(MdevRecordSet *s, const char *uuid);
int mdev_record_set_claim(MdevRecord *r, const char *claim);

/* A VF of an NVIDIA vGPU GPU as sysfs shows it. */
typedef struct VgpuVf VgpuVf;
struct VgpuVf {
        char *address;
        int iommu_group;
        unsigned current;       /* nvidia/current_vgpu_type; 0: none */
        MdevType *creatable;    /* nvidia/creatable_vgpu_types: id (decimal) and name */
        size_t n_creatable;
};

void vgpu_vf_done(VgpuVf *v);
/* Parses creatable_vgpu_types: "ID : name" lines; a header or any line
 * that does not start with a number is skipped. */
int vgpu_parse_creatable(const char *text, MdevType **ret, size_t *ret_n);
/* The PF as a parent: every type a VF lists now, and those known from
 * before (old, may be NULL) or running on a VF, with available = the free
 * VFs listing it. Types sorted by id as numbers. */
int vgpu_parent_from_vfs(const char *pf, const VgpuVf *vfs, size_t n, const MdevParent *old, MdevParent **ret);
/* The first free VF (in the order given) that lists type; NULL if none. */
const VgpuVf *vgpu_free_vf(const VgpuVf *vfs, size_t n, const char *type);
