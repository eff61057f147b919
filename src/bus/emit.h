/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "daemon/service.h"

/* Signals for changes made during one event-loop iteration, queued in
 * order and sent together at its end: a burst of uevents for one object
 * becomes one PropertiesChanged, an object that comes and goes within the
 * burst is never announced. InterfacesAdded carries the values at flush time. */
typedef struct Emitter Emitter;

typedef enum ObjectType {
        OBJECT_DEVICE,
        OBJECT_GROUP,
        OBJECT_RESOURCE_GROUP,
} ObjectType;

/* Fields: DEVICE_FIELD_* (model/device.h), GROUP_FIELD_* and RG_FIELD_*
 * (daemon/service.h). */

Emitter *emitter_new(sd_bus *bus);
Emitter *emitter_free(Emitter *e);

/* Sends InterfacesAdded for the object at path. Without one set, sd-bus's
 * sd_bus_emit_object_added() does. */
typedef int (*EmitterAnnounce)(sd_bus *bus, const char *path, void *userdata);
void emitter_set_announce(Emitter *e, EmitterAnnounce announce, void *userdata);

int emitter_added(Emitter *e, const char *path);
/* interfaces: what the object had (NULL-terminated), copied. */
int emitter_removed(Emitter *e, const char *path, const char *const *interfaces);
/* fields: DEVICE_FIELD_* or GROUP_FIELD_* bits. */
int emitter_changed(Emitter *e, const char *path, ObjectType type, unsigned fields);
/* Narrows a queued change to what really differs now: of the known bits,
 * only those in actual stay (a value that went A→B→A within the batch is
 * no change). */
void emitter_refine(Emitter *e, const char *path, unsigned known, unsigned actual);

/* Manager.DeviceMoved, in order with the other signals. */
int emitter_device_moved(Emitter *e, const char *group_path, const char *serial, const char *old_address,
                         const char *new_address);
bool emitter_pending(const Emitter *e);
int emitter_flush(Emitter *e);
/* Forget what is queued (start-up, before anything is published). */
void emitter_discard(Emitter *e);
