#!/usr/bin/python3
"""A tiny single-node stub broker for the APIs the librdkafka mock cluster lacks.

It advertises only classic (non-flexible) versions of ApiVersions, Metadata,
FindCoordinator, CreateTopics, DeleteTopics, ListGroups, DescribeGroups,
SaslHandshake and SaslAuthenticate, and answers each with a minimal success
response, just enough for librdkafka's and kafka-python's admin clients and
SASL/PLAIN login to send their requests. Only the REQUESTS it receives are
golden frames: its responses are ours, not an independent peer's, and the
extractor drops them.

Usage: stub_broker.py PORT
"""
import socketserver
import struct
import sys

ADVERTISED = {  # api key: (min, max)
    18: (0, 2),  # ApiVersions (v3 gets the v0-shaped UNSUPPORTED_VERSION answer)
    3: (0, 8),   # Metadata
    10: (0, 2),  # FindCoordinator
    19: (0, 4),  # CreateTopics
    20: (0, 3),  # DeleteTopics
    16: (0, 2),  # ListGroups
    15: (0, 4),  # DescribeGroups
    17: (0, 1),  # SaslHandshake
    36: (0, 1),  # SaslAuthenticate
}
FLEXIBLE_FROM = {18: 3, 3: 9, 10: 3, 19: 5, 20: 4, 16: 3, 15: 5, 17: 99, 36: 2}
NODE_ID = 1


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def string(s): b = s.encode(); return i16(len(b)) + b
def nstring(s): return i16(-1) if s is None else string(s)
def array(items, enc): return i32(len(items)) + b"".join(enc(x) for x in items)
def byts(b): return i32(len(b)) + b


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        b = self.d[self.p:self.p + n]
        if len(b) != n:
            raise ValueError("short frame")
        self.p += n
        return b

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def nstring(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def array(self, dec):
        n = self.i32()
        return [] if n < 0 else [dec(self) for _ in range(n)]

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def api_versions(ver, port, body):
    keys = array(sorted(ADVERTISED.items()),
                 lambda kv: i16(kv[0]) + i16(kv[1][0]) + i16(kv[1][1]))
    if ver > ADVERTISED[18][1]:
        return i16(35) + keys
    return i16(0) + keys + (i32(0) if ver >= 1 else b"")


def metadata(ver, port, body):
    out = i32(0) if ver >= 3 else b""
    out += array([NODE_ID], lambda n: i32(n) + string("127.0.0.1") + i32(port)
                  + (nstring(None) if ver >= 1 else b""))
    if ver >= 2:
        out += nstring("golden-stub-cluster")
    if ver >= 1:
        out += i32(NODE_ID)
    out += i32(0)  # no topics
    if ver >= 8:
        out += i32(-2147483648)
    return out


def find_coordinator(ver, port, body):
    out = i32(0) if ver >= 1 else b""
    out += i16(0) + (nstring(None) if ver >= 1 else b"")
    return out + i32(NODE_ID) + string("127.0.0.1") + i32(port)


def create_topics(ver, port, body):
    r = Reader(body)

    def topic(r):
        name = r.nstring()
        r.i32(); r.i16()
        r.array(lambda r: (r.i32(), r.array(lambda r: r.i32())))
        r.array(lambda r: (r.nstring(), r.nstring()))
        return name
    names = r.array(topic)
    out = i32(0) if ver >= 2 else b""
    return out + array(names, lambda n: string(n) + i16(0) + (nstring(None) if ver >= 1 else b""))


def delete_topics(ver, port, body):
    names = Reader(body).array(lambda r: r.nstring())
    out = i32(0) if ver >= 1 else b""
    return out + array(names, lambda n: string(n) + i16(0))


def list_groups(ver, port, body):
    out = i32(0) if ver >= 1 else b""
    return out + i16(0) + array(["golden-stub-group"], lambda g: string(g) + string("consumer"))


def describe_groups(ver, port, body):
    groups = Reader(body).array(lambda r: r.nstring())
    out = i32(0) if ver >= 1 else b""

    def group(g):
        b = i16(0) + string(g) + string("Stable") + string("consumer") + string("range")
        b += i32(0)  # no members
        return b + (i32(-2147483648) if ver >= 3 else b"")
    return out + array(groups, group)


def sasl_handshake(ver, port, body):
    return i16(0) + array(["PLAIN"], string)


def sasl_authenticate(ver, port, body):
    return i16(0) + nstring(None) + byts(b"") + (i64(0) if ver >= 1 else b"")


HANDLERS = {18: api_versions, 3: metadata, 10: find_coordinator, 19: create_topics,
            20: delete_topics, 16: list_groups, 15: describe_groups, 17: sasl_handshake,
            36: sasl_authenticate}


class Conn(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def handle(self):
        port = self.server.server_address[1]
        raw_token_next = False
        while True:
            size = self.recv_exact(4)
            if size is None:
                return
            frame = self.recv_exact(struct.unpack(">i", size)[0])
            if frame is None:
                return
            if raw_token_next:  # SASL handshake v0: the token travels without a header
                raw_token_next = False
                self.request.sendall(i32(0))
                continue
            r = Reader(frame)
            key, ver, corr = r.i16(), r.i16(), r.i32()
            r.nstring()
            if ver >= FLEXIBLE_FROM.get(key, 99):
                r.skip_tags()
            handler = HANDLERS.get(key)
            if handler is None:
                print(f"stub: unsupported api key {key} v{ver}", file=sys.stderr)
                return
            body = handler(ver, port, frame[r.p:])
            if key == 17 and ver == 0:
                raw_token_next = True
            resp = i32(corr) + body
            self.request.sendall(i32(len(resp)) + resp)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server(("127.0.0.1", int(sys.argv[1])), Conn) as srv:
        srv.serve_forever()
