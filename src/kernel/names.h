/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/* Vendor, product and class names from pci.ids (through libpci) and
 * usb.ids. Results are interned and cached: thousands of VFs share one
 * name, and a hot-plugged device of a known model costs one hash lookup.
 * Returned strings live as long as the Names object; "" when unknown. */
typedef struct Names Names;

Names *names_new(const char *pci_ids, const char *usb_ids);
Names *names_free(Names *n);

void names_pci(Names *n, uint16_t vendor, uint16_t device, const char **ret_vendor, const char **ret_device);
const char *names_pci_class(Names *n, uint32_t class);
void names_usb(Names *n, uint16_t vendor, uint16_t product, const char **ret_vendor, const char **ret_product);
const char *names_intern(Names *n, const char *s);

/* Drop the parsed databases (libpci keeps pci.ids in memory, ~2.5 MiB);
 * cached names stay. A later miss loads them again. */
void names_trim(Names *n);
