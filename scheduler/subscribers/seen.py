"""The addresses an import has read so far, each with the line it was first on, in 16
bytes a slot: a million-row file is checked for repeats in 24 MB rather than the
~150 MB a dict of its strings takes (BENCHMARKS.md, import).

An open-addressing table (linear probing) of two independent hashes of the lower-cased
address, Python's 64-bit string hash and CRC-32, so two different addresses are taken
for one only when both agree: about one chance in 10^17 in a million-row file."""

from __future__ import annotations

import zlib
from array import array

_MASK = (1 << 64) - 1
#: the fullest a table gets before it doubles: probes stay few (about 6 for a new
#: address at 0.7, Knuth's estimate for linear probing, each a few array reads)
_LOAD = 0.7
_LINE_MAX = 0xFFFF_FFFF


class SeenAddresses:
    def __init__(self, capacity: int = 1 << 16) -> None:
        self._size = 0
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        self._capacity = capacity
        self._limit = int(capacity * _LOAD)
        #: 0 marks a free slot; a stored hash is never 0 (see first_line)
        self._hash = array("Q", bytes(8 * capacity))
        self._crc = array("I", bytes(4 * capacity))
        self._line = array("I", bytes(4 * capacity))

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        return self._capacity

    def reserve(self, expected: int) -> None:
        """Make room for ``expected`` addresses at once, and no more: one move of the
        table early, instead of a doubling (and both tables held) at each power of two."""
        capacity = int(expected / _LOAD) + 1
        if capacity > self._capacity:
            self._move(capacity)

    def first_line(self, key: str, line: int) -> int | None:
        """The line ``key`` was first seen on; None if it is new, and it is then
        remembered as seen on ``line``."""
        h = (hash(key) & _MASK) | 1
        crc = zlib.crc32(key.encode("utf-8", "surrogatepass"))
        table, capacity = self._hash, self._capacity
        i = h % capacity
        while True:
            there = table[i]
            if there == 0:
                break
            if there == h and self._crc[i] == crc:
                return self._line[i]
            i += 1
            if i == capacity:
                i = 0
        table[i], self._crc[i], self._line[i] = h, crc, min(line, _LINE_MAX)
        self._size += 1
        if self._size > self._limit:
            self._move(self._capacity * 2)
        return None

    def _move(self, capacity: int) -> None:
        hashes, crcs, lines = self._hash, self._crc, self._line
        self._alloc(capacity)
        table = self._hash
        for h, crc, line in zip(hashes, crcs, lines, strict=True):
            if h:
                i = h % capacity
                while table[i]:
                    i = i + 1 if i + 1 < capacity else 0
                table[i], self._crc[i], self._line[i] = h, crc, line
