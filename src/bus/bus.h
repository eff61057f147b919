/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "daemon/daemon.h"

#define BUS_NAME       "org.hostdev1"
#define BUS_PATH       "/org/hostdev1"

#define BUS_ERROR_NOT_FOUND        "org.hostdev1.Error.NotFound"
#define BUS_ERROR_INVALID_ARGUMENT "org.hostdev1.Error.InvalidArgument"
#define BUS_ERROR_FAILED           "org.hostdev1.Error.Failed"
#define BUS_ERROR_EXISTS           "org.hostdev1.Error.Exists"
#define BUS_ERROR_BUSY             "org.hostdev1.Error.Busy"

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

int bus_register(Daemon *d);

/* An object's own interfaces (at most seven), NULL-terminated: what
 * GetManagedObjects and InterfacesAdded list for it, so what
 * InterfacesRemoved must list. The standard ones (Peer, Introspectable,
 * Properties) every object has are left out of all three. */
void bus_object_interfaces(const char *ret[static 8], const char *const *own);
void bus_device_interfaces(const Device *dev, const char *ret[static 8]);
#define BUS_INTERFACES(...) ((const char *const[]) { __VA_ARGS__, NULL })
char *bus_resource_group_path(const ResourceGroup *g);

/* Every interface this daemon serves, for checks over all vtables. */
extern const BusInterface bus_interfaces[];
extern const size_t bus_n_interfaces;

int bus_device_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found, sd_bus_error *error);
