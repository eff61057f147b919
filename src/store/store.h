/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model/mdev.h"
#include "model/claim.h"
#include "model/plan.h"
#include "model/resource.h"
#include "model/usb-prepared.h"
#include "model/vf.h"

/* The persistent state: resource groups (and later claims) in a gdbm file
 * under the state directory. Every save writes a complete new file and
 * renames it over the old one, so a crash at any point leaves either the
 * old or the new state. The file carries a schema version; every record
 * carries a checksum of its key and value (from version 2 on).
 *
 * Loading is all or nothing: every record is read and validated as the
 * bus validates what it accepts; a file that cannot be read completely,
 * holds a damaged record, is not a regular file or comes from a newer
 * version is reported (naming the file and the record) and never
 * overwritten. store_salvage() recovers what can be read. */

/* 1: the first records. 2: a check line on every record. 3: claims,
 * their VF settings and USB identities (vf=, identity=), SR-IOV settings,
 * mdevs on parents that are no PCI device, USB devices prepared. A file
 * of an older version loads as it is; a hostdevd that knows only an older
 * one refuses a newer file with a message saying so, never as damaged. */
#define STORE_SCHEMA_VERSION 3
#define STORE_FILE "hostdev.db"

typedef struct Store Store;

/* What is kept: resource groups, prepared devices, reboot reasons. */
typedef struct StoreState {
        ResourceSet *resources;
        PreparedSet *prepared;
        RebootState *reboot;
        SriovConfigSet *sriov;  /* VF counts and settings by PF */
        MdevRecordSet *mdevs;           /* mediated devices hostdev made */
        ClaimSet *claims;       /* NULL: claim records are checked, not kept */
        UsbPreparedSet *usb_prepared;   /* USB devices with detached interfaces; NULL: checked, not kept */
} StoreState;

/* Opens (creating the directory when missing) and loads the state into
 * the (empty) sets of *state. On a bad file: -EBADMSG / -EPROTONOSUPPORT
 * and *ret_error says what is wrong and what to do; *state stays empty. */
int store_open(const char *state_dir, const StoreState *state, Store **ret, char **ret_error);
Store *store_free(Store *s);

/* Writes the whole state; returns once it is on disk. */
int store_save(Store *s, const StoreState *state);

const char *store_path(const Store *s);

/* Loads the state file of state_dir as store_open() does, changing
 * nothing. On success *ret_dump holds the records as the state would be
 * saved again, one "KEY<TAB>VALUE" line each (backslash, tab and newline
 * written as \\, \t and \n), sorted by key, and *ret_summary a sentence
 * with the counts. */
int store_verify(const char *state_dir, char **ret_dump, char **ret_summary, char **ret_error);

/* Reads every record of a damaged state file that can be read (with
 * gdbm's recovery, on a copy), keeps the ones that validate, writes them
 * to a new state file (atomically) and keeps the damaged file beside it
 * as "hostdev.db.damaged-YYYYMMDDTHHMMSSZ". *ret_report says what was
 * kept and what was dropped. A file that loads as it is, or was written
 * by a newer version, is left alone. Run it while hostdevd is stopped. */
int store_salvage(const char *state_dir, char **ret_report, char **ret_error);
