"""An in-memory glTF document for decoding, and the builder of the one buffer a plain GLB writes.

:class:`GltfDocument` holds a validated GLB's JSON and the bytes of each buffer view (None while a
view is still EXT_meshopt_compression-compressed); :meth:`GltfDocument.values` and
:meth:`GltfDocument.floats` read any accessor as a numpy array (byteStride, sparse substitution,
normalized integers and values decoded by an extension, such as Draco's, all handled).
:class:`BinBuilder` lays out new, tightly packed accessors and images in one buffer.

Only the ingest child imports this module (numpy loads there, under the child's limits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .glb import read_glb
from .gltf_validate import COMPONENT_SIZES, TYPE_COMPONENTS, is_fallback_buffer, validate_document
from .limits import IngestLimits

COMPONENT_DTYPES: dict[int, np.dtype] = {
    5120: np.dtype("<i1"),
    5121: np.dtype("<u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
COMPONENT_TYPES: dict[np.dtype, int] = {dtype: code for code, dtype in COMPONENT_DTYPES.items()}
GLTF_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
# glTF 2.0, "Animations" / KHR_mesh_quantization: normalized integer c -> float f.
_NORMALIZE_DIVISOR = {
    np.dtype("<i1"): 127.0,
    np.dtype("<u1"): 255.0,
    np.dtype("<i2"): 32767.0,
    np.dtype("<u2"): 65535.0,
}
TARGET_ARRAY_BUFFER = 34962
TARGET_ELEMENT_ARRAY_BUFFER = 34963


def bad(message: str) -> DxglError:
    """The error of a damaged or unsafe file found while decoding: ``GLB: <glTF path>: <what>``."""
    return DxglError(ErrorCode.INVALID_MODEL, f"GLB: {message}")


def dequantize(values: NDArray, normalized: bool) -> NDArray[np.float32]:
    """(N, C) integer or float values -> (N, C) float32, by the glTF formulas when ``normalized``:
    c / 255 (UNSIGNED_BYTE), c / 65535 (UNSIGNED_SHORT), max(c / 127, -1) (BYTE), max(c / 32767, -1)
    (SHORT). Unnormalized integers keep their value."""
    divisor = _NORMALIZE_DIVISOR.get(values.dtype) if normalized else None
    if divisor is None:
        return values.astype(np.float32)
    out = values.astype(np.float32) / np.float32(divisor)
    if values.dtype.kind == "i":
        np.maximum(out, np.float32(-1.0), out=out)
    return out


@dataclass
class DecodeBudget:
    """Bytes every decoding step may still allocate (``limits.max_decoded_bytes`` in all). ``spend``
    is called with a size computed from what the JSON declares, before the allocation."""

    limits: IngestLimits
    spent: int = 0

    def spend(self, nbytes: int, what: str) -> None:
        self.spent += nbytes
        if self.spent > self.limits.max_decoded_bytes:
            raise bad(
                f"{what} would decode to more than {self.limits.max_decoded_bytes // (1024 * 1024)} MiB "
                "of geometry in all; the model is too large to read"
            )


@dataclass
class GltfDocument:
    """A validated GLB in memory. ``views[i]`` are the bytes of ``bufferViews[i]`` (None while still
    meshopt-compressed); ``buffers[i]`` the bytes of each buffer (None for a meshopt fallback buffer);
    ``decoded[a]`` the (count, components) values an extension decoded for ``accessors[a]`` (Draco);
    ``images[i]`` replacement bytes of ``images[i]`` (a transcoded KTX2)."""

    json: dict
    buffers: list[bytes | None]
    views: list[bytes | None]
    label: str
    decoded: dict[int, NDArray] = field(default_factory=dict)
    images: dict[int, bytes] = field(default_factory=dict)

    def array(self, key: str) -> list[dict]:
        """A top-level array of the JSON (validated: a list of objects), [] when absent."""
        value = self.json.get(key)
        return value if isinstance(value, list) else []

    def view_bytes(self, index: int, what: str) -> bytes:
        data = self.views[index]
        if data is None:
            raise bad(f"{what}: bufferViews[{index}] holds no data")
        return data

    def image_bytes(self, index: int) -> bytes:
        """The encoded bytes of ``images[index]`` (its replacement when one was made)."""
        if index in self.images:
            return self.images[index]
        image = self.array("images")[index]
        if "bufferView" not in image:
            raise bad(f"images[{index}] has no bufferView")
        return self.view_bytes(image["bufferView"], f"images[{index}]")

    def values(self, index: int) -> NDArray:
        """``accessors[index]`` as a (count, components) array of its stored component type, sparse
        substitution applied (MAT types: (count, 4 / 9 / 16), columns of 4-byte components)."""
        what = f"accessors[{index}]"
        if index in self.decoded:
            return self.decoded[index]
        acc = self.array("accessors")[index]
        dtype = COMPONENT_DTYPES[acc["componentType"]]
        components = TYPE_COMPONENTS[acc["type"]]
        count = acc["count"]
        if "bufferView" in acc:
            out = self._strided(acc["bufferView"], acc.get("byteOffset", 0), count, dtype, components, what)
        else:
            out = np.zeros((count, components), dtype)  # glTF: an accessor without a view is zeros
        sparse = acc.get("sparse")
        if sparse is not None:
            self._apply_sparse(out, sparse, what)
        return out

    def floats(self, index: int) -> NDArray[np.float32]:
        """``accessors[index]`` as (count, components) float32, normalized integers dequantized."""
        acc = self.array("accessors")[index]
        return dequantize(self.values(index), bool(acc.get("normalized", False)))

    def _strided(
        self, view_index: int, offset: int, count: int, dtype: np.dtype, components: int, what: str
    ) -> NDArray:
        data = self.view_bytes(view_index, what)
        element = dtype.itemsize * components
        stride = self.array("bufferViews")[view_index].get("byteStride") or element
        end = offset + stride * (count - 1) + element
        if end > len(data):  # validated before; decoded views are checked again here
            raise bad(f"{what} needs {end} bytes but bufferViews[{view_index}] has {len(data)}")
        raw = np.frombuffer(data, np.uint8, count=end - offset, offset=offset)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(count, element), strides=(stride, 1))
        return np.array(rows).view(dtype).reshape(count, components)  # a writable copy

    def _apply_sparse(self, out: NDArray, sparse: dict, what: str) -> None:
        count = sparse["count"]
        indices_info, values_info = sparse["indices"], sparse["values"]
        index_type = indices_info.get("componentType")
        if index_type not in (5121, 5123, 5125):
            raise bad(f"{what}.sparse.indices.componentType {index_type!r} must be an unsigned integer type")
        indices = self._strided(
            indices_info["bufferView"],
            indices_info.get("byteOffset", 0),
            count,
            COMPONENT_DTYPES[index_type],
            1,
            f"{what}.sparse.indices",
        )[:, 0].astype(np.int64)
        if indices.size and int(indices.max()) >= len(out):
            raise bad(f"{what}.sparse.indices reach element {int(indices.max())} of {len(out)}")
        # Sparse values have no byteStride of their own: tightly packed.
        view = self.view_bytes(values_info["bufferView"], f"{what}.sparse.values")
        start = values_info.get("byteOffset", 0)
        nbytes = count * out.shape[1] * out.dtype.itemsize
        if start + nbytes > len(view):
            raise bad(f"{what}.sparse.values need {start + nbytes} bytes but their view has {len(view)}")
        values = np.frombuffer(view, out.dtype, count=count * out.shape[1], offset=start).reshape(count, -1)
        out[indices] = values


def load_document(path: Path, limits: IngestLimits, label: str) -> GltfDocument:
    """Read and validate a self-contained GLB: buffer 0 is its BIN chunk, any other buffer an
    EXT_meshopt_compression fallback buffer (no bytes). Raises DxglError invalid_model."""
    contents = read_glb(path, limits)
    doc = contents.document
    raw_buffers = doc.get("buffers") or []
    if not isinstance(raw_buffers, list):
        raise bad("'buffers' must be an array")
    buffers: list[bytes | None] = []
    for i, buffer in enumerate(raw_buffers):
        if i == 0 and isinstance(buffer, dict) and "uri" not in buffer and contents.bin_chunk is not None:
            buffers.append(contents.bin_chunk)
        elif is_fallback_buffer(buffer):
            buffers.append(None)
        else:
            raise bad(f"buffers[{i}] is neither the GLB BIN chunk nor an EXT_meshopt_compression fallback buffer")
    validate_document(doc, [None if b is None else len(b) for b in buffers], limits)
    views: list[bytes | None] = []
    for view in doc.get("bufferViews") or []:
        source = buffers[view["buffer"]]
        start = view.get("byteOffset", 0)
        views.append(None if source is None else source[start : start + view["byteLength"]])
    return GltfDocument(json=doc, buffers=buffers, views=views, label=label)


def element_bytes(acc: dict) -> int:
    """Bytes of one element of an accessor's stored type (validated componentType and type)."""
    return COMPONENT_SIZES[acc["componentType"]] * TYPE_COMPONENTS[acc["type"]]


@dataclass
class BinBuilder:
    """The one buffer of a plain GLB: views appended 4-byte aligned, tightly packed (no byteStride),
    so every vertex attribute whose element size is a multiple of 4 is valid glTF as written."""

    budget: DecodeBudget
    blob: bytearray = field(default_factory=bytearray)
    views: list[dict] = field(default_factory=list)
    accessors: list[dict] = field(default_factory=list)

    def add_view(self, data: bytes, target: int | None = None) -> int:
        self.budget.spend(len(data), "the decoded model")
        self.blob.extend(b"\x00" * (-len(self.blob) % 4))
        view: dict = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob.extend(data)
        self.views.append(view)
        return len(self.views) - 1

    def add_accessor(
        self,
        values: NDArray,
        gltf_type: str,
        *,
        normalized: bool = False,
        target: int | None = None,
        bounds: bool = False,
    ) -> int:
        """Append ``values`` (count, components) of a glTF component dtype as a new accessor;
        ``bounds`` adds min/max (required on POSITION) when every value is finite."""
        values = np.ascontiguousarray(values)
        count = values.shape[0]
        acc: dict = {
            "componentType": COMPONENT_TYPES[values.dtype],
            "count": count,
            "type": gltf_type,
        }
        if normalized:
            acc["normalized"] = True
        if count:
            acc["bufferView"] = self.add_view(values.tobytes(), target)
        else:  # glTF accessors need count >= 1: one zero element, never referenced by an index
            acc["count"] = 1
            acc["bufferView"] = self.add_view(b"\x00" * values.dtype.itemsize * max(values.shape[1], 1), target)
        if bounds and count and np.isfinite(values).all():
            acc["min"] = values.min(axis=0).tolist()
            acc["max"] = values.max(axis=0).tolist()
        self.accessors.append(acc)
        return len(self.accessors) - 1
