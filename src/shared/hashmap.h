/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdbool.h>

/* A map from C strings to pointers. Keys are not copied: a key must live as
 * long as its entry (it is usually a field of the value). */
typedef struct Hashmap Hashmap;

Hashmap *hashmap_new(void);
void hashmap_free(Hashmap *h);
size_t hashmap_size(const Hashmap *h);

/* -EEXIST when the key is taken, -ENOMEM. */
int hashmap_put(Hashmap *h, const char *key, void *value);
void *hashmap_get(const Hashmap *h, const char *key);
/* Returns the removed value, or NULL. */
void *hashmap_remove(Hashmap *h, const char *key);

/* Iteration: start with *state = 0; returns false at the end. Do not
 * modify the map while iterating. */
bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value, const char **ret_key);

static inline void hashmap_freep(Hashmap **h) {
        hashmap_free(*h);
}
