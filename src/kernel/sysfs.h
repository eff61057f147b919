/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Attribute I/O relative to a directory fd: one openat() per attribute,
 * no path walking. Attributes are small; anything above this is cut. */
#define SYSFS_ATTR_MAX 4096

/* Reads the attribute without its trailing newline. -ENOENT when absent. */
int sysfs_read(int dfd, const char *attr, char **ret);
/* Parses a number in the given base (0: C rules). Hex ids come as "0x10de"
 * (PCI) or "10de" (USB): read those with base 16. */
int sysfs_read_u32(int dfd, const char *attr, int base, uint32_t *ret);
int sysfs_read_int(int dfd, const char *attr, int *ret);
/* Binary attributes (config, vpd): up to max bytes; returns bytes read. */
ssize_t sysfs_read_binary(int dfd, const char *attr, void *buf, size_t max);
/* Basename of a symlink's target ("driver" → "nvidia"). */
int sysfs_read_link_basename(int dfd, const char *link, char **ret);
