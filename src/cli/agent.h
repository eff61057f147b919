/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A polkit text agent for the length of one call, as systemctl does: when
 * hostdevctl runs on a terminal and may ask for a password, pkttyagent
 * is started (as a fallback, so a desktop's own agent still wins) and the
 * password prompt of polkit appears on the terminal. Nothing happens for
 * root, whom polkit does not ask, and when pkttyagent is not installed.
 */
void polkit_agent_open(void);
void polkit_agent_close(void);
