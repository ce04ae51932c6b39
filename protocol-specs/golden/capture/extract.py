#!/usr/bin/python3
"""Turns a loopback pcap of the capture run into golden frame files and INDEX.txt.

Usage: extract.py CAPTURE.pcap BROKER_PORTS_FILE STUB_PORT OUT_DIR

TCP streams to the mock brokers' ports and to the stub broker are reassembled
(stdlib only: pcap, Ethernet, IPv4/IPv6, TCP), split into size-prefixed Kafka
frames and paired request/response in order (Kafka answers in order on a
connection; the correlation ids are checked). The peer that sent a request is
named by its client_id prefix. Responses of the stub broker are ours and are
not kept. Identical frames are kept once, and each (peer, api, version) keeps a
bounded number of pairs, preferring Fetch responses that carry records.
"""
import collections
import os
import struct
import sys

API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
             9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
             13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
             17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
             22: "InitProducerId", 36: "SaslAuthenticate"}
PEERS = [("golden-rdkafka", "librdkafka-2.12.1"), ("golden-kcat-", "kcat-librdkafka-2.0.2"),
         ("golden-python-", "kafka-python-2.0.2")]
MOCK_PEER = "librdkafka-mock-2.12.1"
PER_GROUP = 3        # pairs kept per (peer, api, version), besides Produce and record-carrying Fetch
RECORD_FETCHES = 12  # record-carrying Fetch pairs kept per (peer, version)


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    pos = 24
    while pos + 16 <= len(data):
        _, _, incl, orig = struct.unpack(endian + "IIII", data[pos:pos + 16])
        if incl != orig:
            raise SystemExit("truncated packet in capture: use snaplen 0")
        yield linktype, data[pos + 16:pos + 16 + incl]
        pos += 16 + incl


def tcp_segments(path):
    for linktype, pkt in packets(path):
        if linktype == 1:
            ethertype, ip = struct.unpack(">H", pkt[12:14])[0], pkt[14:]
        elif linktype == 113:  # Linux cooked
            ethertype, ip = struct.unpack(">H", pkt[14:16])[0], pkt[16:]
        else:
            raise SystemExit("unsupported link type %d" % linktype)
        if ethertype == 0x0800:
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            if ip[9] != 6:
                continue
            src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:total]
        elif ethertype == 0x86DD:
            if ip[6] != 6:
                continue
            plen = struct.unpack(">H", ip[4:6])[0]
            src, dst, tcp = ip[8:24], ip[24:40], ip[40:40 + plen]
        else:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        off = (tcp[12] >> 4) * 4
        flags = tcp[13]
        yield (src, sport, dst, dport), seq, flags, tcp[off:]


def streams(path, ports):
    """Returns {(client, server): (client->server bytes, server->client bytes)} in order of start."""
    segs = collections.defaultdict(dict)
    isn = {}
    order = []
    for key, seq, flags, payload in tcp_segments(path):
        src, sport, dst, dport = key
        if sport not in ports and dport not in ports:
            continue
        if flags & 0x02:  # SYN
            isn[key] = seq + 1
            conn = (key, (dst, dport, src, sport)) if dport in ports else ((dst, dport, src, sport), key)
            if conn not in order:
                order.append(conn)
        if payload:
            segs[key].setdefault(seq, payload)
    out = collections.OrderedDict()

    def join(key):
        base = isn.get(key)
        if base is None:
            raise SystemExit("stream without SYN: start tcpdump earlier")
        buf = bytearray()
        for seq in sorted(segs[key], key=lambda s: (s - base) % 2**32):
            rel = (seq - base) % 2**32
            data = segs[key][seq]
            if rel > len(buf):
                raise SystemExit("gap in TCP stream: packets were dropped")
            buf += data[len(buf) - rel:]
        return bytes(buf)
    for c2s, s2c in order:
        out[(c2s, s2c)] = (join(c2s), join(s2c))
    return out


def split_frames(buf):
    frames, pos = [], 0
    while pos + 4 <= len(buf):
        size = struct.unpack(">i", buf[pos:pos + 4])[0]
        if pos + 4 + size > len(buf):
            break
        frames.append(buf[pos:pos + 4 + size])
        pos += 4 + size
    return frames


def parse_request_header(frame):
    key, ver, corr, cid_len = struct.unpack(">hhih", frame[4:14])
    client_id = frame[14:14 + cid_len].decode("utf-8", "replace") if cid_len >= 0 else ""
    return key, ver, corr, client_id


def peer_of(client_id):
    for prefix, peer in PEERS:
        if client_id.startswith(prefix):
            return peer
    return None


def main():
    pcap, ports_file, stub_port, out_dir = sys.argv[1:5]
    mock_ports = {int(p) for p in open(ports_file).read().split()}
    stub_port = int(stub_port)
    pairs = []
    for (c2s, s2c), (req_bytes, resp_bytes) in streams(pcap, mock_ports | {stub_port}).items():
        server_port = c2s[3]
        requests, responses = split_frames(req_bytes), split_frames(resp_bytes)
        ri = 0
        raw_token_next = False
        for req in requests:
            if raw_token_next:  # SASL handshake v0: a headerless token, answered by a bare size
                raw_token_next = False
                ri += 1
                continue
            key, ver, corr, client_id = parse_request_header(req)
            resp = responses[ri] if ri < len(responses) else None
            ri += 1
            if resp is not None and struct.unpack(">i", resp[4:8])[0] != corr:
                raise SystemExit("correlation mismatch on %r" % (c2s,))
            if key == 17 and ver == 0:
                raw_token_next = True
            peer = peer_of(client_id)
            if peer is None or key not in API_NAMES:
                print("skipping request key %d from %r" % (key, client_id), file=sys.stderr)
                continue
            if server_port == stub_port:
                resp = None
            pairs.append((peer, key, ver, client_id, req, resp))
    keep(pairs, out_dir)


def keep(pairs, out_dir):
    seen = set()
    counts = collections.Counter()
    fetch_min = {}
    for peer, key, ver, _, _, resp in pairs:
        if key == 1 and resp is not None:
            g = (peer, ver)
            fetch_min[g] = min(fetch_min.get(g, len(resp)), len(resp))
    frames_dir = os.path.join(out_dir, "frames")
    os.makedirs(frames_dir, exist_ok=True)
    for name in os.listdir(frames_dir):
        os.remove(os.path.join(frames_dir, name))
    index = ["# file peer api_key api_name version direction client_id"]
    n = 0
    for peer, key, ver, client_id, req, resp in pairs:
        dedup = (req[:8] + req[12:], None if resp is None else resp[:4] + resp[8:])
        if dedup in seen:
            continue
        with_records = key == 1 and resp is not None and len(resp) > fetch_min[(peer, ver)] + 100
        group = (peer, key, ver, with_records)
        limit = RECORD_FETCHES if with_records else (10**6 if key == 0 else PER_GROUP)
        if counts[group] >= limit:
            continue
        seen.add(dedup)
        counts[group] += 1
        n += 1
        short = peer.split("-")[0]
        base = "%04d-%s-%s-v%d" % (n, short, API_NAMES[key], ver)
        entries = [("req", req, peer)]
        if resp is not None:
            entries.append(("resp", resp, MOCK_PEER))
        for direction, data, who in entries:
            fname = "%s-%s.bin" % (base, direction)
            with open(os.path.join(frames_dir, fname), "wb") as f:
                f.write(data)
            index.append("frames/%s %s %d %s %d %s %s" % (
                fname, who, key, API_NAMES[key], ver,
                "request" if direction == "req" else "response", client_id))
    with open(os.path.join(out_dir, "INDEX.txt"), "w") as f:
        f.write("\n".join(index) + "\n")
    print("kept %d request/response pairs of %d" % (n, len(pairs)), file=sys.stderr)


if __name__ == "__main__":
    main()
