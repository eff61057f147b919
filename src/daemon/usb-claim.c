/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"
#include "shared/log.h"

/* A claim released while its USB device is unplugged: the device must not
 * be detached from the host when it comes back, so its record goes. */
int daemon_usb_forget(Daemon *d, const char *address) {
        int r;

        if (!usb_prepared_find(&d->usb_prepared, address))
                return 0;
        r = usb_prepared_remove(&d->usb_prepared, address);
        if (r < 0)
                return r;
        log_info("Prepared USB device %s is gone; it will not be detached when it comes back.", address);
        return daemon_save(d);
}
