/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdio_ext.h>

#include "common/address.h"
#include "model/usb-member.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "shared/text.h"
#include "record.h"
#include "model/sriov-pool.h"

#define KEY_GROUP_PREFIX "group/"
#define KEY_PREPARED_PREFIX "prepared/"
#define KEY_REBOOT "reboot"
#define KEY_SRIOV_PREFIX "sriov/"
#define KEY_MDEV_PREFIX "mdev/"
#define KEY_CLAIM_PREFIX "claim/"
#define KEY_USB_PREPARED_PREFIX "usb-prepared/"
/* Stored VF counts stay within what PCI can address. */
#define SRIOV_NUM_VFS_MAX 65535
/* Every record but the version ends with "check=XXXXXXXX\n": the CRC-32
 * of its key, a NUL and the lines before it. */
#define CHECK_PREFIX "check="
#define CHECK_LINE_LEN (sizeof(CHECK_PREFIX) - 1 + 8 + 1)
/* Serials, drivers, boot ids and reboot reasons are not typed by users;
 * bound them anyway. */
#define TEXT_MAX 4096
#define DRIVER_MAX 255

/* A byte at a time from a table: every save checks every record, and a
 * pool's group record holds one rule per member. */
static const uint32_t *crc32_table(void) {
        static uint32_t table[256];
        static bool done;

        if (!done) {
                for (uint32_t i = 0; i < 256; i++) {
                        uint32_t c = i;

                        for (int k = 0; k < 8; k++)
                                c = (c >> 1) ^ (0xedb88320u & -(c & 1u));
                        table[i] = c;
                }
                done = true;
        }
        return table;
}

static uint32_t crc32_update(uint32_t crc, const void *data, size_t n) {
        const uint32_t *table = crc32_table();
        const unsigned char *p = data;

        crc = ~crc;
        for (size_t i = 0; i < n; i++)
                crc = (crc >> 8) ^ table[(crc ^ p[i]) & 0xff];
        return ~crc;
}

static uint32_t record_check(const char *key, const char *body, size_t n) {
        return crc32_update(crc32_update(0, key, strlen(key) + 1), body, n);
}

/* ---- writing ---------------------------------------------------------- */

/* Values are text with '%XX' escapes for anything that could be taken
 * for structure (newlines, separators) or is not printable. */
static bool needs_escape(unsigned char c) {
        return c < 0x20 || c == 0x7f || strchr("%=,\n", c);
}

static int escape(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (needs_escape(*p))
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
        return 0;
}

/* What fprintf("%" PRIi32) writes, without parsing a format for each of
 * the thousands of numbers in a large group's rules. */
static void put_decimal(FILE *f, bool negative, uint64_t v) {
        char buf[24], *p = buf + sizeof buf;

        *--p = 0;
        do
                *--p = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        if (negative)
                *--p = '-';
        fputs(p, f);
}

static int serialize_rule(FILE *f, const Rule *r) {
        bool first = true;

        fputs("rule=", f);
        for (RuleField k = 0; k < _RULE_FIELD_MAX; k++) {
                RuleValue v;

                if (!rule_has(r, k))
                        continue;
                v = rule_get(r, k);
                if (!first)
                        fputc(',', f);
                fputs(rule_field_to_string(k), f);
                fputc(':', f);
                first = false;
                if (v.type == 's')
                        escape(f, v.s);
                else if (v.type == 'i')
                        put_decimal(f, v.i < 0, v.i < 0 ? -(uint64_t) v.i : (uint64_t) v.i);
                else
                        put_decimal(f, false, v.u);
        }
        fputc('\n', f);
        return 0;
}

static char *serialize_group(const ResourceGroup *g) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        /* One character at a time, and only this thread sees the stream. */
        (void) __fsetlocking(f, FSETLOCKING_BYCALLER);
        fputs("name=", f), escape(f, g->name), fputc('\n', f);
        fputs("description=", f), escape(f, strempty(g->description)), fputc('\n', f);
        fputs("class=", f), escape(f, strempty(g->class_hint)), fputc('\n', f);
        fprintf(f, "type=%s\n", resource_type_to_string(g->type));
        for (size_t i = 0; i < g->n_rules; i++)
                serialize_rule(f, &g->rules[i]);
        if (!isempty(g->tenant)) {
                fputs("tenant=", f), escape(f, g->tenant), fputc('\n', f);
                fputs("parent=", f), escape(f, strempty(g->parent)), fputc('\n', f);
        }
        /* Only when not the default, so that older stores and older readers agree. */
        if (g->keep_prepared)
                fputs("return-to-host=no\n", f);
        for (size_t i = 0; i < g->n_known; i++) {
                fputs("known=", f), escape(f, g->known_serials[i]);
                fputc(',', f), escape(f, g->known_addresses[i]), fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static char *serialize_prepared(const Prepared *p) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (p->serial)
                fputs("serial=", f), escape(f, p->serial), fputc('\n', f);
        fprintf(f, "ids=%04x:%04x\n", p->vendor_id, p->product_id);
        fputs("original-driver=", f), escape(f, p->original_driver), fputc('\n', f);
        fprintf(f, "releasing=%d\n", p->releasing);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* A prepared USB device: one "interface=<name>/<driver it had>" line per
 * interface ("2-1:1.0/usb-storage"; "2-1:1.0/" when it had none). */
static char *serialize_usb_prepared(const UsbPrepared *p) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (p->serial)
                fputs("serial=", f), escape(f, p->serial), fputc('\n', f);
        fprintf(f, "ids=%04x:%04x\n", p->vendor_id, p->product_id);
        for (char **i = p->interfaces; i && i[0] && i[1]; i += 2) {
                fputs("interface=", f), escape(f, i[0]), fputc('/', f), escape(f, i[1]), fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static char *serialize_reboot(const RebootState *r) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputs("boot-id=", f), escape(f, strempty(r->boot_id)), fputc('\n', f);
        for (size_t i = 0; r->reasons && r->reasons[i] && r->reasons[i + 1]; i += 2) {
                fputs("reason=", f), escape(f, r->reasons[i]);
                fputc(',', f), escape(f, r->reasons[i + 1]), fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* consumer, group, since, lease, prepared, then one "member=" line per
 * member: its addresses, comma-separated; then "identity=ADDRESS,IDENTITY"
 * for each USB member (usb-member.h), which stores before it lack. */
static char *serialize_claim(const Claim *c) {
        _cleanup_free_ char *lease = claim_lease_to_string(&c->lease);
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!lease)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        fputs("consumer=", f), escape(f, c->consumer), fputc('\n', f);
        fputs("group=", f), escape(f, c->resource_group), fputc('\n', f);
        fprintf(f, "since=%" PRIu64 "\n", c->since);
        fputs("lease=", f), escape(f, lease), fputc('\n', f);
        fprintf(f, "prepared=%d\n", c->prepared);
        for (size_t i = 0; i < c->n_members; i++) {
                fputs("member=", f);
                for (char **a = c->members[i].addresses; a && *a; a++)
                        fputs(a == c->members[i].addresses ? "" : ",", f), escape(f, *a);
                fputc('\n', f);
        }
        /* sriov-nic: the MAC and VLAN it gave its VFs, "vf=ADDRESS,MAC,VLAN". */
        for (size_t i = 0; c->vf_settings && i < c->vf_settings->n_items; i++) {
                _cleanup_free_ char *vf = claim_vf_to_string(c->vf_settings->items + i);

                /* Addresses, MACs and numbers: nothing to escape. */
                if (vf)
                        fprintf(f, "vf=%s\n", vf);
        }
        for (size_t i = 0; i < c->n_members; i++)
                if (c->members[i].identity && strv_length(c->members[i].addresses) == 1) {
                        fputs("identity=", f), escape(f, c->members[i].addresses[0]);
                        fputc(',', f), escape(f, c->members[i].identity), fputc('\n', f);
                }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static char *serialize_mdev(const MdevRecord *m) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputs("type=", f), escape(f, m->type), fputc('\n', f);
        fputs("parent=", f), escape(f, m->parent), fputc('\n', f);
        if (m->serial)
                fputs("serial=", f), escape(f, m->serial), fputc('\n', f);
        if (m->claim)
                fputs("claim=", f), escape(f, m->claim), fputc('\n', f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* "vf=3;mac=52:54:00:00:00:01;vlan=10;trust=1": only the fields set;
 * every value is digits, hex and ':' or a link state word, unescaped. */
static void serialize_vf(FILE *f, const VfSettings *s) {
        char mac[18];

        fprintf(f, "vf=%u", s->index);
        if (s->has_mac)
                fprintf(f, ";mac=%s", vf_mac_format(s->mac, mac));
        if (s->vlan >= 0)
                fprintf(f, ";vlan=%d", s->vlan);
        if (s->qos >= 0)
                fprintf(f, ";qos=%d", s->qos);
        if (s->trust >= 0)
                fprintf(f, ";trust=%d", s->trust);
        if (s->spoofchk >= 0)
                fprintf(f, ";spoofchk=%d", s->spoofchk);
        if (s->link_state != VF_LINK_UNSET)
                fprintf(f, ";link-state=%s", vf_link_state_to_string(s->link_state));
        if (s->max_tx_rate >= 0)
                fprintf(f, ";max-tx-rate=%" PRId64, s->max_tx_rate);
        if (s->min_tx_rate >= 0)
                fprintf(f, ";min-tx-rate=%" PRId64, s->min_tx_rate);
        fputc('\n', f);
}

static char *serialize_sriov(const SriovConfig *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (c->pf_serial)
                fputs("serial=", f), escape(f, c->pf_serial), fputc('\n', f);
        fprintf(f, "num-vfs=%u\n", c->num_vfs);
        if (c->autoprobe >= 0)
                fprintf(f, "autoprobe=%d\n", c->autoprobe);
        for (size_t i = 0; i < c->n_vfs; i++)
                serialize_vf(f, &c->vfs[i]);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static int add_record(char ***l, const char *key, char *body) {
        _cleanup_free_ char *b = body, *v = NULL;

        if (!b || asprintf(&v, "%s" CHECK_PREFIX "%08" PRIx32 "\n", b, record_check(key, b, strlen(b))) < 0)
                return -ENOMEM;
        if (strv_extend(l, key) < 0 || strv_extend(l, v) < 0)
                return -ENOMEM;
        return 0;
}

/* A record whose key is a prefix and a name ("group/<id>"). */
static int add_named_record(char ***l, const char *prefix, const char *name, char *body) {
        _cleanup_free_ char *key = NULL;

        if (asprintf(&key, "%s%s", prefix, name) < 0) {
                free(body);
                return -ENOMEM;
        }
        return add_record(l, key, body);
}

void record_cache_done(RecordCache *c) {
        strv_free(c->records);
        free(c->hashes);
        *c = (RecordCache) {};
}

/* FNV-1a, 64 bits. */
#define HASH_START UINT64_C(0xcbf29ce484222325)

/* FNV-1a's step on eight bytes at a time, each followed by a shift that
 * folds the high bits back: a pool's rules are tens of KiB, hashed at
 * every save. Every step is a bijection of h for a given input. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
        const unsigned char *c = p;

        for (; n >= 8; n -= 8, c += 8) {
                uint64_t w;

                memcpy(&w, c, sizeof w);
                h = (h ^ w) * UINT64_C(0x100000001b3);
                h ^= h >> 29;
        }
        for (; n > 0; n--, c++)
                h = (h ^ *c) * UINT64_C(0x100000001b3);
        return h;
}

static uint64_t hash_string(uint64_t h, const char *s) {
        return hash_bytes(h, strempty(s), strlen(strempty(s)) + 1);
}

static uint64_t hash_number(uint64_t h, uint64_t v) {
        return hash_bytes(h, &v, sizeof v);
}

/* Everything serialize_group() writes, read the way it reads it. */
static uint64_t hash_group(const ResourceGroup *g) {
        uint64_t h = HASH_START;

        h = hash_string(h, g->name);
        h = hash_string(h, g->description);
        h = hash_string(h, g->class_hint);
        h = hash_number(h, (uint64_t) g->type);
        h = hash_number(h, g->n_rules);
        for (size_t i = 0; i < g->n_rules; i++) {
                const Rule *r = &g->rules[i];

                /* Which fields, then every numeric field at once, present
                 * or not: hashing more than the record holds can only make
                 * a save serialize the group again. */
                h = hash_number(h, r->fields);
                h = hash_bytes(h, &r->vendor_id, offsetof(Rule, strings) - offsetof(Rule, vendor_id));
                for (RuleField k = 0; k < _RULE_FIELD_MAX; k++)
                        if (r->strings[k])
                                h = hash_string(hash_number(h, k), r->strings[k]);
        }
        h = hash_string(h, g->tenant);
        h = hash_string(h, g->parent);
        h = hash_number(h, g->keep_prepared);
        h = hash_number(h, g->n_known);
        for (size_t i = 0; i < g->n_known; i++) {
                h = hash_string(h, g->known_serials[i]);
                h = hash_string(h, g->known_addresses[i]);
        }
        return h;
}

static const char *cache_find(const RecordCache *c, const char *key, uint64_t hash) {
        for (size_t i = 0; c && i < c->n; i++)
                if (c->hashes[i] == hash && streq(c->records[2 * i], key))
                        return c->records[2 * i + 1];
        return NULL;
}

static int cache_add(RecordCache *c, const char *key, const char *value, uint64_t hash) {
        uint64_t *h = reallocarray(c->hashes, c->n + 1, sizeof(uint64_t));

        if (!h)
                return -ENOMEM;
        c->hashes = h;
        if (strv_extend(&c->records, key) < 0 || strv_extend(&c->records, value) < 0)
                return -ENOMEM;
        c->hashes[c->n++] = hash;
        return 0;
}

/* A group's record, from old when it holds the group as it is now. */
static int add_group(char ***l, const ResourceGroup *g, const RecordCache *old, RecordCache *new) {
        _cleanup_free_ char *key = NULL;
        uint64_t hash = new ? hash_group(g) : 0;
        const char *value;
        int r;

        if (asprintf(&key, KEY_GROUP_PREFIX "%s", g->id) < 0)
                return -ENOMEM;
        value = cache_find(old, key, hash);
        if (value)
                r = strv_extend(l, key) < 0 || strv_extend(l, value) < 0 ? -ENOMEM : 0;
        else
                r = add_record(l, key, serialize_group(g));
        if (r >= 0 && new)
                r = cache_add(new, key, (*l)[strv_length(*l) - 1], hash);
        return r;
}

int record_serialize_state(const StoreState *state, char ***ret) {
        return record_serialize_state_cached(state, NULL, ret);
}

int record_serialize_state_cached(const StoreState *state, RecordCache *cache, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_(record_cache_done) RecordCache new = {};
        char version[16];
        int r = 0;

        snprintf(version, sizeof version, "%d", STORE_SCHEMA_VERSION);
        if (strv_extend(&l, RECORD_KEY_VERSION) < 0 || strv_extend(&l, version) < 0)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < state->resources->n_groups; i++)
                r = add_group(&l, state->resources->groups[i], cache, cache ? &new : NULL);
        for (size_t i = 0; r >= 0 && i < state->prepared->n_items; i++) {
                const Prepared *p = &state->prepared->items[i];

                r = add_named_record(&l, KEY_PREPARED_PREFIX, p->address, serialize_prepared(p));
        }
        for (size_t i = 0; r >= 0 && state->sriov && i < state->sriov->n_items; i++) {
                const SriovConfig *c = &state->sriov->items[i];

                r = add_named_record(&l, KEY_SRIOV_PREFIX, c->pf_address, serialize_sriov(c));
        }
        for (size_t i = 0; r >= 0 && state->mdevs && i < state->mdevs->n_items; i++) {
                const MdevRecord *m = &state->mdevs->items[i];

                r = add_named_record(&l, KEY_MDEV_PREFIX, m->uuid, serialize_mdev(m));
        }
        for (size_t i = 0; r >= 0 && state->claims && i < state->claims->n_claims; i++) {
                const Claim *c = state->claims->claims[i];

                r = add_named_record(&l, KEY_CLAIM_PREFIX, c->id, serialize_claim(c));
        }
        /* A claim still being prepared is stored with its devices' intent:
         * after a crash start-up completes it like any other, so no device
         * is ever prepared for nobody. */
        for (size_t i = 0; r >= 0 && state->claims && i < state->claims->n_pending; i++) {
                const Claim *c = state->claims->pending[i];

                r = add_named_record(&l, KEY_CLAIM_PREFIX, c->id, serialize_claim(c));
        }
        for (size_t i = 0; r >= 0 && state->usb_prepared && i < state->usb_prepared->n_items; i++) {
                const UsbPrepared *p = &state->usb_prepared->items[i];

                r = add_named_record(&l, KEY_USB_PREPARED_PREFIX, p->address, serialize_usb_prepared(p));
        }
        if (r >= 0 && state->reboot->reasons)
                r = add_record(&l, KEY_REBOOT, serialize_reboot(state->reboot));
        if (r < 0)
                return r;
        if (cache) {
                record_cache_done(cache);
                *cache = new;
                new = (RecordCache) {};
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- reading ---------------------------------------------------------- */

/* Each parser returns -EINVAL with *reason (a phrase) for a record that
 * is not what a save writes, or -ENOMEM. */

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Exactly what escape() writes: anything it escapes must be escaped. */
static int unescape(const char *s, size_t n, char **ret, char **reason) {
        _cleanup_free_ char *r = malloc(n + 1);
        char *o = r;

        if (!r)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int hi, lo;

                if (s[i] != '%') {
                        if (needs_escape((unsigned char) s[i]))
                                return error_setf(reason, "a value holds an unescaped character");
                        *o++ = s[i];
                        continue;
                }
                if (i + 2 >= n || (hi = unhex(s[i + 1])) < 0 || (lo = unhex(s[i + 2])) < 0 ||
                    (hi == 0 && lo == 0))
                        return error_setf(reason, "a value holds a malformed escape");
                *o++ = (char) (hi << 4 | lo);
                i += 2;
        }
        *o = 0;
        *ret = TAKE_PTR(r);
        return 0;
}

/* "key=value\n" lines into key, raw value, …: every line ends in '\n'. */
static int split_lines(const char *body, char ***ret, char **reason) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (const char *p = body; *p; ) {
                const char *nl = strchr(p, '\n'), *eq;
                _cleanup_free_ char *k = NULL, *v = NULL;

                if (!nl)
                        return error_setf(reason, "its last line is cut short");
                eq = memchr(p, '=', (size_t) (nl - p));
                if (!eq || eq == p)
                        return error_setf(reason, "a line is not 'field=value'");
                k = strndup(p, (size_t) (eq - p));
                v = strndup(eq + 1, (size_t) (nl - eq - 1));
                if (!k || !v || strv_extend(&l, k) < 0 || strv_extend(&l, v) < 0)
                        return -ENOMEM;
                p = nl + 1;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int set_once(char **field, const char *raw, const char *name, char **reason) {
        if (*field)
                return error_setf(reason, "field '%s' is given twice", name);
        return unescape(raw, strlen(raw), field, reason);
}

static int unknown_field(const char *name, char **reason) {
        char buf[TEXT_EXCERPT_MAX];

        return error_setf(reason, "unknown field '%s'", text_excerpt(name, buf));
}

/* Serials come from the devices: any bytes but NUL (they are escaped). */
static bool serial_ok(const char *s) {
        return !isempty(s) && strlen(s) <= TEXT_MAX;
}

static bool text_ok(const char *s, size_t max) {
        return !isempty(s) && strlen(s) <= max && utf8_is_valid(s) && !text_has_control(s);
}

/* A driver name ends up in a sysfs path: no '/', no "." or "..". */
static bool driver_ok(const char *s) {
        return isempty(s) || (text_ok(s, DRIVER_MAX) && !strchr(s, '/') && !streq(s, ".") && !streq(s, ".."));
}

/* Decimal as serialize_rule() writes it; 'i' may be negative. */
static int parse_number(const char *s, char type, RuleValue *v) {
        const char *digits = s + (type == 'i' && *s == '-');
        long long x;
        char *end;

        if (!*digits || digits[strspn(digits, "0123456789")] != 0 || strlen(digits) > 10)
                return -EINVAL;
        errno = 0;
        x = strtoll(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        if (type == 'i') {
                if (x < INT32_MIN || x > INT32_MAX)
                        return -EINVAL;
                v->i = (int32_t) x;
        } else {
                if (x > UINT32_MAX)
                        return -EINVAL;
                v->u = (uint32_t) x;
        }
        return 0;
}

/* "field:value,field:value" with escaped values; checked by the model's
 * rule_set() and rule_validate(), as the bus checks a rule it is given. */
static int parse_rule(ResourceType type, const char *s, Rule *ret, char **reason) {
        _cleanup_(rule_done) Rule rule = {};
        _cleanup_free_ char *msg = NULL;
        char buf[TEXT_EXCERPT_MAX];
        int r;

        while (*s) {
                size_t n = strcspn(s, ","), k = strcspn(s, ":");
                _cleanup_free_ char *key = NULL, *val = NULL;
                RuleField field;
                RuleValue v = {};

                if (k >= n)
                        return error_setf(reason, "a rule field is not 'name:value'");
                key = strndup(s, k);
                if (!key)
                        return -ENOMEM;
                r = unescape(s + k + 1, n - k - 1, &val, reason);
                if (r < 0)
                        return r;
                field = rule_field_from_string(key);
                if ((int) field < 0)
                        return error_setf(reason, "unknown rule field '%s'", text_excerpt(key, buf));
                v.type = rule_field_type(field);
                if (v.type == 's')
                        v.s = val;
                else if (parse_number(val, v.type, &v) < 0)
                        return error_setf(reason, "rule field '%s' is not a number", key);
                r = rule_set(&rule, type, key, &v, &msg);
                if (r < 0)
                        return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
                s += n;
                if (*s == ',' && !*++s)
                        return error_setf(reason, "a rule ends in ','");
        }
        r = rule_validate(&rule, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
        *ret = rule;
        rule = (Rule) {};
        return 0;
}

/* "serial,address": a member the group knew, to tell a moved device. */
static int parse_known(ResourceGroup *g, const char *raw, char **reason) {
        _cleanup_free_ char *serial = NULL, *address = NULL, *canonical = NULL;
        size_t c = strcspn(raw, ",");
        DeviceKind kind;
        Device probe = {};
        int r;

        if (!raw[c])
                return error_setf(reason, "a known member is not 'serial,address'");
        r = unescape(raw, c, &serial, reason);
        if (r >= 0)
                r = unescape(raw + c + 1, strlen(raw + c + 1), &address, reason);
        if (r < 0)
                return r;
        if (!serial_ok(serial))
                return error_setf(reason, "a known member's serial is empty or too long");
        r = address_parse(address, &kind, &canonical);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(canonical, address))
                return error_setf(reason, "a known member's address is not a device address");
        probe = (Device) { .kind = kind, .address = address, .serial = serial };
        r = resource_group_note_member(g, &probe, NULL);
        if (r < 0)
                return r;
        return r > 0 ? error_setf(reason, "a known member is listed twice") : 0;
}

/* A group as the bus would accept it: id, name, description and class
 * through the model's validators, the type one of the known ones, each
 * rule through rule_set(). */
static int parse_group(const char *id, const char *body, ResourceGroup **ret, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *name = NULL, *desc = NULL, *class_hint = NULL, *type_name = NULL, *msg = NULL,
                            *tenant = NULL, *parent = NULL, *return_to_host = NULL;
        _cleanup_(resource_group_freep) ResourceGroup *g = NULL;
        ResourceType type;
        size_t n_rules = 0;
        char buf[TEXT_EXCERPT_MAX];
        int r;

        r = resource_id_validate(id, &msg);
        if (r < 0)
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                const char *k = kv[i], *v = kv[i + 1];

                if (streq(k, "name"))
                        r = set_once(&name, v, k, reason);
                else if (streq(k, "description"))
                        r = set_once(&desc, v, k, reason);
                else if (streq(k, "class"))
                        r = set_once(&class_hint, v, k, reason);
                else if (streq(k, "type"))
                        r = set_once(&type_name, v, k, reason);
                else if (streq(k, "tenant"))
                        r = set_once(&tenant, v, k, reason);
                else if (streq(k, "parent"))
                        r = set_once(&parent, v, k, reason);
                else if (streq(k, "return-to-host"))
                        r = set_once(&return_to_host, v, k, reason);
                else if (streq(k, "rule"))
                        n_rules++;
                else if (!streq(k, "known"))
                        r = unknown_field(k, reason);
                if (r < 0)
                        return r;
        }
        if (!name || !desc || !class_hint || !type_name)
                return error_setf(reason, "a group needs the fields name, description, class and type");
        if ((r = resource_name_validate(name, &msg)) < 0 ||
            (r = resource_description_validate(desc, &msg)) < 0)
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
        if ((r = resource_description_validate(class_hint, &msg)) < 0)
                return r == -ENOMEM ? r : error_setf(reason, "class: %s", strempty(msg));
        type = resource_type_from_string(type_name);
        if (type < 0)
                return error_setf(reason, "unknown group type '%s'", text_excerpt(type_name, buf));
        if (!tenant != !parent)
                return error_setf(reason, "a tenant's group needs both tenant and parent");
        if (return_to_host && !streq(return_to_host, "yes") && !streq(return_to_host, "no"))
                return error_setf(reason, "return-to-host is '%s', not yes or no",
                                  text_excerpt(return_to_host, buf));
        if (tenant && ((r = tenant_validate(tenant, &msg)) < 0 || (r = resource_id_validate(parent, &msg)) < 0))
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));

        g = resource_group_new(id, name, type);
        if (!g)
                return -ENOMEM;
        /* resource_group_new gave them empty strings. */
        free(g->description);
        free(g->class_hint);
        g->description = TAKE_PTR(desc);
        g->class_hint = TAKE_PTR(class_hint);
        if (tenant && resource_group_set_tenant(g, tenant, parent) < 0)
                return -ENOMEM;
        g->keep_prepared = streq_ptr(return_to_host, "no");
        g->rules = calloc(n_rules + 1, sizeof(Rule));
        if (!g->rules)
                return -ENOMEM;
        for (size_t i = 0; kv[i]; i += 2) {
                if (streq(kv[i], "rule")) {
                        r = parse_rule(type, kv[i + 1], &g->rules[g->n_rules], reason);
                        if (r >= 0)
                                g->n_rules++;
                } else if (streq(kv[i], "known"))
                        r = parse_known(g, kv[i + 1], reason);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

static bool hex_ok(const char *s, size_t n) {
        return strspn(s, "0123456789abcdef") >= n;
}

static int parse_prepared(const char *address, const char *body, PreparedSet *set, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *canonical = NULL, *serial = NULL, *ids = NULL, *driver = NULL, *releasing = NULL;
        Device probe = {};
        unsigned v = 0, p = 0;
        int r;

        r = pci_address_parse(address, &canonical);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(canonical, address))
                return error_setf(reason, "the key does not end in a PCI address");
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                const char *k = kv[i];

                if (streq(k, "serial"))
                        r = set_once(&serial, kv[i + 1], k, reason);
                else if (streq(k, "ids"))
                        r = set_once(&ids, kv[i + 1], k, reason);
                else if (streq(k, "original-driver"))
                        r = set_once(&driver, kv[i + 1], k, reason);
                else if (streq(k, "releasing"))
                        r = set_once(&releasing, kv[i + 1], k, reason);
                else
                        r = unknown_field(k, reason);
                if (r < 0)
                        return r;
        }
        if (!ids || !driver || !releasing)
                return error_setf(reason, "a prepared device needs the fields ids, original-driver and releasing");
        if (serial && !serial_ok(serial))
                return error_setf(reason, "the serial is empty or too long");
        if (strlen(ids) != 9 || ids[4] != ':' || !hex_ok(ids, 4) || !hex_ok(ids + 5, 4) ||
            sscanf(ids, "%4x:%4x", &v, &p) != 2)
                return error_setf(reason, "ids is not 'vvvv:pppp'");
        if (!driver_ok(driver))
                return error_setf(reason, "original-driver is not a driver name");
        if (!streq(releasing, "0") && !streq(releasing, "1"))
                return error_setf(reason, "releasing is neither 0 nor 1");

        probe = (Device) { .address = canonical, .serial = serial,
                           .vendor_id = (uint16_t) v, .product_id = (uint16_t) p };
        r = prepared_add(set, &probe, driver);
        if (r == -EEXIST)
                return error_setf(reason, "the device is recorded twice");
        if (r < 0)
                return r;
        prepared_find(set, canonical)->releasing = streq(releasing, "1");
        return 0;
}

static int parse_usb_interface(const char *value, char ***interfaces, char **reason) {
        _cleanup_free_ char *v = NULL;
        char *slash;
        int r;

        r = unescape(value, strlen(value), &v, reason);
        if (r < 0)
                return r;
        slash = strchr(v, '/');
        if (!slash)
                return error_setf(reason, "an interface is not '<name>/<driver>'");
        *slash = 0;
        if (usb_interface_parse(v, NULL) < 0)
                return error_setf(reason, "an interface name is not a USB interface such as 2-1:1.0");
        if (!driver_ok(slash + 1))
                return error_setf(reason, "an interface's driver is not a driver name");
        if (strv_extend(interfaces, v) < 0 || strv_extend(interfaces, slash + 1) < 0)
                return -ENOMEM;
        return 0;
}

static int parse_usb_prepared(const char *address, const char *body, UsbPreparedSet *set, char **reason) {
        _cleanup_strv_free_ char **kv = NULL, **interfaces = NULL;
        _cleanup_free_ char *canonical = NULL, *serial = NULL, *ids = NULL;
        unsigned v = 0, p = 0;
        int r;

        r = usb_address_parse(address, &canonical);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(canonical, address))
                return error_setf(reason, "the key does not end in a USB port path");
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                const char *k = kv[i];

                if (streq(k, "serial"))
                        r = set_once(&serial, kv[i + 1], k, reason);
                else if (streq(k, "ids"))
                        r = set_once(&ids, kv[i + 1], k, reason);
                else if (streq(k, "interface"))
                        r = parse_usb_interface(kv[i + 1], &interfaces, reason);
                else
                        r = unknown_field(k, reason);
                if (r < 0)
                        return r;
        }
        if (!ids)
                return error_setf(reason, "a prepared USB device needs the field ids");
        if (serial && !serial_ok(serial))
                return error_setf(reason, "the serial is empty or too long");
        if (strlen(ids) != 9 || ids[4] != ':' || !hex_ok(ids, 4) || !hex_ok(ids + 5, 4) ||
            sscanf(ids, "%4x:%4x", &v, &p) != 2)
                return error_setf(reason, "ids is not 'vvvv:pppp'");
        if (!set)
                return 0;
        r = usb_prepared_add_record(set, &(UsbPrepared) { .address = canonical, .serial = serial,
                                                          .vendor_id = (uint16_t) v, .product_id = (uint16_t) p,
                                                          .interfaces = interfaces });
        if (r == -EEXIST)
                return error_setf(reason, "the device is recorded twice");
        return r;
}

static int parse_reboot(const char *body, RebootState *reboot, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *boot_id = NULL;
        int r;

        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                if (streq(kv[i], "boot-id"))
                        r = set_once(&boot_id, kv[i + 1], kv[i], reason);
                else if (!streq(kv[i], "reason"))
                        r = unknown_field(kv[i], reason);
                if (r < 0)
                        return r;
        }
        if (!boot_id || (*boot_id && !text_ok(boot_id, 64)))
                return error_setf(reason, "boot-id is missing or not a boot id");
        for (size_t i = 0; kv[i]; i += 2) {
                const char *raw = kv[i + 1];
                _cleanup_free_ char *subject = NULL, *why = NULL;
                size_t c = strcspn(raw, ",");

                if (!streq(kv[i], "reason"))
                        continue;
                if (!raw[c])
                        return error_setf(reason, "a reason is not 'subject,reason'");
                r = unescape(raw, c, &subject, reason);
                if (r >= 0)
                        r = unescape(raw + c + 1, strlen(raw + c + 1), &why, reason);
                if (r < 0)
                        return r;
                /* Reasons are sentences the daemon wrote; they may span lines. */
                if (!text_ok(subject, TEXT_MAX) || isempty(why) || strlen(why) > TEXT_MAX || !utf8_is_valid(why))
                        return error_setf(reason, "a reason is empty, too long or not UTF-8");
                r = reboot_state_add(reboot, boot_id, subject, why);
                if (r < 0)
                        return r;
                if (r == 0)
                        return error_setf(reason, "a reason is listed twice");
        }
        if (!reboot->reasons)
                return error_setf(reason, "it holds no reason");
        return 0;
}

/* "a,b,c": a member's device addresses, each canonical. */
static int parse_member(Claim *c, const char *raw, char **reason) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        for (const char *p = raw;;) {
                _cleanup_free_ char *a = NULL, *canonical = NULL;
                size_t n = strcspn(p, ",");
                DeviceKind kind;

                r = unescape(p, n, &a, reason);
                if (r < 0)
                        return r;
                r = address_parse(a, &kind, &canonical);
                if (r == -ENOMEM)
                        return r;
                /* A vgpu claim's member may be a mediated device's UUID. */
                if ((r < 0 || !streq(canonical, a)) &&
                    !(mdev_uuid_valid(a) && !a[strspn(a, "0123456789abcdef-")]))
                        return error_setf(reason, "a member holds something that is no device address");
                if (strv_extend(&l, a) < 0)
                        return -ENOMEM;
                if (!p[n])
                        break;
                p += n + 1;
        }
        return claim_add_member(c, (const char *const *) l, strv_length(l));
}

/* "ADDRESS,IDENTITY": the identity of the USB member at ADDRESS. */
static int parse_identity(Claim *c, const char *raw, char **reason) {
        _cleanup_free_ char *address = NULL, *identity = NULL;
        size_t n = strcspn(raw, ",");
        int r;

        if (!raw[n])
                return error_setf(reason, "an identity names no member");
        r = unescape(raw, n, &address, reason);
        if (r >= 0)
                r = unescape(raw + n + 1, strlen(raw + n + 1), &identity, reason);
        if (r < 0)
                return r;
        if (!usb_identity_valid(identity))
                return error_setf(reason, "an identity is not vendor:product[:serial]");
        for (size_t i = 0; i < c->n_members; i++) {
                ClaimMember *m = c->members + i;

                if (strv_length(m->addresses) != 1 || !streq(m->addresses[0], address))
                        continue;
                if (m->identity || usb_address_parse(address, NULL) < 0)
                        return error_setf(reason, "an identity is given twice or for no USB device");
                m->identity = TAKE_PTR(identity);
                return 0;
        }
        return error_setf(reason, "an identity names no member");
}

/* A claim as ResourceGroup.Claim makes it: its id, consumer and lease
 * through the model's validators, members of device addresses, no device
 * in two claims. */
static int parse_claim(const char *id, const char *body, ClaimSet *set, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *consumer = NULL, *group = NULL, *since = NULL, *lease_text = NULL, *prepared = NULL,
                            *msg = NULL;
        _cleanup_(claim_freep) Claim *c = NULL;
        _cleanup_(claim_lease_done) ClaimLease lease = {};
        _cleanup_(claim_set_done) ClaimSet scratch = {};
        uint64_t t;
        char *end;
        int r;

        if (!claim_id_valid(id))
                return error_setf(reason, "the key does not end in a claim id");
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                const char *k = kv[i], *v = kv[i + 1];

                if (streq(k, "consumer"))
                        r = set_once(&consumer, v, k, reason);
                else if (streq(k, "group"))
                        r = set_once(&group, v, k, reason);
                else if (streq(k, "since"))
                        r = set_once(&since, v, k, reason);
                else if (streq(k, "lease"))
                        r = set_once(&lease_text, v, k, reason);
                else if (streq(k, "prepared"))
                        r = set_once(&prepared, v, k, reason);
                else if (!streq(k, "member") && !streq(k, "vf") && !streq(k, "identity"))
                        r = unknown_field(k, reason);
                if (r < 0)
                        return r;
        }
        if (!consumer || !group || !since || !lease_text || !prepared)
                return error_setf(reason, "a claim needs the fields consumer, group, since, lease and prepared");
        if ((r = claim_consumer_validate(consumer, &msg)) < 0 || (r = resource_id_validate(group, &msg)) < 0)
                return r == -ENOMEM ? r : error_setf(reason, "%s", strempty(msg));
        errno = 0;
        t = strtoull(since, &end, 10);
        if (errno != 0 || *end || !*since || since[0] == '-')
                return error_setf(reason, "since is not a time");
        r = claim_lease_from_string(lease_text, &lease);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return error_setf(reason, "lease is not '', 'peer:NAME' or 'pid:N'");
        if (!streq(prepared, "0") && !streq(prepared, "1"))
                return error_setf(reason, "prepared is neither 0 nor 1");
        c = claim_new(id, consumer, group, t, &lease);
        if (!c)
                return -ENOMEM;
        c->prepared = streq(prepared, "1");
        for (size_t i = 0; kv[i]; i += 2)
                if (streq(kv[i], "member") && (r = parse_member(c, kv[i + 1], reason)) < 0)
                        return r;
        if (c->n_members == 0)
                return error_setf(reason, "a claim needs a member");
        for (size_t i = 0; kv[i]; i += 2)
                if ((streq(kv[i], "vf") && (r = claim_vf_from_string(c, kv[i + 1], reason)) < 0) ||
                    (streq(kv[i], "identity") && (r = parse_identity(c, kv[i + 1], reason)) < 0))
                        return r;
        if (!set) {
                r = claim_set_init(&scratch);
                if (r < 0)
                        return r;
                set = &scratch;
        } else if (!set->by_device && (r = claim_set_init(set)) < 0)
                return r;
        r = claim_set_add(set, c, NULL);
        if (r == -EEXIST)
                return error_setf(reason, "the claim is recorded twice");
        if (r == -EBUSY)
                return error_setf(reason, "a device of it is in another claim");
        if (r < 0)
                return r;
        TAKE_PTR(c);
        return 0;
}

static int parse_mdev(const char *uuid, const char *body, MdevRecordSet *set, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *type = NULL, *parent = NULL, *serial = NULL, *address = NULL, *claim = NULL,
                            *vf = NULL;
        int r;

        if (!set)
                return error_setf(reason, "no such record is ever written");
        /* A vGPU type on a VF is recorded under the VF's address. */
        if (mdev_key_is_vf(uuid) && pci_address_parse(uuid, &vf) == -ENOMEM)
                return -ENOMEM;
        if (mdev_key_is_vf(uuid) ? !vf || !streq(vf, uuid)
                                 : !mdev_uuid_valid(uuid) || uuid[strspn(uuid, "0123456789abcdef-")])
                return error_setf(reason, "the key does not end in a lower-case UUID or a VF's address");
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                const char *k = kv[i];

                if (streq(k, "type"))
                        r = set_once(&type, kv[i + 1], k, reason);
                else if (streq(k, "parent"))
                        r = set_once(&parent, kv[i + 1], k, reason);
                else if (streq(k, "serial"))
                        r = set_once(&serial, kv[i + 1], k, reason);
                else if (streq(k, "claim"))
                        r = set_once(&claim, kv[i + 1], k, reason);
                else
                        r = unknown_field(k, reason);
                if (r < 0)
                        return r;
        }
        if (!type || !parent)
                return error_setf(reason, "a mediated device needs the fields type and parent");
        if (!mdev_type_id_valid(type))
                return error_setf(reason, "type is not a mediated device type id");
        /* A PCI parent by its address; one on no bus (mtty, ccw, ap) by
         * its device name, one path element like a type id. */
        r = pci_address_parse(parent, &address);
        if (r == -ENOMEM)
                return r;
        if ((r < 0 || !streq(address, parent)) && (strchr(parent, ':') || !mdev_type_id_valid(parent)))
                return error_setf(reason, "parent is neither a PCI address nor a device name");
        if (serial && !serial_ok(serial))
                return error_setf(reason, "the serial is empty or too long");
        if (claim && !claim_id_valid(claim))
                return error_setf(reason, "claim is not a claim id");
        r = mdev_record_add(set, uuid, type, parent, serial);
        if (r == -EEXIST)
                return error_setf(reason, "the mediated device is recorded twice");
        if (r >= 0 && claim)
                r = mdev_record_set_claim(mdev_record_find(set, uuid), claim);
        return r;
}

/* Plain decimal, no sign, no leading zero, at most max. */
static bool parse_decimal(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!*s || (s[0] == '0' && s[1]) || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
                return false;
        for (; *s; s++)
                v = v * 10 + (uint64_t) (*s - '0');
        if (v > max)
                return false;
        *ret = v;
        return true;
}

static int parse_vf(const char *raw, unsigned num_vfs, SriovConfig *c, char **reason) {
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *why = NULL, *spaced = NULL;
        VfSettings s;
        uint64_t v;

        /* Fields are split at ';' and hold no white space. */
        if (strpbrk(raw, " \t\r\v\f") || strstr(raw, ";;") || *raw == ';' || (*raw && raw[strlen(raw) - 1] == ';'))
                return error_setf(reason, "a vf line is not 'vf=INDEX;field=value;…'");
        spaced = strdup(raw);
        if (!spaced)
                return -ENOMEM;
        for (char *p = spaced; *p; p++)
                if (*p == ';')
                        *p = ' ';
        parts = strv_split_whitespace(spaced);
        if (!parts)
                return -ENOMEM;
        vf_settings_init(&s, 0);
        /* The line's value: "INDEX;field=value;…". */
        if (!parts[0] || !parse_decimal(parts[0], SRIOV_NUM_VFS_MAX, &v))
                return error_setf(reason, "a vf line does not start with a VF index");
        s.index = (unsigned) v;
        for (size_t i = 1; parts[i]; i++) {
                const char *eq = strchr(parts[i], '='), *val = eq ? eq + 1 : NULL;
                size_t klen = eq ? (size_t) (eq - parts[i]) : 0;
                bool ok;

#define KEY_IS(k) (klen == strlen(k) && strncmp(parts[i], k, klen) == 0)
                if (!eq)
                        return error_setf(reason, "a vf line is not 'vf=INDEX;field=value;…'");
                if (KEY_IS("mac")) {
                        ok = vf_mac_parse(val, s.mac, NULL) >= 0;
                        s.has_mac = ok;
                } else if (KEY_IS("vlan") && (ok = parse_decimal(val, VF_VLAN_MAX, &v)))
                        s.vlan = (int) v;
                else if (KEY_IS("qos") && (ok = parse_decimal(val, VF_QOS_MAX, &v)))
                        s.qos = (int) v;
                else if (KEY_IS("trust") && (ok = parse_decimal(val, 1, &v)))
                        s.trust = (int) v;
                else if (KEY_IS("spoofchk") && (ok = parse_decimal(val, 1, &v)))
                        s.spoofchk = (int) v;
                else if (KEY_IS("link-state"))
                        ok = (s.link_state = vf_link_state_from_string(val)) != VF_LINK_UNSET;
                else if (KEY_IS("max-tx-rate") && (ok = parse_decimal(val, VF_RATE_MAX, &v)))
                        s.max_tx_rate = (int64_t) v;
                else if (KEY_IS("min-tx-rate") && (ok = parse_decimal(val, VF_RATE_MAX, &v)))
                        s.min_tx_rate = (int64_t) v;
                else
                        ok = false;
#undef KEY_IS
                if (!ok)
                        return error_setf(reason, "a vf line has a bad or unknown field");
        }
        if (vf_settings_validate(&s, num_vfs, &why) < 0)
                return error_setf(reason, "a vf line does not hold: %s", strempty(why));
        if (sriov_config_vf(c, s.index))
                return error_setf(reason, "VF %u is recorded twice", s.index);
        return sriov_config_set_vf(c, &s);
}

static int parse_sriov(const char *address, const char *body, SriovConfigSet *set, char **reason) {
        _cleanup_strv_free_ char **kv = NULL;
        _cleanup_free_ char *canonical = NULL, *serial = NULL, *num = NULL, *autoprobe = NULL;
        SriovConfig *c;
        uint64_t n = 0, a = 0;
        int r;

        r = pci_address_parse(address, &canonical);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(canonical, address))
                return error_setf(reason, "the key does not end in a PCI address");
        r = split_lines(body, &kv, reason);
        if (r < 0)
                return r;
        for (size_t i = 0; kv[i]; i += 2) {
                if (streq(kv[i], "serial"))
                        r = set_once(&serial, kv[i + 1], kv[i], reason);
                else if (streq(kv[i], "num-vfs"))
                        r = set_once(&num, kv[i + 1], kv[i], reason);
                else if (streq(kv[i], "autoprobe"))
                        r = set_once(&autoprobe, kv[i + 1], kv[i], reason);
                else if (!streq(kv[i], "vf"))
                        r = unknown_field(kv[i], reason);
                if (r < 0)
                        return r;
        }
        if (!num || !parse_decimal(num, SRIOV_NUM_VFS_MAX, &n))
                return error_setf(reason, "num-vfs is missing or not a VF count");
        if (autoprobe && !parse_decimal(autoprobe, 1, &a))
                return error_setf(reason, "autoprobe is neither 0 nor 1");
        if (serial && !serial_ok(serial))
                return error_setf(reason, "the serial is empty or too long");
        if (!set)
                return error_setf(reason, "no SR-IOV settings are kept here");
        if (sriov_config_find(set, canonical, serial))
                return error_setf(reason, "the PF is recorded twice");
        r = sriov_config_get(set, canonical, serial, &c);
        if (r < 0)
                return r;
        c->num_vfs = (unsigned) n;
        c->autoprobe = autoprobe ? (int) a : -1;
        for (size_t i = 0; kv[i]; i += 2) {
                if (!streq(kv[i], "vf"))
                        continue;
                r = parse_vf(kv[i + 1], c->num_vfs, c, reason);
                if (r < 0) {
                        (void) sriov_config_remove(set, canonical);
                        return r;
                }
        }
        return 0;
}

static bool has_check_line(const char *val, size_t len) {
        const char *c;

        if (len < CHECK_LINE_LEN)
                return false;
        c = val + len - CHECK_LINE_LEN;
        /* The newline first: it stops hex_ok() inside the value, which
         * has no NUL at its end. */
        return c[CHECK_LINE_LEN - 1] == '\n' && strncmp(c, CHECK_PREFIX, sizeof(CHECK_PREFIX) - 1) == 0 &&
               hex_ok(c + sizeof(CHECK_PREFIX) - 1, 8) && (c == val || c[-1] == '\n');
}

int record_parse(int version, const char *key, const char *val, size_t len, const StoreState *st,
                 char **reason) {
        _cleanup_free_ char *body = NULL;
        const char *id, *address;
        bool checked = version >= 2 || (version == 0 && has_check_line(val, len));
        size_t n = len;
        int r;

        if (memchr(val, 0, len))
                return error_setf(reason, "its value holds a NUL byte");
        if (checked) {
                if (!has_check_line(val, len))
                        return error_setf(reason, "its check line is missing or malformed");
                n = len - CHECK_LINE_LEN;
        }
        body = strndup(val, n);
        if (!body)
                return -ENOMEM;
        /* strtoul stops at the check line's newline. */
        if (checked && record_check(key, body, n) != strtoul(val + n + sizeof(CHECK_PREFIX) - 1, NULL, 16))
                return error_setf(reason, "its checksum does not match: it changed after it was written");

        if ((id = startswith(key, KEY_GROUP_PREFIX))) {
                _cleanup_(resource_group_freep) ResourceGroup *g = NULL;
                char buf[TEXT_EXCERPT_MAX];

                r = parse_group(id, body, &g, reason);
                if (r < 0)
                        return r;
                if (resource_set_find_name(st->resources, g->name))
                        return error_setf(reason, "another group has the name '%s'", text_excerpt(g->name, buf));
                r = resource_set_add(st->resources, g);
                if (r < 0)
                        return r == -EEXIST ? error_setf(reason, "the id is taken") : r;
                g = NULL;       /* the set owns it */
                return 0;
        }
        if ((address = startswith(key, KEY_PREPARED_PREFIX)))
                return parse_prepared(address, body, st->prepared, reason);
        if (streq(key, KEY_REBOOT))
                return parse_reboot(body, st->reboot, reason);
        if ((address = startswith(key, KEY_SRIOV_PREFIX)))
                return parse_sriov(address, body, st->sriov, reason);
        if ((address = startswith(key, KEY_MDEV_PREFIX)))
                return parse_mdev(address, body, st->mdevs, reason);
        if ((address = startswith(key, KEY_CLAIM_PREFIX)))
                return parse_claim(address, body, st->claims, reason);
        if ((address = startswith(key, KEY_USB_PREPARED_PREFIX)))
                return parse_usb_prepared(address, body, st->usb_prepared, reason);
        return error_setf(reason, "no such record is ever written");
}
