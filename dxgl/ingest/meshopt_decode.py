"""EXT_meshopt_compression: decode every compressed buffer view into its plain bytes.

Modes ATTRIBUTES (vertex codec), TRIANGLES (index codec) and INDICES (index sequence codec); filters
NONE, OCTAHEDRAL, QUATERNION and EXPONENTIAL, applied after decoding. gltf_validate has already
checked each extension object (its compressed range inside a buffer with bytes, count and
byteStride bounded, count x byteStride == the view's byteLength); the sum of the declared sizes is
spent from the decode budget before anything is decoded.
"""

from __future__ import annotations

import numpy as np

from .extensions import MESHOPT
from .gltf_doc import DecodeBudget, GltfDocument, bad


def decode_meshopt_views(doc: GltfDocument, budget: DecodeBudget) -> None:
    """Replace ``doc.views[i]`` of every meshopt-compressed view with its count x byteStride decoded
    bytes, and drop the extension from the view."""
    compressed = [
        (i, view["extensions"][MESHOPT])
        for i, view in enumerate(doc.array("bufferViews"))
        if isinstance(view.get("extensions"), dict) and MESHOPT in view["extensions"]
    ]
    if not compressed:
        return
    budget.spend(sum(ext["count"] * ext["byteStride"] for _, ext in compressed), MESHOPT)
    import meshoptimizer  # loaded only when a model needs it, in the child

    for i, ext in compressed:
        source = doc.buffers[ext["buffer"]]
        if source is None:  # validated; kept as a guard
            raise bad(f"bufferViews[{i}].extensions.{MESHOPT}.buffer holds no data")
        start = ext.get("byteOffset", 0)
        data = source[start : start + ext["byteLength"]]
        doc.views[i] = _decode(meshoptimizer, data, ext, f"bufferViews[{i}]")
        view = doc.array("bufferViews")[i]
        del view["extensions"][MESHOPT]
        if not view["extensions"]:
            del view["extensions"]


def _decode(meshoptimizer: object, data: bytes, ext: dict, what: str) -> bytes:
    """The decoded bytes (count x byteStride) of one compressed view."""
    count, stride, mode = ext["count"], ext["byteStride"], ext["mode"]
    size = count * stride
    mo = meshoptimizer
    try:
        if mode == "ATTRIBUTES":
            raw = np.ascontiguousarray(mo.decode_vertex_buffer(count, stride, data)).view(np.uint8).reshape(-1)  # type: ignore[attr-defined]
            raw = _filter(mo, raw, ext.get("filter", "NONE"), count, stride)
        elif mode == "TRIANGLES":
            # The wrapper returns a uint32 array of ``count`` whose first count x stride bytes hold the indices.
            raw = mo.decode_index_buffer(count, stride, data).view(np.uint8)  # type: ignore[attr-defined]
        else:
            raw = mo.decode_index_sequence(count, stride, data).view(np.uint8)  # type: ignore[attr-defined]
    except (RuntimeError, ValueError):
        raise bad(
            f"{what}: the {MESHOPT} data could not be decoded (it is damaged, or its byteLength does not "
            "match the compressed stream)"
        ) from None
    out = raw[:size].tobytes()
    if len(out) != size:
        raise bad(f"{what}: {MESHOPT} decoded {len(out)} bytes; the view declares {size}")
    return out


def _filter(mo: object, raw: np.ndarray, name: str, count: int, stride: int) -> np.ndarray:
    """(count x stride,) uint8 decoded bytes with the view's filter undone (a new array)."""
    if name == "OCTAHEDRAL":
        return mo.decode_filter_oct(raw, count, stride)  # type: ignore[attr-defined, no-any-return]
    if name == "QUATERNION":
        return mo.decode_filter_quat(raw, count, stride)  # type: ignore[attr-defined, no-any-return]
    if name == "EXPONENTIAL":
        return mo.decode_filter_exp(raw, count, stride)  # type: ignore[attr-defined, no-any-return]
    return raw
