#!/bin/sh
# Regenerates the example site's derived files: img/logo.png (drawn by a
# few lines of Python with zlib/struct, so no imaging library is needed)
# and the precompressed siblings (.gz, .br) that asg-health sends to clients
# that accept them.  The outputs are committed; rerun this after editing
# index.html or css/site.css.  Deterministic: gzip -n stores no name or
# time, so a rerun on unchanged sources changes no bytes.
# Needs: python3, gzip, brotli (Debian package brotli).
set -eu
cd "$(dirname "$0")/site"

/usr/bin/python3 - img/logo.png <<'PY'
# 64x64 RGBA: an orange rounded square with a white pulse line, drawn at
# 4x and averaged down for smooth edges.
import struct, sys, zlib

N, S = 64, 4
W = N * S
ORANGE = (216, 102, 19)
WHITE = (255, 255, 255)
# Pulse line as polyline points in 0..64 space.
PULSE = [(8, 34), (22, 34), (27, 22), (33, 46), (38, 28), (42, 34), (56, 34)]


def in_rounded_square(x, y):
    r, lo, hi = 12.0, 2.0, 62.0
    if not (lo <= x <= hi and lo <= y <= hi):
        return False
    cx = min(max(x, lo + r), hi - r)
    cy = min(max(y, lo + r), hi - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def dist_to_segment(px, py, a, b):
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = ((px - ax) * dx + (py - ay) * dy) / float(dx * dx + dy * dy)
    t = min(max(t, 0.0), 1.0)
    qx, qy = ax + t * dx, ay + t * dy
    return ((px - qx) ** 2 + (py - qy) ** 2) ** 0.5


def sample(x, y):
    if not in_rounded_square(x, y):
        return None
    for a, b in zip(PULSE, PULSE[1:]):
        if dist_to_segment(x, y, a, b) <= 2.6:
            return WHITE
    return ORANGE


rows = []
for py in range(N):
    row = bytearray([0])  # filter type 0 (None) for each scanline
    for px in range(N):
        acc = [0, 0, 0, 0]
        for sy in range(S):
            for sx in range(S):
                c = sample(px + (sx + 0.5) / S, py + (sy + 0.5) / S)
                if c is not None:
                    acc[0] += c[0]
                    acc[1] += c[1]
                    acc[2] += c[2]
                    acc[3] += 1
        n = acc[3]
        if n == 0:
            row += bytes(4)
        else:
            row += bytes([acc[0] // n, acc[1] // n, acc[2] // n, n * 255 // (S * S)])
    rows.append(bytes(row))


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


png = b"\x89PNG\r\n\x1a\n"
png += chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
png += chunk(b"IEND", b"")
with open(sys.argv[1], "wb") as f:
    f.write(png)
PY

for f in index.html css/site.css; do
	gzip -9 -n -k -f "$f"
	brotli -q 11 -k -f "$f"
	# The siblings must carry the source's mtime, not a newer one, so a
	# server that compares them sees one version of the file.
	touch -r "$f" "$f.gz" "$f.br"
done
