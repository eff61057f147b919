/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "bus.h"

/* Claims on the bus: org.hostdev1.Claim objects at
 * /org/hostdev1/claim/<id>, ResourceGroup.Claim and Claim.Release. */

#define BUS_ERROR_INSUFFICIENT_DEVICES "org.hostdev1.Error.InsufficientDevices"

extern const sd_bus_vtable claim_vtable[];
/* The interfaces of a Claim object, NULL-terminated. */
extern const char *const bus_claim_interfaces[];

char *bus_claim_path(const Claim *c);
/* dev's driver changed: its IommuGroup.VfioDevice and the Handles of
 * the claim holding it (if any) may have changed. */
void bus_claim_driver_changed(Bus *b, const Device *dev);
Claim *bus_claim_from_path(Bus *b, const char *path);
int bus_claim_register(Bus *b);

/* The "devices" option (ao) of Claim and AssignToTenant as addresses;
 * NotFound in error for a path that is no device. */
int bus_devices_option(Daemon *d, char **paths, char ***ret, sd_bus_error *error);
/* ResourceGroup.Claim(s consumer, u count, a{sv} options) → o. */
int bus_method_claim(sd_bus_message *m, void *userdata, sd_bus_error *error);
/* Manager.Claims: ao. */
int bus_append_claims(sd_bus_message *reply, Bus *b);
/* Total, Available and Claimed members of g (each pointer may be NULL). */
int bus_group_claim_counts(Bus *b, const ResourceGroup *g, unsigned *ret_total, unsigned *ret_available,
                           unsigned *ret_claimed);
/* Takes the claim out, announces it and gives its prepared devices back
 * to their host drivers; answers call (may be NULL) once done. reason is
 * logged. -ENOENT when there is no such claim. */
int bus_claim_drop(Bus *b, const char *id, sd_bus_message *call, const char *reason);

/* Reserves and lists c (taken) at once, saves, announces it and answers
 * call with its path (or an error): a claim whose members are ready. */
int bus_claim_record(Bus *b, Claim *c, sd_bus_message *call);

/* vgpu resource groups (claim-vgpu.c), called from the claim flow. */
bool bus_claim_is_vgpu(Bus *b, const Claim *c);
int bus_vgpu_claim(Bus *b, sd_bus_message *m, const ResourceGroup *g, sd_bus_error *error);
int bus_vgpu_counts(Bus *b, const ResourceGroup *g, unsigned *ret_total, unsigned *ret_available,
                    unsigned *ret_claimed);
int bus_vgpu_append_handles(Bus *b, const Claim *c, sd_bus_message *reply);
/* Removes the instances c (taken, out of the set already) made; answers
 * call (may be NULL) once done. */
int bus_vgpu_drop(Bus *b, Claim *c, sd_bus_message *call);
/* Available of every vgpu group may have changed. */
void bus_vgpu_groups_changed(Bus *b);
