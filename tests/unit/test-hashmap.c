/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "shared/hashmap.h"

/* Insert, look up and delete many keys, in an order that exercises probe
 * runs wrapping and backward-shift deletion. */
int main(void) {
        enum { N = 5000 };
        static char keys[N][16];
        Hashmap *h = hashmap_new();
        size_t i, state = 0, seen = 0;
        void *v;

        for (i = 0; i < N; i++) {
                snprintf(keys[i], sizeof keys[i], "k%zu", i * 7919);
                CHECK(hashmap_put(h, keys[i], keys[i]) == 0);
        }
        CHECK(hashmap_put(h, keys[3], NULL) == -EEXIST);
        CHECK(hashmap_size(h) == N);
        for (i = 0; i < N; i += 2)
                CHECK(hashmap_remove(h, keys[i]) == keys[i]);
        CHECK(hashmap_remove(h, "absent") == NULL);
        for (i = 0; i < N; i++)
                CHECK(hashmap_get(h, keys[i]) == (i % 2 ? keys[i] : NULL));
        while (hashmap_iterate(h, &state, &v, NULL))
                seen++;
        CHECK(seen == N / 2);
        hashmap_free(h);
        CHECK_DONE();
}
