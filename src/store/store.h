/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model/plan.h"
#include "model/resource.h"

/* The persistent state: resource groups (and later claims) in a gdbm file
 * under the state directory. Every save writes a complete new file and
 * renames it over the old one, so a crash at any point leaves either the
 * old or the new state. The file carries a schema version; a file that is
 * corrupt or from a newer version is reported and never overwritten. */

#define STORE_SCHEMA_VERSION 1
#define STORE_FILE "hostdev.db"

typedef struct Store Store;

/* What is kept: resource groups, prepared devices, reboot reasons. */
typedef struct StoreState {
        ResourceSet *resources;
        PreparedSet *prepared;
        RebootState *reboot;
} StoreState;

/* Opens (creating the directory when missing) and loads the state. On a
 * bad file: -EBADMSG / -EPROTONOSUPPORT and *ret_error says what is wrong
 * and what to do. */
int store_open(const char *state_dir, const StoreState *state, Store **ret, char **ret_error);
Store *store_free(Store *s);

/* Writes the whole state; returns once it is on disk. */
int store_save(Store *s, const StoreState *state);

const char *store_path(const Store *s);
