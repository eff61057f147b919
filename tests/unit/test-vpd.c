/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>

#include "check.h"
#include "kernel/vpd.h"
#include "shared/macro.h"

int main(void) {
        /* ID string "NIC", read-only section with PN and SN, end tag. */
        static const uint8_t vpd[] = {
                0x82, 3, 0, 'N', 'I', 'C',
                0x90, 19, 0, 'P', 'N', 3, 'X', '7', '1', 'S', 'N', 7, 'A', 'B', 'C', '1', '2', ' ', ' ',
                'R', 'V', 0,
                0x78,
        };
        static const uint8_t no_sn[] = { 0x82, 1, 0, 'X', 0x90, 6, 0, 'P', 'N', 3, 'A', 'B', 'C', 0x78 };
        static const uint8_t truncated[] = { 0x82, 200, 0, 'X' };
        static const uint8_t bad_len[] = { 0x90, 4, 0, 'S', 'N', 9, 'A' };
        _cleanup_free_ char *s = NULL, *t = NULL;

        CHECK(vpd_find_serial(vpd, sizeof vpd, &s) == 0);
        CHECK_STREQ(s, "ABC12");
        CHECK(vpd_find_serial(no_sn, sizeof no_sn, &t) == -ENOENT);
        CHECK(vpd_find_serial(truncated, sizeof truncated, &t) == -EBADMSG);
        CHECK(vpd_find_serial(bad_len, sizeof bad_len, &t) == -EBADMSG);
        CHECK(vpd_find_serial(vpd, 0, &t) == -ENOENT);
        CHECK(!t);
        CHECK_DONE();
}
