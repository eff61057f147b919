/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "check.h"
#include "model/usb-prepared.h"
#include "shared/macro.h"

/* The stick: one usb-storage interface; the keyboard: two usbhid ones;
 * the hub: a hub interface (class 09). */
static char *stick_interfaces[] = { (char *) "2-1:1.0", (char *) "08/06/50", (char *) "usb-storage", NULL };
static char *hub_interfaces[] = { (char *) "1-3:1.0", (char *) "09/00/00", (char *) "hub", NULL };

static Device usb_device(const char *address, char **interfaces) {
        return (Device) { .kind = DEVICE_USB, .address = (char *) address, .vendor_id = 0x0781,
                          .product_id = 0x5581, .usb.interfaces = interfaces };
}

static void test_plans(void) {
        Device stick = usb_device("2-1", stick_interfaces), hub = usb_device("1-3", hub_interfaces);
        _cleanup_(plan_done) Plan detach = {}, attach = {}, none = {};
        _cleanup_free_ char *err = NULL;
        UsbPreparedSet set = {};
        char *detached[] = { (char *) "2-1:1.0", (char *) "08/06/50", (char *) "", NULL };

        CHECK(usb_plan_detach(&stick, &detach, NULL) == 0);
        CHECK(detach.n_steps == 1);
        CHECK_STREQ(detach.steps[0].address, "2-1:1.0");
        CHECK_STREQ(detach.steps[0].from, "usb-storage");
        CHECK_STREQ(detach.steps[0].to, "");

        CHECK(device_is_usb_hub(&hub));
        CHECK(!device_is_usb_hub(&stick));
        CHECK(usb_plan_detach(&hub, &none, &err) == -EINVAL);
        CHECK(err && strstr(err, "1-3") && strstr(err, "hub"));

        /* Recorded with the driver it had; Release gives that back. */
        CHECK(usb_prepared_add(&set, &stick) == 0);
        stick.usb.interfaces = detached;
        CHECK(usb_plan_attach(&stick, usb_prepared_find(&set, "2-1"), &attach) == 0);
        CHECK(attach.n_steps == 1);
        CHECK_STREQ(attach.steps[0].from, "");
        CHECK_STREQ(attach.steps[0].to, "usb-storage");

        /* An interface that appears later is noted once. */
        CHECK(usb_prepared_note_interface(&set.items[0], "2-1:1.1", "usbhid") == 1);
        CHECK(usb_prepared_note_interface(&set.items[0], "2-1:1.1", "other") == 0);
        CHECK_STREQ(usb_prepared_driver(&set.items[0], "2-1:1.1"), "usbhid");
        CHECK(usb_prepared_remove(&set, "2-1") == 0);
        CHECK(usb_prepared_remove(&set, "2-1") == -ENOENT);
        usb_prepared_set_done(&set);
}

int main(void) {
        test_plans();
        CHECK_DONE();
}
