"""Binary sysfs attributes: PCI config space, VPD, USB descriptors.

The layouts follow the PCI Local Bus, PCI Express and USB 2.0
specifications closely enough for lspci -vvv and libpci to decode them.
"""

import struct

# PCIe capability: Device/Port Type field (bits 7:4 of the capabilities register)
PORT_TYPES = {
    'endpoint': 0x0,
    'legacy_endpoint': 0x1,
    'root_port': 0x4,
    'upstream_port': 0x5,
    'downstream_port': 0x6,
    'pcie_pci_bridge': 0x7,
    'rc_endpoint': 0x9,
}

# "8.0 GT/s PCIe" -> Current Link Speed encoding
SPEEDS = {
    '2.5 GT/s PCIe': 1,
    '5.0 GT/s PCIe': 2,
    '8.0 GT/s PCIe': 3,
    '16.0 GT/s PCIe': 4,
    '32.0 GT/s PCIe': 5,
}

CAP_PM = 0x01
CAP_VPD = 0x03
CAP_MSI = 0x05
CAP_SSVID = 0x0d
CAP_EXP = 0x10
EXT_AER = 0x0001
EXT_DSN = 0x0003
EXT_ACS = 0x000d
EXT_SRIOV = 0x0010


def _hex(s):
    return int(s, 16)


def dsn_dwords(serial):
    """Split "11-22-33-44-55-66-77-88" into (lower dword, upper dword).

    lspci prints the upper dword first, most significant byte first."""
    b = [int(x, 16) for x in serial.split('-')]
    upper = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
    lower = (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]
    return lower, upper


def build_config(dev, is_vf=False):
    pcie = dev.get('pcie')
    size = 4096 if pcie else 256
    c = bytearray(size)
    bridge = dev['class'].startswith('0604')

    if is_vf:
        # A VF's Vendor and Device ID registers read as all ones; the
        # kernel takes its ids from the PF's SR-IOV capability.
        struct.pack_into('<HH', c, 0, 0xffff, 0xffff)
    else:
        struct.pack_into('<HH', c, 0, _hex(dev['vendor_id']), _hex(dev['device_id']))
    struct.pack_into('<HH', c, 4, 0x0406 if not is_vf else 0x0400, 0x0010)  # memory+master; cap list
    c[8] = _hex(dev['revision'])
    cls = _hex(dev['class'])
    c[9], c[10], c[11] = cls & 0xff, (cls >> 8) & 0xff, (cls >> 16) & 0xff
    c[0x0c] = 0x10  # cache line
    header = 0x01 if bridge else 0x00
    if dev.get('multifunction'):
        header |= 0x80
    c[0x0e] = header

    caps = []  # (id, body bytes) in chain order
    pm = bytearray(6)
    # NoSoft_Reset set unless a D3hot->D0 transition resets the function
    struct.pack_into('<HH', pm, 0, 0x0003, 0 if 'pm' in dev.get('reset_methods', []) else 0x0008)
    caps.append((CAP_PM, pm))
    if not is_vf:
        caps.append((CAP_MSI, bytearray(12)))
    if dev.get('vpd'):
        caps.append((CAP_VPD, bytearray(6)))  # the kernel offers sysfs "vpd" only with it
    if bridge:
        bus = dev['bridge']
        c[0x18], c[0x19], c[0x1a] = int(dev['address'][5:7], 16), bus['secondary'], bus['subordinate']
        ssvid = bytearray(6)
        struct.pack_into('<HH', ssvid, 2, _hex(dev['subsystem_vendor_id']), _hex(dev['subsystem_id']))
        caps.append((CAP_SSVID, ssvid))
    else:
        struct.pack_into('<HH', c, 0x2c, _hex(dev['subsystem_vendor_id']), _hex(dev['subsystem_id']))
        c[0x3d] = 0 if is_vf else 1  # interrupt pin INTA#
    if pcie:
        caps.append((CAP_EXP, _pcie_cap(dev, pcie)))

    # standard capability list from 0x40, each entry 16-byte aligned
    c[0x34] = 0x40
    offset = 0x40
    for i, (cid, body) in enumerate(caps):
        nxt = offset + max(0x10, (len(body) + 2 + 15) & ~15) if i + 1 < len(caps) else 0
        c[offset] = cid
        c[offset + 1] = nxt
        c[offset + 2:offset + 2 + len(body)] = body
        offset = nxt

    if pcie:
        _ext_caps(c, dev, is_vf)
    return bytes(c)


def _pcie_cap(dev, pcie):
    body = bytearray(0x3a)  # PCIe capability is 0x3c bytes incl. the 2-byte header
    port = PORT_TYPES[pcie['port_type']]
    slot_name = dev.get('hotplug_slot')
    slot_impl = 1 if slot_name else 0
    struct.pack_into('<H', body, 0, 0x2 | (port << 4) | (slot_impl << 8))
    devcap = 0x8000 | 0x2  # role-based error reporting; 512-byte payload
    if 'flr' in dev.get('reset_methods', []):
        devcap |= 1 << 28
    struct.pack_into('<I', body, 2, devcap)
    max_speed = SPEEDS.get(pcie.get('max_link_speed'), 0)
    max_width = pcie.get('max_link_width') or 0
    struct.pack_into('<I', body, 0x0a, max_speed | (max_width << 4))
    speed = SPEEDS.get(pcie['link_speed'], 0)
    struct.pack_into('<H', body, 0x10, speed | ((pcie['link_width'] or 0) << 4))
    if slot_impl:
        slot_number = int(slot_name) if slot_name.isdigit() else 0
        hotplug = 0x60  # hot-plug capable, surprise removal
        struct.pack_into('<I', body, 0x12, hotplug | (slot_number << 19))
    return body


def _ext_caps(c, dev, is_vf):
    ext = [(EXT_AER, 0x48)]
    if dev.get('acs'):
        ext.append((EXT_ACS, 0x08))
    if dev.get('serial_source') == 'dsn' and dev.get('serial'):
        ext.append((EXT_DSN, 0x0c))
    if dev.get('sriov'):
        ext.append((EXT_SRIOV, 0x40))
    offset = 0x100
    for i, (cid, length) in enumerate(ext):
        nxt = offset + ((length + 15) & ~15) if i + 1 < len(ext) else 0
        version = 1
        struct.pack_into('<I', c, offset, cid | (version << 16) | (nxt << 20))
        if cid == EXT_DSN:
            lower, upper = dsn_dwords(dev['serial'])
            struct.pack_into('<II', c, offset + 4, lower, upper)
        elif cid == EXT_ACS:
            struct.pack_into('<HH', c, offset + 4, 0x001f, 0x001d)  # SV RR CR UF TB; enabled
        elif cid == EXT_SRIOV:
            s = dev['sriov']
            struct.pack_into('<I', c, offset + 4, 0x2)           # ARI capable hierarchy preserved
            struct.pack_into('<H', c, offset + 8, 0x19 if s['numvfs'] else 0)  # VF enable, MSE, ARI
            struct.pack_into('<HHH', c, offset + 0x0c, s['totalvfs'], s['totalvfs'], s['numvfs'])
            struct.pack_into('<HH', c, offset + 0x14, s['offset'], s['stride'])
            struct.pack_into('<H', c, offset + 0x1a, _hex(s['vf_device']))
            struct.pack_into('<I', c, offset + 0x1c, 0x553)      # supported page sizes
            struct.pack_into('<I', c, offset + 0x20, 0x1)        # system page size 4k
        offset = nxt


def build_vpd(vpd):
    """PCI VPD: identifier string, VPD-R with PN/EC/SN and checksum, end tag."""
    name = vpd['name'].encode()
    out = bytearray([0x82]) + struct.pack('<H', len(name)) + name
    fields = bytearray()
    for key in ('pn', 'ec', 'sn'):
        if vpd.get(key):
            val = vpd[key].encode()
            fields += key.upper().encode() + bytes([len(val)]) + val
    # RV: checksum byte + reserved so that the read-only area sums to 0
    rv_len = 4
    body_len = len(fields) + 3 + rv_len
    ro = bytearray([0x90]) + struct.pack('<H', body_len) + fields + b'RV' + bytes([rv_len])
    checksum = (-(sum(out) + sum(ro))) & 0xff
    ro += bytes([checksum]) + bytes(rv_len - 1)
    return bytes(out + ro + bytes([0x78]))


def usb_descriptors(dev):
    """Device descriptor + one configuration with its interfaces."""
    bcd_usb = round(float(dev['version'].strip()) * 100)
    bcd_usb = ((bcd_usb // 100) << 8) | ((bcd_usb // 10 % 10) << 4) | (bcd_usb % 10)
    strings = [dev.get('manufacturer'), dev.get('product'), dev.get('serial')]
    idx = [i + 1 if s else 0 for i, s in enumerate(strings)]
    desc = struct.pack('<BBHBBBBHHHBBBB', 18, 1, bcd_usb, _hex(dev['device_class']), 0,
                       1 if dev['root_hub'] and dev['speed'] == '480' else 0,
                       dev['max_packet_size0'], _hex(dev['vendor_id']), _hex(dev['product_id']),
                       _hex(dev['bcd_device']), idx[0], idx[1], idx[2], 1)
    itfs = b''.join(struct.pack('<BBBBBBBBB', 9, 4, i['number'], 0, 0, _hex(i['cls']),
                                _hex(i['subclass']), _hex(i['protocol']), 0)
                    for i in dev['interfaces'])
    power = int(dev['max_power'].rstrip('mA'))
    unit = 8 if dev['speed'] in ('5000', '10000', '20000') else 2
    config = struct.pack('<BBHBBBBB', 9, 2, 9 + len(itfs), len(dev['interfaces']), 1, 0,
                         0xe0 if dev['root_hub'] else 0x80, min(power // unit, 255)) + itfs
    return desc + config
