/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* USB members of claims: identities, missing members, a device that comes
 * back at another port, and the identity in the claim's store record. */
#include "check.h"
#include "model/handle.h"
#include "model/usb-member.h"
#include "shared/macro.h"
#include "shared/strv.h"
#include "store/record.h"

static Device *usb(const char *address, uint16_t vendor, uint16_t product, const char *serial, unsigned bus,
                   unsigned devnum) {
        Device *d = device_new(DEVICE_USB, address);

        d->vendor_id = vendor;
        d->product_id = product;
        d->serial = serial ? strdup(serial) : NULL;
        d->usb.busnum = bus;
        d->usb.devnum = devnum;
        return d;
}

static void test_identity(void) {
        Device *stick = usb("2-1", 0x0781, 0x5581, "4C530001090927117045", 2, 2);
        Device *dongle = usb("1-3.2", 0x0529, 0x0001, NULL, 1, 4);
        Device *odd = usb("1-1", 0x1234, 0x5678, "a\tb", 1, 2);
        _cleanup_free_ char *a = usb_identity(stick), *b = usb_identity(dongle), *c = usb_identity(odd);
        _cleanup_free_ char *da = usb_identity_display(a, "2-1"), *db = usb_identity_display(b, "1-3.2");

        CHECK_STREQ(a, "0781:5581:4C530001090927117045");
        CHECK_STREQ(b, "0529:0001");
        /* A serial with a control character identifies nothing: the port does. */
        CHECK_STREQ(c, "1234:5678");
        CHECK_STREQ(da, "0781:5581:4C530001090927117045");
        CHECK_STREQ(db, "1-3.2");
        CHECK(usb_identity_valid(a) && usb_identity_valid(b));
        CHECK(!usb_identity_valid("0781:558") && !usb_identity_valid("0781:5581:") &&
              !usb_identity_valid("0781-5581") && !usb_identity_valid("07815:581") &&
              !usb_identity_valid("0781:5581x") && !usb_identity_valid("ABCD:5581") &&
              !usb_identity_valid("0781:5581:a\nb") && !usb_identity_valid(NULL));

        /* With a serial: anywhere; without: only at the member's port. */
        CHECK(usb_identity_matches(a, "1-4", stick));
        CHECK(usb_identity_matches(b, "1-3.2", dongle));
        CHECK(!usb_identity_matches(b, "1-3.1", dongle));
        CHECK(!usb_identity_matches(a, "2-1", dongle));
        CHECK(!usb_identity_matches("0781:5581:other", "2-1", stick));
        device_free(stick);
        device_free(dongle);
        device_free(odd);
}

/* The stick is claimed at 2-1, unplugged, and comes back at 1-3.1 with
 * another device number; a second claim holds the dongle. */
static void test_replug(void) {
        _cleanup_(inventory_done) Inventory inv = {};
        _cleanup_(claim_set_done) ClaimSet set = {};
        _cleanup_(handle_list_done) HandleList l = {};
        const HandleOptions o = { .sysfs_root = "/sys", .dev_root = "/run/dev" };
        const char *stick_at[] = { "2-1" }, *dongle_at[] = { "1-3.2" };
        _cleanup_free_ const ClaimMember **missing = NULL;
        Claim *c = claim_new("c1", "vm1", "g1", 1, NULL), *c2 = claim_new("c2", "vm2", "g1", 1, NULL), *found;
        Device *gone;
        size_t n = 0, i = 99;

        CHECK(inventory_init(&inv) == 0 && claim_set_init(&set) == 0);
        CHECK(inventory_add(&inv, usb("2-1", 0x0781, 0x5581, "SER1", 2, 2), NULL) == 0);
        CHECK(inventory_add(&inv, usb("1-3.2", 0x0529, 0x0001, NULL, 1, 4), NULL) == 0);
        CHECK(claim_add_member(c, stick_at, 1) == 0 && claim_add_member(c2, dongle_at, 1) == 0);
        CHECK(claim_note_identities(c, &inv) == 0 && claim_note_identities(c2, &inv) == 0);
        CHECK_STREQ(c->members[0].identity, "0781:5581:SER1");
        CHECK_STREQ(c2->members[0].identity, "0529:0001");
        CHECK(claim_set_add(&set, c, NULL) == 0 && claim_set_add(&set, c2, NULL) == 0);

        CHECK(handle_list_add_claim(&l, c, &inv, &o) == 0 && l.n_handles == 1);
        CHECK_STREQ(l.handles[0].qemu, "usb-host,hostbus=2,hostaddr=2,hostdevice=/run/dev/bus/usb/002/002");
        handle_list_done(&l);

        /* Unplugged: missing, no handles, still claimed at its last address. */
        gone = inventory_take(&inv, "2-1");
        CHECK(claim_missing(c, &inv, &missing, &n) == 0 && n == 1 && missing[0] == c->members);
        CHECK(handle_list_add_claim(&l, c, &inv, &o) == 0 && l.n_handles == 0);
        CHECK(claim_set_find_device(&set, "2-1") == c);

        /* Another device at the old port is not the member. */
        CHECK(inventory_add(&inv, usb("2-1", 0x046d, 0xc52b, NULL, 2, 3), NULL) == 0);
        CHECK(!claim_member_device(c->members, &inv));
        CHECK(!claim_set_find_holder(&set, inventory_get(&inv, "2-1")));
        CHECK(claim_set_find_holder(&set, inventory_get(&inv, "1-3.2")) == c2);
        CHECK(handle_list_add_claim(&l, c, &inv, &o) == 0 && l.n_handles == 0);
        device_free(inventory_take(&inv, "2-1"));

        /* Back at 1-3.1, device number 7: found, moved, new handles. */
        gone->usb.devnum = 7;
        gone->usb.busnum = 1;
        free(gone->address);
        gone->address = strdup("1-3.1");
        CHECK(inventory_add(&inv, gone, NULL) == 0);
        found = claim_set_find_moved(&set, &inv, gone, &i);
        CHECK(found == c && i == 0);
        /* A device without a serial never moves; nor does the dongle's claim find it. */
        CHECK(!claim_set_find_moved(&set, &inv, inventory_get(&inv, "1-3.2"), NULL));
        /* The dongle's port is another claim's. */
        CHECK(claim_set_move(&set, c, 0, "1-3.2") == -EBUSY);
        CHECK_STREQ(c->members[0].addresses[0], "2-1");
        CHECK(claim_set_move(&set, c, 0, "1-3.1") == 0);
        CHECK_STREQ(c->members[0].addresses[0], "1-3.1");
        CHECK(claim_set_find_device(&set, "1-3.1") == c && !claim_set_find_device(&set, "2-1"));
        free(missing);
        missing = NULL;
        CHECK(claim_missing(c, &inv, &missing, &n) == 0 && n == 0);
        CHECK(!claim_set_find_moved(&set, &inv, gone, NULL));
        CHECK(handle_list_add_claim(&l, c, &inv, &o) == 0 && l.n_handles == 1);
        CHECK_STREQ(l.handles[0].qemu, "usb-host,hostbus=1,hostaddr=7,hostdevice=/run/dev/bus/usb/001/007");
        CHECK_STREQ(l.handles[0].libvirt, "<hostdev mode='subsystem' type='usb' managed='no'><source>"
                    "<vendor id='0x0781'/><product id='0x5581'/><address bus='1' device='7'/>"
                    "</source></hostdev>");
}

/* The identity goes into the claim's record and comes back; a record
 * with a bad identity is refused. */
static void test_record(void) {
        _cleanup_(claim_set_done) ClaimSet set = {}, back = {};
        _cleanup_(resource_set_done) ResourceSet groups = {};
        _cleanup_strv_free_ char **records = NULL;
        PreparedSet prepared = {};
        RebootState reboot = {};
        const char *at[] = { "1-3.1" };
        Claim *c = claim_new("c1", "vm1", "g1", 1, NULL);
        StoreState st = { .resources = &groups, .prepared = &prepared, .reboot = &reboot, .claims = &set };
        StoreState st_back = { .resources = &groups, .prepared = &prepared, .reboot = &reboot, .claims = &back };
        char *reason = NULL;
        size_t k;

        CHECK(claim_set_init(&set) == 0);
        CHECK(claim_add_member(c, at, 1) == 0);
        c->members[0].identity = strdup("0781:5581:S,N=1%");
        CHECK(claim_set_add(&set, c, NULL) == 0);
        CHECK(record_serialize_state(&st, &records) == 0);
        for (k = 0; records[k] && !startswith(records[k], "claim/"); k += 2)
                ;
        CHECK(records[k]);
        if (!records[k])
                return;
        CHECK(strstr(records[k + 1], "identity=1-3.1,0781:5581:S%2CN%3D1%25\n"));
        CHECK(record_parse(STORE_SCHEMA_VERSION, records[k], records[k + 1], strlen(records[k + 1]), &st_back,
                           &reason) == 0);
        CHECK(back.n_claims == 1);
        if (back.n_claims == 1)
                CHECK_STREQ(back.claims[0]->members[0].identity, "0781:5581:S,N=1%");
        free(reason);
}

int main(void) {
        test_identity();
        test_replug();
        test_record();
        CHECK_DONE();
}
