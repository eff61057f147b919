/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "bus.h"

/* Authorization of mutating methods through polkit, asynchronously: the
 * first call sends CheckAuthorization and returns 0 (the handler returns
 * 1 and sends no reply); when polkitd answers, the same message is put back
 * into sd-bus's read queue and the handler runs again, now getting 1
 * (allowed) or a negative error with *error set (denied). Handlers must
 * therefore validate before calling this and be safe to run twice.
 *
 * The action comes from one deny-by-default table keyed by interface and
 * method: a method that is not in it is always refused. polkitd missing,
 * failing or not answering means denied. */

typedef struct PolkitQuery PolkitQuery;

/* details: NULL-terminated key, value, key, value… (may be NULL).
 * extra_action: a second action that must be granted as well (e.g.
 * org.hostdev1.override-critical), or NULL. */
int bus_verify_polkit(Bus *b, sd_bus_message *m, const char *extra_action, const char *const *details,
                      bool interactive, sd_bus_error *error);

#define ACTION_OVERRIDE_CRITICAL "org.hostdev1.override-critical"

/* The action guarding a method, NULL when none (refused). */
const char *bus_polkit_action(const char *interface, const char *member);

/* Methods anyone may call; every other method must have an action. */
bool bus_method_is_read_only(const char *interface, const char *member);

/* Frees every query (exit). */
void bus_polkit_flush(Bus *b);
/* Frees answered queries whose call did not come back for them. */
void bus_polkit_gc(Bus *b);
