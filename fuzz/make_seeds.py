#!/usr/bin/env python3
"""Writes the hand-made seed corpora under fuzz/corpus/<target>/ (run from anywhere).

Each seed is named after what it holds; the input layouts are described at the
top of each fuzz_targets/*.rs file."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(fin, opcode, payload, mask=b"\x00\x00\x00\x00", rsv=0):
    out = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    if n < 126:
        out += bytes([0x80 | n])
    elif n <= 0xFFFF:
        out += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        out += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return out + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def reader_input(wire, fragment=None, max_units=64, splits=(), rsv1=False, max_frames=0, client=False):
    """fragment: None or 0..63; max_message_size = max_units * 4 (255 = 1 MiB);
    max_frames: 1..15 sets max_fragments (0 = default); at most 15 splits;
    client: the reader takes the client role (server frames, unmasked)."""
    mode = (0 if fragment is None else 1) | (0x80 if rsv1 else 0)
    cfg = bytes([mode, (fragment or 0) | (0x80 if client else 0), max_units, max_frames << 4 | len(splits)])
    return cfg + bytes(splits) + wire


M = b"\x37\xfa\x21\x3d"
seeds = {"frame_reader": {}, "handshake": {}, "response": {}, "utf8": {}}
fr = seeds["frame_reader"]
fr["text_hello"] = reader_input(frame(True, 1, b"Hello"))
fr["text_hello_masked"] = reader_input(frame(True, 1, b"Hello", M))
fr["binary_split"] = reader_input(frame(True, 2, bytes(range(40)), M), splits=(1, 2, 5, 0, 7))
fr["fragmented_text"] = reader_input(
    frame(False, 1, "κό".encode(), M) + frame(True, 9, b"hi", M) + frame(True, 0, "σμε".encode(), M)
)
fr["ping_pong_close"] = reader_input(
    frame(True, 9, b"ping", M) + frame(True, 10, b"", M) + frame(True, 8, struct.pack(">H", 1000) + b"bye", M)
)
fr["close_empty"] = reader_input(frame(True, 8, b""))
fr["len126_binary"] = reader_input(frame(True, 2, bytes(200), M), max_units=100, splits=(3, 1, 1))
fr["len127_header"] = reader_input(bytes([0x82, 0xFF]) + struct.pack(">Q", 70000) + M + b"abc", max_units=255)
fr["too_big"] = reader_input(frame(True, 2, bytes(30)), max_units=4)
fr["stream_text"] = reader_input(frame(True, 1, "€𝄞 streaming text".encode(), M), fragment=5, splits=(4, 9))
fr["stream_fragmented"] = reader_input(
    frame(False, 2, bytes(range(12)), M) + frame(False, 0, b"", M) + frame(True, 0, bytes(range(9)), M), fragment=4
)
# Ends with an empty final frame: the last non-empty piece says remaining 1, then 0 bytes follow.
fr["stream_empty_final"] = reader_input(frame(False, 2, bytes(range(12))) + frame(True, 0, b""), fragment=4)
fr["bad_utf8"] = reader_input(frame(True, 1, b"ab\xed\xa0\x80cd", M), splits=(9,))
fr["rsv1_allowed"] = reader_input(frame(True, 2, b"\x01\x02\x03", M, rsv=0x40), rsv1=True)
fr["rsv1_streamed_text"] = reader_input(
    frame(False, 1, "compressed €".encode(), M, rsv=0x40) + frame(True, 0, " text".encode(), M), fragment=3, rsv1=True
)
fr["max_fragments"] = reader_input(
    frame(False, 2, b"a", M) + frame(False, 0, b"b", M) + frame(False, 0, b"", M) + frame(True, 0, b"c", M), max_frames=3
)
fr["unmasked"] = reader_input(b"\x81\x02hi")
# The client role: server frames come unmasked; a masked one is refused.
fr["client_text_and_close"] = reader_input(b"\x81\x05Hello\x89\x00\x88\x02\x03\xe8", client=True)
fr["client_fragmented"] = reader_input(b"\x01\x02ab\x80\x01c", client=True, fragment=2, splits=(3,))
fr["client_masked_refused"] = reader_input(frame(True, 1, b"Hello", M), client=True)

hs = seeds["handshake"]
upgrade = (
    b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
)
hs["upgrade"] = bytes([16, 0]) + upgrade
hs["upgrade_with_frame"] = bytes([16, 0]) + upgrade + frame(True, 1, b"Hello", M)
hs["upgrade_small_limit"] = bytes([3, 20]) + upgrade
hs["plain_get"] = bytes([16, 0]) + b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
hs["plain_post"] = bytes([16, 0]) + b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
hs["chunked"] = bytes([16, 0]) + b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
hs["http10"] = bytes([16, 0]) + b"GET / HTTP/1.0\r\n\r\n"
hs["bad_version"] = bytes([16, 0]) + upgrade.replace(b"Version: 13", b"Version: 8")
hs["partial"] = bytes([16, 0]) + upgrade[:60]

rs = seeds["response"]
switching = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
)
rs["switching"] = bytes([16, 0]) + switching
rs["switching_with_frame"] = bytes([16, 0]) + switching + b"\x81\x02hi"
rs["not_found"] = bytes([16, 0]) + b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
rs["chunked"] = bytes([16, 0]) + b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: 1\r\n\r\n"
rs["http10_until_close"] = bytes([16, 0]) + b"HTTP/1.0 302 Found\r\nLocation: /elsewhere\r\n\r\nbody"
rs["small_limit"] = bytes([2, 12]) + switching
rs["garbage"] = bytes([16, 0]) + b"SSH-2.0-OpenSSH_9.2\r\n"

u = seeds["utf8"]
u["ascii"] = b"\x00hello, world"
u["mixed_split"] = bytes([3, 2, 1, 3]) + "κόσμε 𝄞 €".encode()
u["four_byte_cuts"] = bytes([4, 1, 1, 1, 0]) + "𝄞𝄞".encode()
u["surrogate"] = bytes([1, 2]) + b"\xed\xa0\x80"
u["overlong"] = bytes([1, 1]) + b"\xc0\xaf"
u["too_high"] = bytes([0]) + b"\xf4\x90\x80\x80"
u["truncated"] = bytes([1, 3]) + b"ok\xe2\x82"

# deflate: [flags, limit units] then u16-LE-length-prefixed messages (fuzz_targets/deflate.rs).
import zlib


def raw_deflate(data, keep=None):
    """A client's compressed message: raw deflate, sync flush, 4-byte tail removed."""
    c = keep or zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def deflate_input(flags, limit_units, msgs):
    return bytes([flags, limit_units]) + b"".join(struct.pack("<H", len(m)) + m for m in msgs)


d = seeds["deflate"] = {}
d["hello"] = deflate_input(0, 4, [raw_deflate(b"Hello")])
d["empty_and_stored"] = deflate_input(0, 4, [b"", b"\x00", raw_deflate(b"")])
shared = zlib.compressobj(6, zlib.DEFLATED, -15)
d["takeover"] = deflate_input(1, 16, [raw_deflate(b"abcabcabc" * 8, shared), raw_deflate(b"abcabcabc" * 8, shared)])
d["bomb_over_limit"] = deflate_input(0, 2, [raw_deflate(b"\x00" * 100000)])
d["garbage"] = deflate_input(0, 4, [b"\xff\xff\xff\xff\x00\x01"])
d["round_trip"] = deflate_input(0x62, 255, [b"round trip me", bytes(range(256)), b""])
d["round_trip_takeover"] = deflate_input(0x93, 255, [b"same same same", b"same same same"])
d["offers"] = deflate_input(0, 1, [
    b"permessage-deflate; client_max_window_bits",
    b"permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
    b"permessage-deflate; server_max_window_bits=8, permessage-deflate",
    b'permessage-deflate; client_max_window_bits="12"',
])

for target, files in seeds.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    seen = set()
    for name, data in files.items():
        h = hashlib.sha1(data).hexdigest()
        assert h not in seen, name
        seen.add(h)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
