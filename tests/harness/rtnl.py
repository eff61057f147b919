"""rtnetlink for SR-IOV VF settings, as the kernel answers it, for the
kernel emulator.

hostdevd sets VF settings with RTM_SETLINK (IFLA_VFINFO_LIST) on the PF's
netdev and reads them with RTM_GETLINK (IFLA_EXT_MASK = RTEXT_FILTER_VF).
In a simulated host the ifindexes in sysfs are made up, so hostdevd never
opens a NETLINK_ROUTE socket there: with HOSTDEV_RTNL_SOCKET set it sends
the very same netlink messages (built and parsed by its own code) as
SOCK_SEQPACKET datagrams to that socket instead. This module listens
there, parses them independently of hostdevd (struct layouts from
<linux/if_link.h>), checks them as the kernel and a PF driver would,
keeps the VFs' settings and answers with an NLMSG_ERROR (ack or -errno)
or an RTM_NEWLINK carrying the VF list. Every RTM_SETLINK that reaches it
is appended to the kernel emulator's write log, so "nothing written" is
checked the same way as for sysfs writes."""

import errno
import os
import select
import socket
import struct
import threading
import traceback

NLMSG_ERROR = 2
RTM_NEWLINK, RTM_GETLINK, RTM_SETLINK = 16, 18, 19
NLM_F_ACK = 0x4
NLA_TYPE_MASK = 0x3fff
IFLA_IFNAME, IFLA_NUM_VF, IFLA_VFINFO_LIST, IFLA_EXT_MASK = 3, 21, 22, 29
IFLA_VF_INFO = 1
IFLA_VF_MAC, IFLA_VF_VLAN, IFLA_VF_TX_RATE, IFLA_VF_SPOOFCHK = 1, 2, 3, 4
IFLA_VF_LINK_STATE, IFLA_VF_RATE, IFLA_VF_TRUST = 5, 6, 9
RTEXT_FILTER_VF = 1
LINK_STATES = ('auto', 'enable', 'disable')


def _attrs(data):
    """(type, payload) of each netlink attribute in data."""
    out = []
    i = 0
    while i + 4 <= len(data):
        length, kind = struct.unpack_from('=HH', data, i)
        if length < 4 or i + length > len(data):
            raise ValueError('bad attribute length %d at %d' % (length, i))
        out.append((kind & NLA_TYPE_MASK, data[i + 4:i + length]))
        i += (length + 3) & ~3
    return out


def _attr(kind, payload):
    a = struct.pack('=HH', 4 + len(payload), kind) + payload
    return a + b'\0' * (-len(a) % 4)


def default_vf():
    """What a PF driver reports for a VF nobody configured."""
    return {'mac': '00:00:00:00:00:00', 'vlan': 0, 'qos': 0, 'spoofchk': True, 'trust': False,
            'link-state': 'auto', 'min-tx-rate': 0, 'max-tx-rate': 0}


class RtnlEmulator:
    def __init__(self, kernel, path):
        self.kernel = kernel
        self.host = kernel.host
        self.path = path
        self.vfs = {}        # PF address -> {index: settings dict}
        self.requests = []   # (PF address, index, {field: value}) of every accepted RTM_SETLINK
        self.errors = []
        self._sock = None
        self._stop_r = self._stop_w = None
        self._thread = None

    # ------------------------------------------------------------------
    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        self._sock.bind(self.path)
        self._sock.listen(16)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name='rtnl-emulator', daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread:
            os.write(self._stop_w, b'x')
            self._thread.join(10)
            self._thread = None
            os.close(self._stop_r)
            os.close(self._stop_w)
        if self._sock:
            self._sock.close()
            self._sock = None
            if os.path.exists(self.path):
                os.unlink(self.path)

    def forget(self, pf):
        """The PF's VFs are gone (sriov_numvfs 0, reboot): so are their settings."""
        with self.host.lock:
            self.vfs.pop(pf, None)

    def settings(self, pf, index):
        with self.host.lock:
            return dict(self.vfs.get(pf, {}).get(index) or default_vf())

    def _run(self):
        conns = []
        while True:
            r, _, _ = select.select([self._sock, self._stop_r] + conns, [], [])
            if self._stop_r in r:
                for c in conns:
                    c.close()
                return
            if self._sock in r:
                c, _ = self._sock.accept()
                conns.append(c)
            for c in [c for c in conns if c in r]:
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b''
                if not data:
                    conns.remove(c)
                    c.close()
                    continue
                try:
                    for reply in self.handle(data):
                        c.send(reply)
                except Exception:
                    self.errors.append(traceback.format_exc())
                    self.kernel.errors.append(self.errors[-1])

    # ------------------------------------------------------------------
    # the kernel's side
    def _pf_by_ifindex(self, ifindex):
        """(PF address, spec, netdev name) of the interface; spec may lack sriov."""
        for addr, spec in self.host.pci.items():
            for child in spec.get('children') or []:
                if child.get('subsystem') == 'net' and \
                        child.get('attributes', {}).get('ifindex') == str(ifindex):
                    return addr, spec, child['name']
        return None, None, None

    @staticmethod
    def _ack(header, err=0):
        length, kind, flags, seq, pid = header
        orig = struct.pack('=IHHII', length, kind, flags, seq, pid)
        body = struct.pack('=i', -err) + orig
        return struct.pack('=IHHII', 16 + len(body), NLMSG_ERROR, 0, seq, 0) + body

    def handle(self, data):
        header = struct.unpack_from('=IHHII', data, 0)
        length, kind, flags, seq, _pid = header
        if length > len(data) or length < 32:
            return [self._ack(header, errno.EINVAL)]
        _family, _pad, _type, ifindex, _flags, _change = struct.unpack_from('=BBHiII', data, 16)
        attrs = _attrs(data[32:length])
        with self.host.lock:
            pf, spec, ifname = self._pf_by_ifindex(ifindex)
            if pf is None:
                return [self._ack(header, errno.ENODEV)]
            if kind == RTM_GETLINK:
                return [self._newlink(seq, ifindex, pf, spec, ifname, attrs)]
            if kind == RTM_SETLINK:
                err = self._setlink(pf, spec, ifname, attrs)
                return [self._ack(header, err)] if err or flags & NLM_F_ACK else []
        return [self._ack(header, errno.EOPNOTSUPP)]

    def _newlink(self, seq, ifindex, pf, spec, ifname, attrs):
        mask = 0
        for k, p in attrs:
            if k == IFLA_EXT_MASK and len(p) >= 4:
                mask = struct.unpack_from('=I', p)[0]
        body = struct.pack('=BBHiII', 0, 0, 1, ifindex, 0, 0)
        body += _attr(IFLA_IFNAME, ifname.encode() + b'\0')
        sriov = spec.get('sriov')
        if sriov and mask & RTEXT_FILTER_VF:
            n = sriov['numvfs']
            body += _attr(IFLA_NUM_VF, struct.pack('=I', n))
            infos = b''
            for i in range(n):
                v = self.vfs.get(pf, {}).get(i) or default_vf()
                mac = bytes(int(x, 16) for x in v['mac'].split(':')) + b'\0' * 26
                info = _attr(IFLA_VF_MAC, struct.pack('=I', i) + mac)
                info += _attr(IFLA_VF_VLAN, struct.pack('=III', i, v['vlan'], v['qos']))
                info += _attr(IFLA_VF_TX_RATE, struct.pack('=II', i, v['max-tx-rate']))
                info += _attr(IFLA_VF_RATE, struct.pack('=III', i, v['min-tx-rate'], v['max-tx-rate']))
                info += _attr(IFLA_VF_SPOOFCHK, struct.pack('=II', i, int(v['spoofchk'])))
                info += _attr(IFLA_VF_LINK_STATE, struct.pack('=II', i, LINK_STATES.index(v['link-state'])))
                info += _attr(IFLA_VF_TRUST, struct.pack('=II', i, int(v['trust'])))
                infos += _attr(IFLA_VF_INFO, info)
            body += _attr(IFLA_VFINFO_LIST, infos)
        return struct.pack('=IHHII', 16 + len(body), RTM_NEWLINK, 0, seq, 0) + body

    def _setlink(self, pf, spec, ifname, attrs):
        """The errno the kernel answers (0 when accepted). All VF_INFOs of one
        message are checked before any is applied, as do_setvfinfo stops
        at the first error (a real driver may have applied earlier ones,
        hostdevd sends one VF per message)."""
        sriov = spec.get('sriov')
        changes = []
        for k, p in attrs:
            if k != IFLA_VFINFO_LIST:
                continue
            if not sriov:
                return errno.EOPNOTSUPP
            for kk, info in _attrs(p):
                if kk != IFLA_VF_INFO:
                    return errno.EINVAL
                for field, payload in _attrs(info):
                    index, fields = self._vf_attr(field, payload)
                    if index is None:
                        return errno.EINVAL
                    if index >= sriov['numvfs']:
                        return errno.EINVAL
                    changes.append((index, fields))
        if not changes:
            return errno.EINVAL
        for index, fields in changes:
            if fields is None:
                return errno.EINVAL
        for index, fields in changes:
            self.vfs.setdefault(pf, {}).setdefault(index, default_vf()).update(fields)
        by_index = {}
        for index, fields in changes:
            by_index.setdefault(index, {}).update(fields)
        for index, fields in sorted(by_index.items()):
            self.requests.append((pf, index, fields))
            text = 'vf %d ' % index + ' '.join('%s=%s' % kv for kv in sorted(fields.items()))
            self.kernel.log.append((self.host.real(self.host.devpaths[pf] + '/net/' + ifname) + '#RTM_SETLINK',
                                    text))
        return 0

    @staticmethod
    def _vf_attr(field, p):
        """(VF index, {field: value}); fields None when the kernel or the
        driver would refuse the value; index None for a malformed one."""
        try:
            if field == IFLA_VF_MAC:
                vf, = struct.unpack_from('=I', p)
                mac = p[4:10]
                if mac[0] & 1:
                    return vf, None        # a multicast address: drivers refuse it
                return vf, {'mac': ':'.join('%02x' % b for b in mac)}
            if field == IFLA_VF_VLAN:
                vf, vlan, qos = struct.unpack_from('=III', p)
                if vlan > 4095 or qos > 7:
                    return vf, None
                return vf, {'vlan': vlan, 'qos': qos}
            if field == IFLA_VF_TX_RATE:
                vf, rate = struct.unpack_from('=II', p)
                return vf, {'max-tx-rate': rate}
            if field == IFLA_VF_RATE:
                vf, lo, hi = struct.unpack_from('=III', p)
                if hi and lo > hi:
                    return vf, None
                return vf, {'min-tx-rate': lo, 'max-tx-rate': hi}
            if field == IFLA_VF_SPOOFCHK:
                vf, v = struct.unpack_from('=II', p)
                return vf, {'spoofchk': bool(v)}
            if field == IFLA_VF_TRUST:
                vf, v = struct.unpack_from('=II', p)
                return vf, {'trust': bool(v)}
            if field == IFLA_VF_LINK_STATE:
                vf, v = struct.unpack_from('=II', p)
                if v >= len(LINK_STATES):
                    return vf, None
                return vf, {'link-state': LINK_STATES[v]}
        except struct.error:
            return None, None
        return None, None
