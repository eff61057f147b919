/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* SR-IOV settings: what is asked of, or stored for, a PF and its VFs.
 * Pure data and validation; src/kernel applies them (rtnetlink), src/store
 * keeps them, and a claim's release puts a VF back to what is stored for
 * it (so the next user does not inherit the last one's MAC). */

#define VF_VLAN_MAX 4094
#define VF_QOS_MAX 7
/* Mbit/s; rtnetlink carries a u32. */
#define VF_RATE_MAX UINT32_MAX

typedef enum VfLinkState {
        VF_LINK_UNSET = -1,
        VF_LINK_AUTO,           /* IFLA_VF_LINK_STATE_AUTO: follows the PF */
        VF_LINK_ENABLE,
        VF_LINK_DISABLE,
        _VF_LINK_MAX,
} VfLinkState;

/* One VF's settings; a field that is not set is left as the device has it. */
typedef struct VfSettings {
        unsigned index;
        bool has_mac;
        uint8_t mac[6];         /* all zero: cleared */
        int vlan;               /* -1 unset, 0 (none) … VF_VLAN_MAX */
        int qos;                /* -1 unset, 0 … VF_QOS_MAX; needs a VLAN */
        int trust;              /* -1 unset, 0, 1 */
        int spoofchk;           /* -1 unset, 0, 1 */
        VfLinkState link_state;
        int64_t max_tx_rate;    /* -1 unset, Mbit/s, 0 = no limit */
        int64_t min_tx_rate;    /* -1 unset, Mbit/s */
} VfSettings;

/* A VfSettings with nothing set. */
void vf_settings_init(VfSettings *s, unsigned index);
bool vf_settings_empty(const VfSettings *s);
/* Later settings override earlier ones field by field. */
void vf_settings_merge(VfSettings *into, const VfSettings *from);

/* "52:54:00:12:34:56" (case-insensitive) → bytes. A multicast (or
 * broadcast) address is refused: a VF needs a unicast one. All zero
 * clears the VF's MAC. -EINVAL with *error naming the problem. */
int vf_mac_parse(const char *s, uint8_t ret[6], char **error);
/* "52:54:00:12:34:56" into buf. */
const char *vf_mac_format(const uint8_t mac[6], char buf[static 18]);

const char *vf_link_state_to_string(VfLinkState s);
VfLinkState vf_link_state_from_string(const char *s);

/* The settings are consistent and the index is below num_vfs: -EINVAL
 * with *error (a sentence) when not. */
int vf_settings_validate(const VfSettings *s, unsigned num_vfs, char **error);

/* What is stored for one PF: its VF count, sriov_drivers_autoprobe and
 * the settings of its VFs, found again by the PF's serial, else address. */
typedef struct SriovConfig {
        char *pf_address;
        char *pf_serial;        /* NULL when the PF has none */
        unsigned num_vfs;
        int autoprobe;          /* -1 leave as it is, 0, 1 */
        VfSettings *vfs;
        size_t n_vfs;
} SriovConfig;

typedef struct SriovConfigSet {
        SriovConfig *items;
        size_t n_items;
} SriovConfigSet;

void sriov_config_set_done(SriovConfigSet *set);
/* Whether two readings name the same PF: the same serial (the card's)
 * and the same function number (the port). */
bool sriov_same_pf(const char *address_a, const char *serial_a, const char *address_b, const char *serial_b);
/* By serial and function number when serial is given and one is stored with it, else by address. */
SriovConfig *sriov_config_find(SriovConfigSet *set, const char *address, const char *serial);
/* The record for the PF, added when missing. */
int sriov_config_get(SriovConfigSet *set, const char *address, const char *serial, SriovConfig **ret);
int sriov_config_remove(SriovConfigSet *set, const char *address);
/* Stores s for its VF (merged into what is there). */
int sriov_config_set_vf(SriovConfig *c, const VfSettings *s);
const VfSettings *sriov_config_vf(const SriovConfig *c, unsigned index);
