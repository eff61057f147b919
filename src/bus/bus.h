/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "daemon/daemon.h"
#include "options.h"
#include "shared/hashmap.h"

#define BUS_NAME       "org.hostdev1"
#define BUS_PATH       "/org/hostdev1"

#define BUS_ERROR_NOT_FOUND        "org.hostdev1.Error.NotFound"
#define BUS_ERROR_INVALID_ARGUMENT "org.hostdev1.Error.InvalidArgument"
#define BUS_ERROR_FAILED           "org.hostdev1.Error.Failed"
#define BUS_ERROR_EXISTS           "org.hostdev1.Error.Exists"
#define BUS_ERROR_BUSY             "org.hostdev1.Error.Busy"
#define BUS_ERROR_INSUFFICIENT_DEVICES "org.hostdev1.Error.InsufficientDevices"
#define BUS_ERROR_NOT_SUPPORTED    "org.hostdev1.Error.NotSupported"

/* An interface this daemon serves: the filter checks call signatures
 * against these same tables, so the vtables stay the only source. */
typedef struct BusInterface {
        const char *interface;
        const sd_bus_vtable *vtable;
} BusInterface;

extern const sd_bus_vtable manager_vtable[];
extern const sd_bus_vtable device_vtable[];
extern const sd_bus_vtable pci_device_vtable[];
extern const sd_bus_vtable sriov_vtable[];
extern const sd_bus_vtable usb_device_vtable[];
extern const sd_bus_vtable iommu_group_vtable[];
extern const sd_bus_vtable resource_group_vtable[];
extern const sd_bus_vtable mdev_parent_vtable[];
extern const sd_bus_vtable mdev_vtable[];

typedef struct Emitter Emitter;

/* The D-Bus front end of the daemon core: its objects, the signals for
 * the core's notifications, polkit. Every object's userdata is the Bus. */
typedef struct Bus {
        Daemon *daemon;
        sd_bus *bus;
        Emitter *emitter;
        Hashmap *polkit_queries;        /* message → PolkitQuery */
        sd_event_source *polkit_timer;  /* refuses questions polkit left unanswered */
        uint64_t polkit_timeout_usec;
        struct PendingReply *pending;   /* calls answered when their change is over */
        struct SriovPending *sriov_pending;     /* SetNumVfs calls, likewise (sriov.c) */
        struct MdevReply *mdev_pending; /* CreateMdev/Remove calls waiting for the kernel */
        Hashmap *leases;                /* claim id → its lease's watch (lease.c) */
        /* The users of the last callers asked about (polkit.c): unique
         * names are never reused, so an entry never goes stale. */
        struct {
                char *sender;
                uid_t uid;
        } uid_cache[16];
        unsigned uid_cache_next;
} Bus;

/* Registers the objects, subscribes to the core's notifications and only
 * then requests the name; READY=1 once it is ours. */
int bus_new(Daemon *d, sd_bus *bus, Bus **ret);
Bus *bus_free(Bus *b);
static inline void bus_freep(Bus **b) {
        bus_free(*b);
}

int bus_device_register(Bus *b);
int bus_group_register(Bus *b);
int bus_resource_group_register(Bus *b);
int bus_mdev_register(Bus *b);

/* An object's own interfaces (at most seven), NULL-terminated: what
 * GetManagedObjects and InterfacesAdded list for it, so what
 * InterfacesRemoved must list. The standard ones (Peer, Introspectable,
 * Properties) every object has are left out of all three. */
void bus_object_interfaces(const char *ret[static 8], const char *const *own);
void bus_device_interfaces(const Device *dev, const char *ret[static 8]);
#define BUS_INTERFACES(...) ((const char *const[]) { __VA_ARGS__, NULL })
/* Device object paths (path.c): "/org/hostdev1/pci/0000_01_00_0". */
#define BUS_DEVICE_PATH_MAX (sizeof(BUS_PATH "/pci/") + ADDRESS_MAX)
const char *bus_device_path(const Device *d, char buf[static BUS_DEVICE_PATH_MAX]);
char *bus_device_path_of(DeviceKind kind, const char *address);
/* (The way back, a path's last element to an address: address_from_path_component().) */
/* "/org/hostdev1/iommu_group/12" */
#define BUS_GROUP_PATH_MAX (sizeof(BUS_PATH "/iommu_group/") + 12)
const char *bus_iommu_group_path(unsigned number, char buf[static BUS_GROUP_PATH_MAX]);
/* "/org/hostdev1/resource_group/<id>", the id as sd_bus_path_encode() spells it. */
char *bus_resource_group_path(const ResourceGroup *g);
/* The group behind a ResourceGroup object path, NULL when none. */
ResourceGroup *bus_resource_group_from_path(Bus *b, const char *path);

/* The object a reboot reason is about: a device's path, or the manager's. */
char *bus_subject_path(const char *subject);
/* RebootReasons as a(ss), subjects as object paths. */
int bus_append_reboot_reasons(sd_bus_message *m, const Daemon *d);

/* The shared body of Manager.Prepare/Release and ResourceGroup.Prepare/
 * Release: options are next in m, devices already read. */
/* USB devices in Prepare and Release (usb-prepare.c). */
char *bus_usb_critical_summary(const Device *const *devs, size_t n);

int bus_prepare_release(Bus *b, sd_bus_message *m, const Device *const *devs, size_t n, bool prepare,
                        sd_bus_error *error);

/* Drops the calls still waiting for their change (exit). */
void bus_pending_free_all(Bus *b);
void bus_sriov_free_all(Bus *b);

/* For Manager.CreateResourceGroup and MakeResource. */
int bus_resource_group_check_new(Daemon *d, const char *name, ResourceType type, const char *description,
                                 const char *class_hint, const RuleList *rules, sd_bus_error *error);
/* Creates the group (taking the rules), makes it durable, publishes it. */
int bus_resource_group_create(Bus *b, const char *name, ResourceType type, const char *description,
                              const char *class_hint, RuleList *rules, ResourceGroup **ret,
                              sd_bus_error *error);

/* Mediated devices (mdev.c): "/org/hostdev1/mdev/<uuid, '-' as '_'>". */
#define BUS_MDEV_PATH_MAX (sizeof(BUS_PATH "/mdev/") + MDEV_UUID_LEN)
const char *bus_mdev_path(const char *uuid, char buf[static BUS_MDEV_PATH_MAX]);
Mdev *bus_mdev_from_path(Daemon *d, const char *path);
void bus_mdev_added(Bus *b, const Mdev *m);
void bus_mdev_removed(Bus *b, const Mdev *m);
void bus_mdev_changed(Bus *b, const Mdev *m);
void bus_mdev_parent_changed(Bus *b, const MdevParent *p);
char *bus_mdev_parent_path(const char *name);
/* A parent that is no PCI device, by its own object's path; NULL if none. */
MdevParent *bus_standalone_parent_from_path(Daemon *d, const char *path);
/* The device at address gained (added) or lost org.hostdev1.MdevParent. */
void bus_mdev_parent_added(Bus *b, const char *address, bool added);
void bus_mdev_free_all(Bus *b);

/* Every interface this daemon serves, for checks over all vtables. */
extern const BusInterface bus_interfaces[];
extern const size_t bus_n_interfaces;

/* "/org/hostdev1/pci/0000_01_00_0" → the Device, if it has that interface. */
Device *bus_device_from_path(Daemon *d, const char *path, const char *interface);
