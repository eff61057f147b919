/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "shared/macro.h"

/* libpci reports through callbacks; route its warnings to our debug log
 * and keep its own debug output quiet. */
_printf_(1, 2) void libpci_warning(char *msg, ...);
_printf_(1, 2) void libpci_silent(char *msg, ...);
