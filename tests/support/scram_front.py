#!/usr/bin/env python3
"""A SASL/SCRAM front for a Kafka broker that has no SASL (librdkafka's mock).

Used by tests/sasl_scramp.rs as an independent SCRAM server: the SCRAM side is
the `scramp` package (PyPI), the Kafka side a few hand-written frames.

Per client connection it opens one connection to the upstream broker, then:
- ApiVersions is forwarded upstream; a successful answer gets SaslHandshake
  v0-1 and SaslAuthenticate v0-1 added to its list.
- SaslHandshake v1 accepts the configured mechanism only (else error 33).
- SaslAuthenticate carries the SCRAM exchange (scramp's server); a failure
  answers error 58 (SASL_AUTHENTICATION_FAILED) and closes the connection.
- Any other request before authentication closes the connection.
- After authentication every byte is relayed both ways unchanged.

Usage: scram_front.py UPSTREAM_HOST:PORT MECHANISM USER PASSWORD
Prints "LISTENING <port>" once it accepts connections (127.0.0.1, free port).
"""
import asyncio
import struct
import sys

from scramp import ScramException, ScramMechanism

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
EXTRA_APIS = [(SASL_HANDSHAKE, 0, 1), (SASL_AUTHENTICATE, 0, 1)]


async def read_frame(reader):
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


def frame(body):
    return struct.pack(">i", len(body)) + body


def request_header(data):
    """(api_key, api_version, correlation_id, offset of the body) of a v1 header."""
    api_key, version, correlation_id, client_len = struct.unpack(">hhih", data[:10])
    return api_key, version, correlation_id, 10 + max(client_len, 0)


def uvarint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def put_uvarint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def add_sasl_apis(response, version):
    """ApiVersions response frame body with the SASL APIs added (v0-v3+)."""
    correlation, error = struct.unpack(">ih", response[:6])
    if error != 0:
        return response
    pos = 6
    if version >= 3:
        count, pos = uvarint(response, pos)
        count -= 1
        entries = [response[pos + 7 * i: pos + 7 * i + 7] for i in range(count)]
        pos += 7 * count
        extra = [struct.pack(">hhh", *api) + b"\x00" for api in EXTRA_APIS]
        array = put_uvarint(count + len(extra) + 1) + b"".join(entries + extra)
    else:
        count = struct.unpack(">i", response[pos:pos + 4])[0]
        pos += 4
        entries = [response[pos + 6 * i: pos + 6 * i + 6] for i in range(count)]
        pos += 6 * count
        extra = [struct.pack(">hhh", *api) for api in EXTRA_APIS]
        array = struct.pack(">i", count + len(extra)) + b"".join(entries + extra)
    return response[:6] + array + response[pos:]


def sasl_authenticate_response(correlation_id, version, error, message, auth_bytes):
    body = struct.pack(">ih", correlation_id, error)
    if message is None:
        body += struct.pack(">h", -1)
    else:
        encoded = message.encode()
        body += struct.pack(">h", len(encoded)) + encoded
    body += struct.pack(">i", len(auth_bytes)) + auth_bytes
    if version >= 1:
        body += struct.pack(">q", 0)
    return frame(body)


class Front:
    def __init__(self, upstream, mechanism, user, password):
        self.upstream = upstream
        self.mechanism = mechanism
        self.scram = ScramMechanism(mechanism)
        self.credentials = {user: self.scram.make_auth_info(password, iteration_count=4096)}

    def lookup(self, username):
        if username not in self.credentials:
            raise ScramException("unknown user")
        return self.credentials[username]

    async def serve(self, client_r, client_w):
        host, port = self.upstream.rsplit(":", 1)
        up_r, up_w = await asyncio.open_connection(host, int(port))
        try:
            if await self.authenticate(client_r, client_w, up_r, up_w):
                await asyncio.gather(relay(client_r, up_w), relay(up_r, client_w))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            client_w.close()
            up_w.close()

    async def authenticate(self, client_r, client_w, up_r, up_w):
        server = None
        while True:
            data = await read_frame(client_r)
            api_key, version, correlation_id, body = request_header(data)
            if api_key == API_VERSIONS:
                up_w.write(frame(data))
                response = await read_frame(up_r)
                client_w.write(frame(add_sasl_apis(response, version)))
            elif api_key == SASL_HANDSHAKE:
                length = struct.unpack(">h", data[body:body + 2])[0]
                requested = data[body + 2: body + 2 + length].decode()
                error = 0 if requested == self.mechanism else 33
                name = self.mechanism.encode()
                client_w.write(frame(struct.pack(">ihih", correlation_id, error, 1, len(name)) + name))
                server = self.scram.make_server(self.lookup)
            elif api_key == SASL_AUTHENTICATE and server is not None:
                length = struct.unpack(">i", data[body:body + 4])[0]
                token = data[body + 4: body + 4 + length].decode()
                try:
                    if server.stage is None:
                        server.set_client_first(token)
                        reply = server.get_server_first()
                        done = False
                    else:
                        server.set_client_final(token)
                        reply = server.get_server_final()
                        done = True
                except ScramException:
                    message = f"Authentication failed: invalid credentials with SASL mechanism {self.mechanism}"
                    client_w.write(sasl_authenticate_response(correlation_id, version, 58, message, b""))
                    await client_w.drain()
                    return False
                client_w.write(sasl_authenticate_response(correlation_id, version, 0, None, reply.encode()))
                if done:
                    await client_w.drain()
                    return True
            else:
                return False
            await client_w.drain()


async def relay(reader, writer):
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            writer.close()
            return
        writer.write(chunk)
        await writer.drain()


async def main():
    upstream, mechanism, user, password = sys.argv[1:5]
    front = Front(upstream, mechanism, user, password)
    server = await asyncio.start_server(front.serve, "127.0.0.1", 0)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
