/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "shared/strv.h"

/* "-" for values that are not set, as in the table output. */
static inline const char *strdash(const char *s) {
        return isempty(s) ? "-" : s;
}

static inline const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}

/* Errors go through shared/log.h ("hostdevctl: ..."); notes are for hints
 * and deprecations, "Note: ..." on stderr. */
void log_note(const char *format, ...) _printf_(1, 2);

/* Terminal */
bool on_tty(void);
unsigned terminal_columns(void);
bool locale_is_utf8(void);
size_t utf8_width(const char *s);
/* A copy of s with control characters as \xNN, so that they cannot break the layout. */
char *printable(const char *s);

/*
 * Table: rows of strings, printed in aligned columns. When stdout is a
 * terminal and the table is wider than it, the columns marked shrinkable
 * are cut with an ellipsis; otherwise (pipes, files) nothing is cut.
 */
typedef struct Table Table;

Table *table_new(size_t n_columns, const char * const *headers);
Table *table_free(Table *t);
static inline void table_freep(Table **t) {
        table_free(*t);
}
#define _cleanup_table_free_ _cleanup_(table_freep)
void table_set_shrinkable(Table *t, size_t column, bool b);
/* Appends a row of exactly n_columns strings (NULL prints as "-"). */
int table_add_row(Table *t, const char * const *cells);
size_t table_rows(const Table *t);
/* width 0: no limit. */
int table_print(Table *t, FILE *f, bool legend, unsigned width);

/*
 * Key: value lines as hostnamectl prints them, keys right-aligned.
 * A value may have several lines; they are aligned under the first.
 */
typedef struct KeyValue KeyValue;

KeyValue *kv_new(void);
KeyValue *kv_free(KeyValue *kv);
static inline void kv_freep(KeyValue **kv) {
        kv_free(*kv);
}
#define _cleanup_kv_free_ _cleanup_(kv_freep)
int kv_add(KeyValue *kv, const char *key, const char *format, ...) _printf_(3, 4);
/* Adds a line continuing the previous key's value. */
int kv_add_more(KeyValue *kv, const char *format, ...) _printf_(2, 3);
void kv_print(KeyValue *kv, FILE *f);

/*
 * JSON output through json-c. Callers nest begin/end calls as the document
 * reads; the writer builds json-c objects and json_finish() prints them, so
 * escaping, numbers and layout are json-c's. A member needs json_key()
 * first. Out of memory is remembered and reported by json_finish().
 */
struct json_object;

#define JSON_DEPTH_MAX 136     /* D-Bus nests at most 64 arrays and 64 structs */

typedef struct JsonWriter {
        FILE *f;
        bool pretty;
        struct json_object *root;
        struct json_object *stack[JSON_DEPTH_MAX];      /* open objects and arrays */
        unsigned depth;
        unsigned overflow;      /* containers begun beyond JSON_DEPTH_MAX */
        char *key;              /* the key of the next member */
        int error;
} JsonWriter;

void json_init(JsonWriter *w, FILE *f, bool pretty);
void json_begin_object(JsonWriter *w);
void json_end_object(JsonWriter *w);
void json_begin_array(JsonWriter *w);
void json_end_array(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);
void json_string(JsonWriter *w, const char *s);
void json_string_or_null(JsonWriter *w, const char *s); /* NULL and "" print as null */
void json_int(JsonWriter *w, int64_t i);
void json_uint(JsonWriter *w, uint64_t u);
void json_double(JsonWriter *w, double d);
void json_boolean(JsonWriter *w, bool b);
void json_null(JsonWriter *w);
/* Prints the document and a newline, flushes and frees it; -ENOMEM when
 * it could not be built, -EIO on a write error. */
int json_finish(JsonWriter *w);
/* Frees a document that is not printed (an error came first). */
void json_done(JsonWriter *w);

/* Shorthands for "key": value members. */
void json_kv_string(JsonWriter *w, const char *key, const char *s);
void json_kv_string_or_null(JsonWriter *w, const char *key, const char *s);
void json_kv_int(JsonWriter *w, const char *key, int64_t i);
void json_kv_uint(JsonWriter *w, const char *key, uint64_t u);
void json_kv_bool(JsonWriter *w, const char *key, bool b);
void json_kv_null(JsonWriter *w, const char *key);
