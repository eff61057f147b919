/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <langinfo.h>
#include <math.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include <json-c/json.h>

#include "output.h"

#define COLUMN_SEPARATOR 2   /* spaces between table columns */
#define SHRINK_MIN 6         /* a cut name column keeps at least this many cells */

void log_note(const char *format, ...) {
        va_list ap;

        fflush(stdout);
        fputs("Note: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

bool on_tty(void) {
        static int cached = -1;

        if (cached < 0)
                cached = isatty(STDOUT_FILENO) > 0;
        return cached;
}

/* $COLUMNS first, as systemd does, so a user can override the terminal size. */
unsigned terminal_columns(void) {
        const char *e = getenv("COLUMNS");
        struct winsize ws = {};

        if (e) {
                char *end;
                unsigned long c;

                errno = 0;
                c = strtoul(e, &end, 10);
                if (errno == 0 && end != e && *end == '\0' && c > 0 && c < 100000)
                        return (unsigned) c;
        }

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0)
                return ws.ws_col;

        return 80;
}

bool locale_is_utf8(void) {
        const char *set = nl_langinfo(CODESET);

        return set && (streq(set, "UTF-8") || streq(set, "utf8"));
}

static const char *ellipsis(void) {
        return locale_is_utf8() ? "\xe2\x80\xa6" : "...";
}

/* Decodes one UTF-8 sequence; on malformed input takes one byte as U+FFFD. */
static size_t utf8_next(const char *s, uint32_t *ret) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n;
        uint32_t c;

        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        }
        if ((p[0] & 0xe0) == 0xc0) {
                n = 2;
                c = p[0] & 0x1f;
        } else if ((p[0] & 0xf0) == 0xe0) {
                n = 3;
                c = p[0] & 0x0f;
        } else if ((p[0] & 0xf8) == 0xf0) {
                n = 4;
                c = p[0] & 0x07;
        } else
                goto bad;

        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        goto bad;
                c = (c << 6) | (p[i] & 0x3f);
        }
        *ret = c;
        return n;

bad:
        *ret = 0xfffd;
        return 1;
}

static unsigned char_width(uint32_t c) {
        int w;

        if (c < 0x80)
                return c >= 0x20 && c != 0x7f ? 1 : 0;
        w = wcwidth((wchar_t) c);
        /* Outside a UTF-8 locale wcwidth() knows nothing; assume one cell. */
        return w < 0 ? 1 : (unsigned) w;
}

size_t utf8_width(const char *s) {
        size_t w = 0;

        while (*s) {
                uint32_t c;

                s += utf8_next(s, &c);
                w += char_width(c);
        }
        return w;
}

char *printable(const char *s) {
        size_t n = 0;
        char *t, *p;

        for (const unsigned char *i = (const unsigned char *) s; *i; i++)
                n += *i < ' ' || *i == 0x7f ? 4 : 1;
        p = t = malloc(n + 1);
        if (!t)
                return NULL;
        for (const unsigned char *i = (const unsigned char *) s; *i; i++)
                if (*i < ' ' || *i == 0x7f)
                        p += sprintf(p, "\\x%02x", *i);
                else
                        *p++ = (char) *i;
        *p = '\0';
        return t;
}

/* Prints s padded or cut to exactly `width` cells; pad=false leaves out trailing blanks. */
static void print_cell(FILE *f, const char *s, size_t width, bool pad) {
        size_t w = utf8_width(s);

        if (w <= width) {
                fputs(s, f);
                if (pad)
                        fprintf(f, "%*s", (int) (width - w), "");
                return;
        }

        const char *e = ellipsis();
        size_t ew = utf8_width(e), used = 0;

        if (width < ew)
                e = "", ew = 0;

        while (*s) {
                uint32_t c;
                size_t n = utf8_next(s, &c), cw = char_width(c);

                if (used + cw + ew > width)
                        break;
                fwrite(s, 1, n, f);
                used += cw;
                s += n;
        }
        fputs(e, f);
        used += ew;
        if (pad && used < width)
                fprintf(f, "%*s", (int) (width - used), "");
}

struct Table {
        size_t n_columns;
        char **headers;
        bool *shrinkable;
        char **cells;        /* n_rows * n_columns */
        size_t n_rows;
        size_t allocated;
};

Table *table_new(size_t n_columns, const char * const *headers) {
        Table *t;

        t = calloc(1, sizeof(Table));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->headers = calloc(n_columns, sizeof(char *));
        t->shrinkable = calloc(n_columns, sizeof(bool));
        if (!t->headers || !t->shrinkable)
                return table_free(t);
        for (size_t i = 0; i < n_columns; i++) {
                t->headers[i] = strdup(headers[i]);
                if (!t->headers[i])
                        return table_free(t);
        }
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        if (t->headers)
                for (size_t i = 0; i < t->n_columns; i++)
                        free(t->headers[i]);
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->headers);
        free(t->shrinkable);
        free(t->cells);
        free(t);
        return NULL;
}

void table_set_shrinkable(Table *t, size_t column, bool b) {
        if (column < t->n_columns)
                t->shrinkable[column] = b;
}

size_t table_rows(const Table *t) {
        return t->n_rows;
}

int table_add_row(Table *t, const char * const *cells) {
        size_t need = (t->n_rows + 1) * t->n_columns;

        if (need > t->allocated) {
                size_t a = need * 2;
                char **n = realloc(t->cells, a * sizeof(char *));

                if (!n)
                        return -ENOMEM;
                t->cells = n;
                t->allocated = a;
        }

        char **row = t->cells + t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                row[i] = printable(cells[i] ? cells[i] : "-");
                if (!row[i]) {
                        while (i > 0)
                                free(row[--i]);
                        return -ENOMEM;
                }
        }
        t->n_rows++;
        return 0;
}

/* Gives the shrinkable columns their share of `available` cells, smallest need first. */
static void table_shrink(Table *t, size_t *widths, size_t *minimum, size_t available) {
        size_t n = 0, sum_min = 0;
        size_t order[t->n_columns];

        for (size_t i = 0; i < t->n_columns; i++)
                if (t->shrinkable[i]) {
                        order[n++] = i;
                        sum_min += minimum[i];
                }
        if (n == 0)
                return;

        if (available <= sum_min) {
                for (size_t i = 0; i < n; i++)
                        widths[order[i]] = minimum[order[i]];
                return;
        }

        /* Insertion sort by current width: there are only a few columns. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && widths[order[j - 1]] > widths[order[j]]; j--) {
                        size_t x = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = x;
                }

        for (size_t i = 0; i < n; i++) {
                size_t c = order[i], share = available / (n - i);

                if (widths[c] > share)
                        widths[c] = share > minimum[c] ? share : minimum[c];
                available = available > widths[c] ? available - widths[c] : 0;
        }
}

int table_print(Table *t, FILE *f, bool legend, unsigned width) {
        size_t widths[t->n_columns], minimum[t->n_columns];
        size_t total = 0;

        for (size_t c = 0; c < t->n_columns; c++) {
                size_t hw = utf8_width(t->headers[c]);

                widths[c] = legend ? hw : 0;
                minimum[c] = hw > SHRINK_MIN ? hw : SHRINK_MIN;
                for (size_t r = 0; r < t->n_rows; r++) {
                        size_t w = utf8_width(t->cells[r * t->n_columns + c]);
                        if (w > widths[c])
                                widths[c] = w;
                }
                if (minimum[c] > widths[c])
                        minimum[c] = widths[c];
                total += widths[c];
        }
        total += COLUMN_SEPARATOR * (t->n_columns - 1);

        if (width > 0 && total > width) {
                size_t fixed = COLUMN_SEPARATOR * (t->n_columns - 1);

                for (size_t c = 0; c < t->n_columns; c++)
                        if (!t->shrinkable[c])
                                fixed += widths[c];
                table_shrink(t, widths, minimum, width > fixed ? width - fixed : 0);
        }

        for (size_t r = legend ? 0 : 1; r < t->n_rows + 1; r++) {
                char **row = r == 0 ? t->headers : t->cells + (r - 1) * t->n_columns;

                for (size_t c = 0; c < t->n_columns; c++) {
                        bool last = c == t->n_columns - 1;

                        print_cell(f, row[c], widths[c], !last);
                        if (!last)
                                fprintf(f, "%*s", COLUMN_SEPARATOR, "");
                }
                fputc('\n', f);
        }

        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}

typedef struct KeyValueLine {
        char *key;     /* NULL on continuation lines */
        char *value;
} KeyValueLine;

struct KeyValue {
        KeyValueLine *lines;
        size_t n_lines;
};

KeyValue *kv_new(void) {
        return calloc(1, sizeof(KeyValue));
}

KeyValue *kv_free(KeyValue *kv) {
        if (!kv)
                return NULL;
        for (size_t i = 0; i < kv->n_lines; i++) {
                free(kv->lines[i].key);
                free(kv->lines[i].value);
        }
        free(kv->lines);
        free(kv);
        return NULL;
}

_printf_(3, 0)
static int kv_addv(KeyValue *kv, const char *key, const char *format, va_list ap) {
        KeyValueLine *n;
        char *k = NULL, *v = NULL;

        _cleanup_free_ char *raw = NULL;

        if (vasprintf(&raw, format, ap) < 0)
                return -ENOMEM;
        v = printable(raw);
        if (!v)
                return -ENOMEM;
        if (key) {
                k = strdup(key);
                if (!k) {
                        free(v);
                        return -ENOMEM;
                }
        }

        n = realloc(kv->lines, (kv->n_lines + 1) * sizeof(KeyValueLine));
        if (!n) {
                free(k);
                free(v);
                return -ENOMEM;
        }
        kv->lines = n;
        kv->lines[kv->n_lines++] = (KeyValueLine) { .key = k, .value = v };
        return 0;
}

int kv_add(KeyValue *kv, const char *key, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = kv_addv(kv, key, format, ap);
        va_end(ap);
        return r;
}

int kv_add_more(KeyValue *kv, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = kv_addv(kv, NULL, format, ap);
        va_end(ap);
        return r;
}

void kv_print(KeyValue *kv, FILE *f) {
        size_t width = 0;

        for (size_t i = 0; i < kv->n_lines; i++)
                if (kv->lines[i].key) {
                        size_t w = utf8_width(kv->lines[i].key);
                        if (w > width)
                                width = w;
                }

        for (size_t i = 0; i < kv->n_lines; i++) {
                const char *k = kv->lines[i].key;

                if (k)
                        fprintf(f, "%*s%s: %s\n", (int) (width - utf8_width(k)), "", k, kv->lines[i].value);
                else
                        fprintf(f, "%*s%s\n", (int) width + 2, "", kv->lines[i].value);
        }
}

static void *mfree(void *p) {
        free(p);
        return NULL;
}

void json_init(JsonWriter *w, FILE *f, bool pretty) {
        *w = (JsonWriter) { .f = f, .pretty = pretty };
}

void json_done(JsonWriter *w) {
        json_object_put(w->root);
        free(w->key);
        json_init(w, w->f, w->pretty);
}

/* Puts a new value (owned by the writer from now on) where the document stands. */
static bool json_add(JsonWriter *w, struct json_object *o) {
        struct json_object *parent;
        int r;

        if (!o) {
                w->error = -ENOMEM;
                return false;
        }
        if (w->depth == 0) {
                json_object_put(w->root);
                w->root = o;
                return true;
        }
        parent = w->stack[w->depth - 1];
        if (!parent || w->overflow > 0) {
                /* Inside a container that could not be made: json_finish fails anyway. */
                json_object_put(o);
                return false;
        }
        if (json_object_is_type(parent, json_type_array))
                r = json_object_array_add(parent, o);
        else {
                /* A member without a key is a bug of the caller: refused, not guessed. */
                assert(w->key);
                r = w->key ? json_object_object_add(parent, w->key, o) : -EINVAL;
                w->key = mfree(w->key);
        }
        if (r < 0) {
                json_object_put(o);
                w->error = r == -EINVAL ? -EINVAL : -ENOMEM;
                return false;
        }
        return true;
}

static void json_begin(JsonWriter *w, struct json_object *o) {
        bool added = json_add(w, o);

        if (w->depth >= JSON_DEPTH_MAX) {
                /* Counted, so that the ends still match; the document fails. */
                w->overflow++;
                w->error = -E2BIG;
                return;
        }
        /* A container that could not be added is NULL on the stack; its contents are dropped. */
        w->stack[w->depth++] = added ? o : NULL;
}

static void json_end(JsonWriter *w) {
        if (w->overflow > 0)
                w->overflow--;
        else if (w->depth > 0)
                w->depth--;
}

void json_begin_object(JsonWriter *w) {
        json_begin(w, json_object_new_object());
}

void json_end_object(JsonWriter *w) {
        json_end(w);
}

void json_begin_array(JsonWriter *w) {
        json_begin(w, json_object_new_array());
}

void json_end_array(JsonWriter *w) {
        json_end(w);
}

void json_key(JsonWriter *w, const char *key) {
        free(w->key);
        w->key = strdup(key);
        if (!w->key)
                w->error = -ENOMEM;
}

void json_string(JsonWriter *w, const char *s) {
        json_add(w, json_object_new_string(s ? s : ""));
}

void json_string_or_null(JsonWriter *w, const char *s) {
        if (isempty(s))
                json_null(w);
        else
                json_string(w, s);
}

void json_int(JsonWriter *w, int64_t i) {
        json_add(w, json_object_new_int64(i));
}

void json_uint(JsonWriter *w, uint64_t u) {
        json_add(w, json_object_new_uint64(u));
}

void json_double(JsonWriter *w, double d) {
        /* JSON has no NaN or infinity. */
        if (!isfinite(d))
                json_null(w);
        else
                json_add(w, json_object_new_double(d));
}

void json_boolean(JsonWriter *w, bool b) {
        json_add(w, json_object_new_boolean(b));
}

void json_null(JsonWriter *w) {
        /* json-c's null is the NULL object: added as it is, not as a failure. */
        struct json_object *parent = w->depth > 0 ? w->stack[w->depth - 1] : NULL;

        if (!parent)
                return;
        if (json_object_is_type(parent, json_type_array))
                (void) json_object_array_add(parent, NULL);
        else if (w->key) {
                (void) json_object_object_add(parent, w->key, NULL);
                w->key = mfree(w->key);
        }
}

int json_finish(JsonWriter *w) {
        /* Object paths keep their slashes: "/org/hostdev1", not "\/org\/hostdev1". */
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (w->pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
        const char *s;
        int r = w->error;

        if (r == 0) {
                s = json_object_to_json_string_ext(w->root, flags);
                if (!s)
                        r = -ENOMEM;
                else if (fputs(s, w->f) < 0 || fputc('\n', w->f) < 0 || fflush(w->f) != 0 || ferror(w->f))
                        r = -EIO;
        }
        json_done(w);
        return r;
}

void json_kv_string(JsonWriter *w, const char *key, const char *s) {
        json_key(w, key);
        json_string(w, s);
}

void json_kv_string_or_null(JsonWriter *w, const char *key, const char *s) {
        json_key(w, key);
        json_string_or_null(w, s);
}

void json_kv_int(JsonWriter *w, const char *key, int64_t i) {
        json_key(w, key);
        json_int(w, i);
}

void json_kv_uint(JsonWriter *w, const char *key, uint64_t u) {
        json_key(w, key);
        json_uint(w, u);
}

void json_kv_bool(JsonWriter *w, const char *key, bool b) {
        json_key(w, key);
        json_boolean(w, b);
}

void json_kv_null(JsonWriter *w, const char *key) {
        json_key(w, key);
        json_null(w);
}
