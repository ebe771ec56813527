"""KHR_draco_mesh_compression: decode each compressed primitive into the values of its accessors.

The extension's ``attributes`` map glTF attribute names to Draco attribute ids; the primitive's own
``attributes`` and ``indices`` name the accessors the decoded values replace (their count, type and
normalized flag describe the decoded result). Declared counts are bounded by gltf_validate
(``max_accessor_count``) and spent from the decode budget before decoding; a decoded result whose
element count or width differs from what its accessor declares is refused.
"""

from __future__ import annotations

import numpy as np

from .extensions import DRACO
from .gltf_doc import DecodeBudget, GltfDocument, bad
from .gltf_validate import TYPE_COMPONENTS


def decode_draco_primitives(doc: GltfDocument, budget: DecodeBudget) -> None:
    """Fill ``doc.decoded`` for every accessor of every Draco primitive and drop the extension."""
    for m, mesh in enumerate(doc.array("meshes")):
        for p, prim in enumerate(mesh.get("primitives", [])):
            extensions = prim.get("extensions")
            if not isinstance(extensions, dict) or DRACO not in extensions:
                continue
            _decode_primitive(doc, prim, extensions[DRACO], budget, f"meshes[{m}].primitives[{p}]")
            del extensions[DRACO]
            if not extensions:
                del prim["extensions"]


def _decode_primitive(doc: GltfDocument, prim: dict, ext: object, budget: DecodeBudget, what: str) -> None:
    where = f"{what}.extensions.{DRACO}"
    if not isinstance(ext, dict) or not isinstance(ext.get("attributes"), dict):
        raise bad(f"{where} must be an object with 'attributes'")
    views, accessors = doc.array("bufferViews"), doc.array("accessors")
    view = ext.get("bufferView")
    if not isinstance(view, int) or isinstance(view, bool) or not 0 <= view < len(views):
        raise bad(f"{where}.bufferView {view!r} is not a buffer view")
    ids: dict[str, int] = {}
    for name, ident in ext["attributes"].items():
        if not isinstance(ident, int) or isinstance(ident, bool) or ident < 0:
            raise bad(f"{where}.attributes.{name} must be a Draco attribute id, got {ident!r}")
        if name in prim["attributes"]:
            ids[name] = ident
    if "POSITION" not in ids:
        raise bad(f"{where} does not compress POSITION")
    points = accessors[prim["attributes"]["POSITION"]]["count"]
    declared = sum(
        accessors[prim["attributes"][name]]["count"] * TYPE_COMPONENTS[accessors[prim["attributes"][name]]["type"]]
        for name in ids
    )
    if "indices" in prim:
        declared += accessors[prim["indices"]]["count"]
    budget.spend(declared * 4, f"{what} (Draco)")

    import DracoPy  # loaded only when a model needs it, in the child

    try:
        decoded = DracoPy.decode(doc.view_bytes(view, where))
    except Exception:
        raise bad(f"{what}: the {DRACO} data could not be decoded (it is damaged)") from None
    by_id = {attr["unique_id"]: attr for attr in decoded.attributes}
    for name, ident in ids.items():
        index = prim["attributes"][name]
        acc = accessors[index]
        if ident not in by_id:
            raise bad(f"{what}: the Draco data has no attribute {ident} ({name})")
        values = np.asarray(by_id[ident]["data"])
        values = values.reshape(len(values), -1)
        if values.shape != (acc["count"], TYPE_COMPONENTS[acc["type"]]):
            raise bad(
                f"{what}: Draco decoded {values.shape[0]} x {values.shape[1]} values for {name}; "
                f"accessors[{index}] declares {acc['count']} x {TYPE_COMPONENTS[acc['type']]}"
            )
        if values.shape[0] != points:
            raise bad(f"{what}: Draco decoded {values.shape[0]} {name} values for {points} positions")
        doc.decoded[index] = values
    faces = getattr(decoded, "faces", None)
    if "indices" not in prim:
        return  # a Draco point cloud, or triangles drawn in order (the decoder's point order)
    index = prim["indices"]
    if faces is None:
        raise bad(f"{what}: the Draco data holds no faces but the primitive has indices")
    flat = np.asarray(faces, dtype=np.uint32).reshape(-1, 1)
    if len(flat) != accessors[index]["count"]:
        raise bad(f"{what}: Draco decoded {len(flat)} indices; accessors[{index}] declares {accessors[index]['count']}")
    if len(flat) and int(flat.max()) >= points:
        raise bad(f"{what}: Draco indices reach vertex {int(flat.max())} of {points}")
    doc.decoded[index] = flat
