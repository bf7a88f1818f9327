#!/usr/bin/env python3
"""The host-side peer of the stack test: talks Ethernet over QEMU's
`-netdev dgram` (a unix datagram socket carrying one frame per datagram)
to the guest running the Lamina stack on lamina-drivers-pci, and checks
that it answers ARP, ping (ICMP echo) and UDP echo (port 7).

Usage: peer.py LOCAL_SOCK GUEST_SOCK GUEST_IP TIMEOUT

Prints PASS/FAIL lines.
"""
import os
import socket
import struct
import sys
import time

PEER_MAC = bytes.fromhex("020000000099")
PEER_IP = socket.inet_aton("192.0.2.1")
BCAST = b"\xff" * 6


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def main():
    local, guest, guest_ip, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    gip = socket.inet_aton(guest_ip)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        os.unlink(local)
    except FileNotFoundError:
        pass
    s.bind(local)
    deadline = time.time() + timeout
    state = {"gmac": None}

    def send(frame):
        try:
            s.sendto(frame, guest)
        except OSError:
            pass  # QEMU not up yet

    def recv(wait):
        s.settimeout(max(wait, 0.001))
        try:
            f = s.recv(65536)
        except (socket.timeout, BlockingIOError):
            return None
        # Answer ARP requests for our address on the way.
        if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[38:42] == PEER_IP:
            reply = (f[6:12] + PEER_MAC + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
                     + PEER_MAC + PEER_IP + f[22:28] + f[28:32])
            send(reply)
        return f

    # 1. ARP for the guest until it answers (it boots and runs other tests first).
    arp_req = (BCAST + PEER_MAC + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
               + PEER_MAC + PEER_IP + b"\0" * 6 + gip)
    next_try = 0.0
    while state["gmac"] is None and time.time() < deadline:
        if time.time() >= next_try:
            send(arp_req)
            next_try = time.time() + 0.5
        f = recv(0.1)
        if f and len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" and f[28:32] == gip:
            state["gmac"] = f[22:28]
    if state["gmac"] is None:
        print("FAIL stack arp: no ARP reply from the guest")
        print("FAIL stack ping: not attempted")
        print("FAIL stack udp-echo: not attempted")
        return
    gmac = state["gmac"]
    print(f"PASS stack arp: {guest_ip} is at {gmac.hex(':')}")

    def exchange(frame, match, tries=3, wait=2.0):
        for _ in range(tries):
            send(frame)
            end = time.time() + wait
            while time.time() < end:
                f = recv(end - time.time())
                if f is not None and match(f):
                    return f
        return None

    # 2. Ping.
    ok = 0
    n = 10
    for seq in range(n):
        data = bytes((seq + i) & 0xFF for i in range(56))
        icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4c4d, seq) + data
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        frame = gmac + PEER_MAC + b"\x08\x00" + ipv4(PEER_IP, gip, 1, icmp, 100 + seq)

        def is_reply(f, seq=seq, data=data):
            if len(f) < 42 or f[12:14] != b"\x08\x00" or f[23] != 1:
                return False
            ihl = (f[14] & 0xF) * 4
            ic = f[14 + ihl:]
            return (len(ic) >= 8 and ic[0] == 0 and struct.unpack("!HH", ic[4:8]) == (0x4c4d, seq)
                    and ic[8:8 + len(data)] == data and csum(ic) == 0 and csum(f[14:14 + ihl]) == 0)
        if exchange(frame, is_reply):
            ok += 1
    print(f"{'PASS' if ok == n else 'FAIL'} stack ping: {ok}/{n} echo replies")

    # 3. UDP echo on port 7, payloads of mixed sizes.
    ok = 0
    for i, size in enumerate([1, 18, 100, 512, 1000, 1472, 7, 64, 1400, 300]):
        payload = bytes((i * 7 + j) & 0xFF for j in range(size))
        sport = 40000 + i
        udp = struct.pack("!HHHH", sport, 7, 8 + size, 0) + payload
        pseudo = PEER_IP + gip + struct.pack("!BBH", 0, 17, len(udp))
        c = csum(pseudo + udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
        frame = gmac + PEER_MAC + b"\x08\x00" + ipv4(PEER_IP, gip, 17, udp, 200 + i)

        def is_echo(f, sport=sport, payload=payload):
            if len(f) < 42 or f[12:14] != b"\x08\x00" or f[23] != 17:
                return False
            ihl = (f[14] & 0xF) * 4
            u = f[14 + ihl:]
            if struct.unpack("!HH", u[:4]) != (7, sport) or u[8:8 + len(payload)] != payload:
                return False
            ulen = struct.unpack("!H", u[4:6])[0]
            ck = struct.unpack("!H", u[6:8])[0]
            if ck == 0:
                return True
            ps = f[26:30] + f[30:34] + struct.pack("!BBH", 0, 17, ulen)
            return csum(ps + u[:ulen]) == 0
        if exchange(frame, is_echo):
            ok += 1
    print(f"{'PASS' if ok == 10 else 'FAIL'} stack udp-echo: {ok}/10 datagrams echoed")


main()
