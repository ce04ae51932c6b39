#!/usr/bin/env python3
"""Independent SCRAM (RFC 5802) computation with Python's hashlib/hmac.

Prints the client-final and server-final messages of one exchange so that
the Rust state machine (src/sasl/scram.rs) can be checked against an
implementation it shares no code with. The SHA-256 case reproduces the
RFC 7677 section 3 example; the SHA-512 vector in scram.rs's tests is
the output of:

    python3 scripts/scram_vectors.py sha512 user pencil \
        rOprNGfwEbeRWgbNEkqO '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' \
        W22ZaJ0SNY7soEsUEjb6gQ== 4096
"""
import base64
import hashlib
import hmac
import sys


def main(hash_name, user, password, cnonce, snonce_suffix, salt_b64, iterations):
    iterations = int(iterations)
    digest = getattr(hashlib, hash_name)
    nonce = cnonce + snonce_suffix
    client_first_bare = f"n={user},r={cnonce}"
    server_first = f"r={nonce},s={salt_b64},i={iterations}"
    final_without_proof = f"c=biws,r={nonce}"
    auth_message = ",".join([client_first_bare, server_first, final_without_proof])
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), base64.b64decode(salt_b64), iterations)
    client_key = hmac.new(salted, b"Client Key", digest).digest()
    stored_key = digest(client_key).digest()
    client_sig = hmac.new(stored_key, auth_message.encode(), digest).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
    server_key = hmac.new(salted, b"Server Key", digest).digest()
    server_sig = hmac.new(server_key, auth_message.encode(), digest).digest()
    print(f"client-first: n,,{client_first_bare}")
    print(f"server-first: {server_first}")
    print(f"client-final: {final_without_proof},p={base64.b64encode(proof).decode()}")
    print(f"server-final: v={base64.b64encode(server_sig).decode()}")


if __name__ == "__main__":
    main(*sys.argv[1:])
