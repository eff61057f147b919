/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model/device.h"

/* bDeviceClass of the USB device at dfd and the bInterfaceClass of each of
 * its interfaces ("<address>:C.I" directories), for class rules and to
 * tell hubs. Missing attributes leave the fields 0. */
void kernel_usb_read_classes(int dfd, Device *d);
