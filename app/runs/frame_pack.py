"""A streamed frame *packed* (``docs/frames.md``, "Packed frames"): its large float32 arrays as
little-endian bytes after a JSON header, in one binary WebSocket message.

A frame's tensors are rounded to 4 significant digits and stored as float32 before they are
sent (:mod:`app.runs.rounding`); JSON writes each as its shortest decimal (``0.1235``, about
7 bytes and 30 ns of orjson each), packed they are their 4 bytes, copied. The same numbers:
a packed float32 read back is the float32 the JSON's decimal parses to (and the JSON's
decimal is that float32's shortest decimal), so a client can rebuild the JSON frame exactly.

The message::

    uint32 LE n | header: n bytes of UTF-8 JSON (space-padded so that 4 + n is a multiple
    of 4) | float32 LE data, to the end

The header is the frame with each packed array replaced by a *reference*
``{"$f32": offset, "shape": [d_1, ...]}``: the array is ``data[offset : offset + d_1·…]`` in
C order (row-major). Only ``layers``' tensors and edges and ``grid``'s ``output`` (when it is
a number per point) and ``neurons`` are packed; everything else stays JSON.

One reason to change: the packed wire format. What is sent is :mod:`app.runs.frame_doc`'s;
the views whose offsets the references carry are :mod:`app.runs.frame_template`'s and
:mod:`app.runs.grid`'s.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

ENCODINGS = ("json", "f32")  # a stream's ``?encoding=``: JSON text frames, or packed ones
REF = "$f32"  # a reference's key: the offset, in float32 elements, of the packed array
_LENGTH = struct.Struct("<I")
_OPTS = orjson.OPT_SERIALIZE_NUMPY


def ref(offset: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """The header's stand-in for a packed array of ``shape`` at ``offset`` (elements)."""
    return {REF: offset, "shape": list(shape)}


def pack(header: dict[str, Any], data: list[bytes]) -> bytes:
    """The binary message: ``header`` (references into ``data``) encoded, then ``data``
    (float32 LE bytes, joined: the references' offsets count from its start)."""
    head = orjson.dumps(header, option=_OPTS)
    pad = -(_LENGTH.size + len(head)) % 4
    return b"".join([_LENGTH.pack(len(head) + pad), head, b" " * pad, *data])


def unpack(message: bytes) -> dict[str, Any]:
    """A packed frame read back: the header with every reference replaced by its float32
    array ``(shape)`` (a read-only view of ``message``). ``.tolist()`` of such an array gives
    floats equal as float32 to the JSON frame's; ``float(str(v))`` of each gives the JSON's
    own decimal (its shortest, as orjson writes it)."""
    (n,) = _LENGTH.unpack_from(message)
    start = _LENGTH.size + n
    header = orjson.loads(message[_LENGTH.size : start])
    data = np.frombuffer(message, dtype="<f4", offset=start)
    return _resolve(header, data)  # type: ignore[no-any-return]


def _resolve(node: Any, data: NDArray[np.float32]) -> Any:
    if isinstance(node, dict):
        if REF in node:
            shape = tuple(node["shape"])
            at = node[REF]
            return data[at : at + math.prod(shape)].reshape(shape)
        return {k: _resolve(v, data) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, data) for v in node]
    return node
