/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* NULL-terminated string arrays. A NULL strv is an empty one. */
char **strv_free(char **l);
size_t strv_length(char * const *l);
static inline bool strv_isempty(char * const *l) {
        return !l || !*l;
}
/* The strings with separator between them; NULL on OOM. */
char *strv_join(char * const *l, const char *separator);
bool strv_equal(char * const *a, char * const *b);
/* Split at runs of whitespace. */
char **strv_split_whitespace(const char *s);
/* Append a copy of s; -ENOMEM leaves *l unchanged. */
int strv_extend(char ***l, const char *s);

static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))
