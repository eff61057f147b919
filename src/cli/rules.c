/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "common/rule-fields.h"
#include "rules.h"

/* Fields print in the contract's order (common/rule-fields.h), whatever
 * order the daemon keeps; unknown ones last. */
static size_t field_rank(const char *name) {
        RuleField f = rule_field_from_string(name);

        return f >= 0 ? (size_t) f : _RULE_FIELD_MAX;
}

static int field_compare(const void *a, const void *b, void *userdata) {
        const HdRule *rule = userdata;
        const HdRuleField *x = rule->fields + *(const size_t *) a, *y = rule->fields + *(const size_t *) b;
        size_t rx = field_rank(x->name), ry = field_rank(y->name);

        if (rx != ry)
                return rx < ry ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* The indexes of the rule's fields in printing order; NULL on OOM. */
static size_t *field_order(const HdRule *rule) {
        size_t *order = calloc(rule->n_fields + 1, sizeof(size_t));

        if (!order)
                return NULL;
        for (size_t i = 0; i < rule->n_fields; i++)
                order[i] = i;
        qsort_r(order, rule->n_fields, sizeof(size_t), field_compare, (void *) rule);
        return order;
}

static void log_unknown_field(const char *name) {
        char list[512] = "";

        for (RuleField f = 0; f < _RULE_FIELD_MAX; f++) {
                if (f > 0)
                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, rule_field_to_string(f), sizeof(list) - strlen(list) - 1);
        }
        log_error("Unknown rule field '%s'. Rule fields are: %s.", name, list);
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* "10de", "0x10de": hexadecimal up to max. */
static bool parse_hex(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = 0;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        for (; *s; s++, n++) {
                if (!isxdigit((unsigned char) *s) || n >= 16)
                        return false;
                v = v * 16 + (uint64_t) (isdigit((unsigned char) *s) ? *s - '0' : tolower((unsigned char) *s) - 'a' + 10);
                if (v > max)
                        return false;
        }
        if (n == 0)
                return false;
        *ret = v;
        return true;
}

static bool parse_int32(const char *s, int32_t *ret) {
        char *end;
        long v;

        if (isempty(s) || isspace((unsigned char) *s))
                return false;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
                return false;
        *ret = (int32_t) v;
        return true;
}

/* Cuts surrounding blanks off a number. */
static char *strip(char *s) {
        char *e;

        while (is_blank(*s))
                s++;
        e = s + strlen(s);
        while (e > s && is_blank(e[-1]))
                *--e = '\0';
        return s;
}

typedef struct ParsedField {
        RuleField field;
        uint64_t u;
        int32_t i;
        char *s;
} ParsedField;

/* Whether s starts with an index or a range ("12", "3-5") up to the next comma or the end. */
static bool range_follows(const char *s) {
        size_t n = strcspn(s, ",");

        return n > 0 && strspn(s, "0123456789- \t") >= n && strspn(s, " \t") < n;
}

/*
 * Reads one "FIELD=VALUE" at *p and moves *p past it and its comma. The
 * value is unquoted into a new string.
 */
static int next_item(const char **p, const char *spec, char **ret_name, char **ret_value, bool *ret_quoted) {
        _cleanup_free_ char *name = NULL, *value = NULL;
        const char *s = *p, *eq;
        size_t n = 0;

        while (is_blank(*s))
                s++;
        eq = s;
        while (*eq && *eq != '=' && *eq != ',')
                eq++;
        if (*eq != '=' || eq == s) {
                log_error("'%s' is not a rule: expected FIELD=VALUE[,FIELD=VALUE...].", spec);
                return -EINVAL;
        }
        name = strndup(s, (size_t) (eq - s));
        value = malloc(strlen(eq));
        if (!name || !value)
                return -ENOMEM;
        (void) strip(name);

        s = eq + 1;
        *ret_quoted = *s == '"';
        if (*ret_quoted) {
                for (s++; *s && *s != '"'; s++) {
                        if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
                                s++;
                        value[n++] = *s;
                }
                if (*s != '"') {
                        log_error("Rule '%s': a quote is not closed.", spec);
                        return -EINVAL;
                }
                s++;
                while (is_blank(*s))
                        s++;
                if (*s && *s != ',') {
                        log_error("Rule '%s': expected ',' after the quoted value of %s.", spec, name);
                        return -EINVAL;
                }
        } else
                /* A comma before a bare number or range goes on with the
                 * value: vf-index=0-7,12 needs no quotes. */
                while (*s && (*s != ',' || range_follows(s + 1)))
                        value[n++] = *s++;
        value[n] = '\0';
        if (*s == ',')
                s++;

        *p = s;
        *ret_name = name;
        *ret_value = value;
        name = value = NULL;
        return 0;
}

static int parse_field(ParsedField *f, const char *name, char *value, bool quoted) {
        RuleField field = rule_field_from_string(name);
        char type = rule_field_type(field);
        char *v = quoted ? value : strip(value);

        if (field < 0) {
                log_unknown_field(name);
                return -EINVAL;
        }
        f->field = field;

        switch (type) {
        case 'q':
        case 'u': {
                uint64_t max = type == 'q' ? UINT16_MAX : UINT32_MAX;

                if (!parse_hex(v, max, &f->u)) {
                        log_error("Rule field %s: '%s' is not a hexadecimal number from 0 to %" PRIx64 ".",
                                  name, value, max);
                        return -EINVAL;
                }
                return 0;
        }
        case 'i':
                if (!parse_int32(v, &f->i)) {
                        log_error("Rule field %s: '%s' is not a number.", name, value);
                        return -EINVAL;
                }
                return 0;
        default:
                f->s = strdup(value);
                return f->s ? 0 : -ENOMEM;
        }
}

int rule_append_parsed(sd_bus_message *m, const char *spec) {
        ParsedField fields[_RULE_FIELD_MAX] = {};
        size_t n = 0;
        const char *p = spec;
        int r = 0;

        while (is_blank(*p))
                p++;
        if (!*p) {
                log_error("A rule needs at least one FIELD=VALUE.");
                return -EINVAL;
        }

        while (*p) {
                _cleanup_free_ char *name = NULL, *value = NULL;
                bool quoted;

                r = next_item(&p, spec, &name, &value, &quoted);
                if (r < 0)
                        goto finish;
                for (size_t i = 0; i < n; i++)
                        if (streq(rule_field_to_string(fields[i].field), name)) {
                                log_error("Rule '%s' gives %s twice.", spec, name);
                                r = -EINVAL;
                                goto finish;
                        }
                /* n stays below the number of known fields: each may appear once. */
                r = parse_field(fields + n, name, value, quoted);
                if (r < 0)
                        goto finish;
                n++;
                while (is_blank(*p))
                        p++;
        }

        if (!m)
                goto finish;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *fname = rule_field_to_string(fields[i].field);

                switch (rule_field_type(fields[i].field)) {
                case 'q':
                        r = sd_bus_message_append(m, "{sv}", fname, "q", (uint16_t) fields[i].u);
                        break;
                case 'u':
                        r = sd_bus_message_append(m, "{sv}", fname, "u", (uint32_t) fields[i].u);
                        break;
                case 'i':
                        r = sd_bus_message_append(m, "{sv}", fname, "i", fields[i].i);
                        break;
                default:
                        r = sd_bus_message_append(m, "{sv}", fname, "s", fields[i].s);
                }
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);

finish:
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                free(fields[i].s);
        return r;
}

static bool needs_quotes(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || is_blank(s[0]) || is_blank(s[n - 1]) || s[0] == '"')
                return true;
        return strpbrk(s, ",\"\\") != NULL;
}

static void print_value(FILE *f, const HdRuleField *field) {
        switch (field->type) {
        case 'q':
                fprintf(f, "%04" PRIx64, field->number);
                break;
        case 'u':
                fprintf(f, "%06" PRIx64, field->number);
                break;
        case 'i':
                fprintf(f, "%" PRIi64, field->number);
                break;
        case 's':
                if (!needs_quotes(field->string)) {
                        fputs(field->string, f);
                        break;
                }
                fputc('"', f);
                for (const char *p = field->string; *p; p++) {
                        if (*p == '"' || *p == '\\')
                                fputc('\\', f);
                        fputc(*p, f);
                }
                fputc('"', f);
                break;
        default:
                fputs("?", f);
        }
}

char *rule_to_string(const HdRule *rule) {
        _cleanup_free_ size_t *order = field_order(rule);
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!order)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < rule->n_fields; i++) {
                fprintf(f, "%s%s=", i > 0 ? ", " : "", rule->fields[order[i]].name);
                print_value(f, rule->fields + order[i]);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

void json_write_rule(JsonWriter *w, const HdRule *rule) {
        _cleanup_free_ size_t *order = field_order(rule);

        json_begin_object(w);
        for (size_t i = 0; i < rule->n_fields; i++) {
                /* Without memory for the order, the daemon's order will do. */
                const HdRuleField *f = rule->fields + (order ? order[i] : i);
                char hex[16];

                json_key(w, f->name);
                switch (f->type) {
                case 'q':
                case 'u':
                        snprintf(hex, sizeof(hex), f->type == 'q' ? "%04" PRIx64 : "%06" PRIx64, f->number);
                        json_string(w, hex);
                        break;
                case 'i':
                        json_int(w, f->number);
                        break;
                case 's':
                        json_string(w, f->string);
                        break;
                default:
                        json_null(w);
                }
        }
        json_end_object(w);
}
