/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include <systemd/sd-bus.h>

#include "client.h"
#include "output.h"

/*
 * Resource group rules on the command line: "FIELD=VALUE[,FIELD=VALUE...]"
 * as the user types them, the same form when printed, and a{sv} on the bus
 * with each field's type from org.hostdev1.ResourceGroup.Rules.
 *
 * A value may be put in double quotes, with \" and \\ inside, to hold a
 * comma or leading blanks; values printed are quoted that way when needed,
 * so that a printed rule can be typed back.
 */

/*
 * Parses a rule and appends it to m as a{sv}; with m NULL only checks it.
 * On a malformed rule (unknown field, bad value, a field twice) logs why
 * and returns -EINVAL: a usage error. Other negative values are failures
 * to build the message.
 */
int rule_append_parsed(sd_bus_message *m, const char *spec);

/* "vendor-id=10de, product-id=2206"; NULL on OOM. */
char *rule_to_string(const HdRule *rule);

/* One rule as a JSON object: field name to value (q and u as hex strings). */
void json_write_rule(JsonWriter *w, const HdRule *rule);
