/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bus.h"

/* Claim leases: "peer" through sd_bus_track on the holder's unique name,
 * "pid:N" through a pidfd on the event loop. A claim whose holder is gone
 * is released and Manager.ClaimReleased(o claim, s reason) sent. */

/* Starts watching c's lease (nothing for a claim without one). A holder
 * that is gone already (a restart) releases the claim from the loop
 * soon after: returns 1 then. */
int bus_lease_watch(Bus *b, const Claim *c);
/* Every claim's lease: at start-up, once the name is ours. */
void bus_lease_watch_all(Bus *b);
/* Stops watching (the claim was released). */
void bus_lease_forget(Bus *b, const char *claim_id);
void bus_lease_free_all(Bus *b);
/* 0 when process pid exists (and a pidfd can be had for it), else -errno. */
int bus_lease_pid_check(pid_t pid);
