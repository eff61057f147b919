/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Checks for text that comes from users and goes back out in properties,
 * the store and error messages. */

bool utf8_is_valid(const char *s);
/* C0 controls, DEL, and (in valid UTF-8) the C1 controls U+0080..U+009F. */
bool text_has_control(const char *s);

/* Printable excerpt of user input for error messages: a 1 MiB string or
 * control characters must not end up verbatim in a reply or the log.
 * Keeps printable ASCII, turns anything else into '?', cuts at 40 bytes. */
#define TEXT_EXCERPT_MAX 48
const char *text_excerpt(const char *s, char buf[static TEXT_EXCERPT_MAX]);

/* Sets *ret_error (when not NULL) to the message and returns -EINVAL;
 * -ENOMEM when the message cannot be made. */
int error_setf(char **ret_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
