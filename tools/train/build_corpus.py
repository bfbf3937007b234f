#!/usr/bin/env python3
"""Builds the training corpus of allm-tiny from public-domain English texts shipped in Debian.

Sources (all public domain; see docs/shipped-model.md for the licence notes):
  * Jane Austen's six novels      - package r-cran-janeaustenr (R lazy-load data, read here directly)
  * King James Bible (1611)       - package bible-kjv (+ bible-kjv-text), dumped with `bible`
  * Spurgeon, Treasury of David   - package sword-comm-tdavid, dumped with `diatheke` (package diatheke)

Install them with
  apt-get install -y bible-kjv diatheke sword-comm-tdavid
  apt-get download r-cran-janeaustenr && dpkg-deb -x r-cran-janeaustenr_*.deb /tmp/austen
then run
  AUSTEN_RDB=/tmp/austen/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb \
      python3 tools/train/build_corpus.py OUT.json.gz

The output is one gzip'd JSON object: {"sources": [{"name", "licence", "paragraphs": [...]}, ...]},
paragraphs in reading order. Splitting into training and held-out text is done by train_tiny.py.
Only the Python standard library is used.
"""
import gzip
import hashlib
import json
import re
import struct
import subprocess
import sys
import zlib

import os

# The R package is data only; unpacking its .deb (apt-get download + dpkg-deb -x) avoids installing R.
AUSTEN_RDB = os.environ.get("AUSTEN_RDB", "/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb")


def read_r_lazyload_entries(path):
    """An R lazy-load database is a concatenation of (4-byte big-endian length, zlib stream)."""
    data = open(path, "rb").read()
    pos, entries = 0, []
    while pos < len(data):
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data[pos + 4:])
        pos = len(data) - len(inflater.unused_data)
        entries.append(raw)
    return entries


class RUnserializer:
    """Just enough of R's XDR serialization format to read a character vector."""

    def __init__(self, blob):
        self.blob, self.pos = blob, 0

    def _int(self):
        value = struct.unpack(">i", self.blob[self.pos:self.pos + 4])[0]
        self.pos += 4
        return value

    def character_vector(self):
        if self.blob[:2] != b"X\n":
            raise ValueError("not an XDR R serialization")
        self.pos = 2
        version = self._int()
        self._int()  # writer R version
        self._int()  # minimal reader version
        if version == 3:
            name_length = self._int()  # native encoding name follows
            self.pos += name_length
        flags = self._int()
        if flags & 0xFF != 16:  # STRSXP
            raise ValueError("entry is not a character vector")
        strings = []
        for _ in range(self._int()):
            self._int()  # CHARSXP flags
            length = self._int()
            if length < 0:
                strings.append("")
                continue
            strings.append(self.blob[self.pos:self.pos + length].decode("utf-8"))
            self.pos += length
        return strings


def austen_paragraphs():
    """Each novel is a vector of text lines; empty lines separate paragraphs. Underscores (the
    italics markers of the Gutenberg text) are dropped."""
    paragraphs = []
    for blob in read_r_lazyload_entries(AUSTEN_RDB):
        lines = RUnserializer(blob).character_vector()
        current = []
        for line in lines + [""]:
            if line.strip():
                current.append(line.strip().replace("_", ""))  # _x_ marks italics
            elif current:
                paragraphs.append(" ".join(current))
                current = []
    return paragraphs


def kjv_paragraphs():
    """`bible` prints '<Book> <chapter>' headings and numbered verses wrapped at 80 columns.
    Each chapter becomes one paragraph of running text (verse numbers dropped)."""
    text = subprocess.run(["bible", "gen1:1-rev22:21"], capture_output=True, text=True,
                          check=True).stdout
    paragraphs, verses = [], []
    for line in text.splitlines():
        verse = re.match(r"^\s+\d+ (.*)$", line)
        if verse:
            verses.append(verse.group(1).strip())
        elif re.match(r"^\S.* \d+$", line):  # chapter heading
            if verses:
                paragraphs.append(" ".join(verses))
            verses = []
        elif line.strip():  # continuation of a wrapped verse
            verses[-1] += " " + line.strip()
    if verses:
        paragraphs.append(" ".join(verses))
    return paragraphs


def tdavid_paragraphs():
    """diatheke prints one entry per line ('Psalms c:v: ...'); '  * ' starts a paragraph inside an
    entry and '*' marks emphasis, which is dropped."""
    text = subprocess.run(["diatheke", "-b", "TDavid", "-f", "plain", "-k", "Psalms 1:1-150:6"],
                          capture_output=True, text=True, check=True).stdout
    paragraphs = []
    for line in text.splitlines():
        line = re.sub(r"^Psalms \d+:\d+: ", "", line)
        for piece in re.split(r"\s{2}\*\s", line):
            piece = re.sub(r"\s+", " ", piece.replace("*", " ")).strip()
            piece = re.sub(r" ([,;:.!?])", r"\1", piece)
            if len(piece) >= 40:
                paragraphs.append(piece)
    return paragraphs


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: build_corpus.py OUT.json.gz")
    sources = [
        {"name": "austen", "licence": "public domain (novels 1811-1818); packaged MIT in r-cran-janeaustenr",
         "paragraphs": austen_paragraphs()},
        {"name": "kjv", "licence": "public domain (1611); packaged in bible-kjv-text",
         "paragraphs": kjv_paragraphs()},
        {"name": "tdavid", "licence": "public domain (1869-1885); packaged in sword-comm-tdavid",
         "paragraphs": tdavid_paragraphs()},
    ]
    for source in sources:
        chars = sum(len(p) for p in source["paragraphs"])
        words = sum(len(p.split()) for p in source["paragraphs"])
        print(f"{source['name']}: {len(source['paragraphs'])} paragraphs, {words} words, {chars} chars")
    payload = json.dumps({"sources": sources}, ensure_ascii=False).encode("utf-8")
    # No file name and mtime 0 in the gzip header: the same inputs give the same bytes.
    with open(sys.argv[1], "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as out:
        out.write(payload)
    print(f"sha256 of the uncompressed JSON: {hashlib.sha256(payload).hexdigest()}")


if __name__ == "__main__":
    main()
