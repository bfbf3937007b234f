#!/usr/bin/env python3
"""Writes the binary media test fixtures: PNG and PDFs by hand (standard library only).
The JPEG was written once with stb_image_write (libstb-dev): an 8x8 RGB image of
colour (200, 100, 50), quality 95 — see README.md."""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def make_png():
    # 4x3 RGB; pixel (x, y) = (60x, 100y, 200).
    w, h = 4, 3
    raw = b"".join(b"\x00" + b"".join(bytes((60 * x, 100 * y, 200)) for x in range(w)) for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw))
            + png_chunk(b"IEND", b""))


def make_pdf(page_texts, encrypt=False):
    """A PDF with one page per entry of page_texts (None = a page without content)."""
    objects = {}
    n_pages = len(page_texts)
    page_ids = [3 + 2 * i for i in range(n_pages)]
    font_id = 3 + 2 * n_pages
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    objects[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n_pages
    for pid, text in zip(page_ids, page_texts):
        content_id = pid + 1
        objects[pid] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Resources << /Font << /F1 %d 0 R >> >>"
                        b" /Contents %d 0 R >>" % (font_id, content_id))
        stream = b"" if text is None else b"BT /F1 12 Tf 20 150 Td (" + text.encode("latin-1") + b") Tj ET"
        objects[content_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    objects[font_id] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    encrypt_id = None
    if encrypt:
        # Standard security handler, revision 2, with O/U entries no empty password
        # matches: any reader needs the (unknown) user password.
        encrypt_id = font_id + 1
        objects[encrypt_id] = (b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <" + b"a5" * 32 + b"> /U <"
                               + b"3c" * 32 + b"> >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for oid in sorted(objects):
        offsets[oid] = len(out)
        out += b"%d 0 obj\n" % oid + objects[oid] + b"\nendobj\n"
    xref_at = len(out)
    count = max(objects) + 1
    out += b"xref\n0 %d\n" % count + b"0000000000 65535 f \n"
    for oid in range(1, count):
        out += b"%010d 00000 n \n" % offsets[oid]
    trailer = b"<< /Size %d /Root 1 0 R" % count
    if encrypt_id:
        trailer += b" /Encrypt %d 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]" % encrypt_id
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


if __name__ == "__main__":
    write("pixels.png", make_png())
    write("two_pages.pdf", make_pdf(["Hello from page one.", "Second page text."]))
    write("encrypted.pdf", make_pdf(["Secret text."], encrypt=True))
    write("no_text.pdf", make_pdf([None]))
    write("corrupt.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + b"\x00\x9f garbage" * 20)
    write("not_really.png", b"this is plain text wearing a .png name\n")
