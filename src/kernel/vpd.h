/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The serial number ("SN" keyword of the read-only section) from PCI vital
 * product data as the kernel's "vpd" attribute gives it. -ENOENT when the
 * data has none, -EBADMSG when it is malformed. Pure parsing. */
int vpd_find_serial(const uint8_t *buf, size_t n, char **ret);
