/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "store.h"

/* The store's records as text (internal to src/store): "field=value"
 * lines with '%XX' escapes, keyed "schema-version", "group/<id>",
 * "prepared/<address>", "usb-prepared/<port path>", "mdev/<uuid>" and "reboot". From schema version 2 on, every
 * record but the version ends in "check=XXXXXXXX\n", the CRC-32 of its
 * key, a NUL and the lines before. */

#define RECORD_KEY_VERSION "schema-version"
#define RECORD_KEY_MAX 256

/* The records that hold a state, as key, value, key, value, …, NULL,
 * the version first. */
int record_serialize_state(const StoreState *state, char ***ret);

/* Group records as a save last wrote them, each with a hash of what it
 * was made from: a group that hashes the same is not serialized again,
 * so a save after a claim does not rewrite a pool's hundreds of rules. */
typedef struct RecordCache {
        char **records;         /* key, value, …, NULL */
        uint64_t *hashes;       /* one per key */
        size_t n;
} RecordCache;

void record_cache_done(RecordCache *c);
/* record_serialize_state() with the group records taken from *cache
 * where the group is unchanged; *cache then holds this state's groups. */
int record_serialize_state_cached(const StoreState *state, RecordCache *cache, char ***ret);

/* Checks one record and adds it to st: the check line (version ≥ 2; for
 * version 0, "not known", when the record has one), then the fields, with
 * the model's validators where the bus uses them. -EINVAL with *reason (a
 * phrase naming what is wrong) when the record is not what a save writes;
 * -ENOMEM. The version record itself is not passed here. */
int record_parse(int version, const char *key, const char *val, size_t len, const StoreState *st, char **reason);
