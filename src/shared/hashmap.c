/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

/* Open addressing with linear probing and backward-shift deletion: no
 * tombstones, one allocation, cache friendly. */

typedef struct Entry {
        const char *key;
        void *value;
        uint32_t hash;
} Entry;

struct Hashmap {
        Entry *entries;
        size_t n_buckets; /* power of two */
        size_t n_entries;
};

static uint32_t hash_string(const char *s) {
        uint32_t h = 2166136261u; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619u;
        return h;
}

Hashmap *hashmap_new(void) {
        Hashmap *h = calloc(1, sizeof(Hashmap));

        if (!h)
                return NULL;
        h->n_buckets = 16;
        h->entries = calloc(h->n_buckets, sizeof(Entry));
        if (!h->entries) {
                free(h);
                return NULL;
        }
        return h;
}

void hashmap_free(Hashmap *h) {
        if (!h)
                return;
        free(h->entries);
        free(h);
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->n_entries : 0;
}

static Entry *find(const Hashmap *h, const char *key, uint32_t hash) {
        size_t mask = h->n_buckets - 1;

        for (size_t i = hash & mask;; i = (i + 1) & mask) {
                Entry *e = &h->entries[i];

                if (!e->key)
                        return e;
                if (e->hash == hash && strcmp(e->key, key) == 0)
                        return e;
        }
}

static int grow(Hashmap *h) {
        Entry *old = h->entries;
        size_t n_old = h->n_buckets;

        h->entries = calloc(n_old * 2, sizeof(Entry));
        if (!h->entries) {
                h->entries = old;
                return -ENOMEM;
        }
        h->n_buckets = n_old * 2;
        for (size_t i = 0; i < n_old; i++)
                if (old[i].key)
                        *find(h, old[i].key, old[i].hash) = old[i];
        free(old);
        return 0;
}

int hashmap_put(Hashmap *h, const char *key, void *value) {
        uint32_t hash = hash_string(key);
        Entry *e;

        if ((h->n_entries + 1) * 4 > h->n_buckets * 3 && grow(h) < 0)
                return -ENOMEM;
        e = find(h, key, hash);
        if (e->key)
                return -EEXIST;
        *e = (Entry) { .key = key, .value = value, .hash = hash };
        h->n_entries++;
        return 0;
}

void *hashmap_get(const Hashmap *h, const char *key) {
        if (!h)
                return NULL;
        return find(h, key, hash_string(key))->value;
}

void *hashmap_remove(Hashmap *h, const char *key) {
        size_t mask, i, j;
        Entry *e;
        void *v;

        if (!h)
                return NULL;
        e = find(h, key, hash_string(key));
        if (!e->key)
                return NULL;
        v = e->value;
        mask = h->n_buckets - 1;
        i = (size_t) (e - h->entries);
        /* Shift later members of the probe run back into the hole. */
        for (j = (i + 1) & mask; h->entries[j].key; j = (j + 1) & mask) {
                size_t home = h->entries[j].hash & mask;

                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        h->entries[i] = h->entries[j];
                        i = j;
                }
        }
        h->entries[i] = (Entry) {};
        h->n_entries--;
        return v;
}

bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value, const char **ret_key) {
        if (!h)
                return false;
        for (; *state < h->n_buckets; (*state)++) {
                Entry *e = &h->entries[*state];

                if (e->key) {
                        (*state)++;
                        if (ret_value)
                                *ret_value = e->value;
                        if (ret_key)
                                *ret_key = e->key;
                        return true;
                }
        }
        return false;
}
