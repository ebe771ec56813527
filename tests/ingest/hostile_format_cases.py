"""Hostile USD / STL / PLY uploads, each a (name, builder(tmp_dir) -> Path, expected_code), and the
builders of the good test models those formats are tested with (a tall box, 0.1 x 0.3 x 0.1 m).

The same shape as ``hostile_cases.py``: ``FORMAT_HOSTILE_CASES`` and ``FORMAT_MESSAGE_HINTS[name]`` (a
fragment the error message must contain). Builders write every file themselves (USD with usd-core,
STL and PLY with trimesh or by hand) and give the same bytes every call.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from . import builders as b

Builder = Callable[[Path], Path]

BOX_M = (0.1, 0.3, 0.1)  # width, height (up), depth in metres
TEXTURE_RGB = (200, 30, 30)


def png_bytes(rgb=TEXTURE_RGB, size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(out, format="PNG")
    return out.getvalue()


# --- good models ------------------------------------------------------------------------------------


def _box_quads(width: float, height: float, depth: float, *, z_up: bool) -> tuple[np.ndarray, list[list[int]]]:
    """8 corners and 6 outward quads of a box standing on the ground plane, height along the up axis."""
    x = np.array([-width / 2, width / 2])
    h = np.array([0.0, height])
    d = np.array([-depth / 2, depth / 2])
    corners = np.array([[x[i], h[j], d[k]] for i in (0, 1) for j in (0, 1) for k in (0, 1)])  # Y-up

    def at(i: int, j: int, k: int) -> int:
        return i * 4 + j * 2 + k

    quads = [
        [at(0, 0, 0), at(0, 0, 1), at(0, 1, 1), at(0, 1, 0)],  # -x
        [at(1, 0, 0), at(1, 1, 0), at(1, 1, 1), at(1, 0, 1)],  # +x
        [at(0, 0, 0), at(1, 0, 0), at(1, 0, 1), at(0, 0, 1)],  # -y
        [at(0, 1, 0), at(0, 1, 1), at(1, 1, 1), at(1, 1, 0)],  # +y
        [at(0, 0, 0), at(0, 1, 0), at(1, 1, 0), at(1, 0, 0)],  # -z
        [at(0, 0, 1), at(1, 0, 1), at(1, 1, 1), at(0, 1, 1)],  # +z
    ]
    if z_up:  # (x, y, z) Y-up -> (x, -z, y) Z-up: a proper rotation, winding kept
        corners = np.stack([corners[:, 0], -corners[:, 2], corners[:, 1]], axis=1)
    return corners, quads


def write_usd_box(
    path: Path,
    *,
    up: str = "Z",
    meters_per_unit: float = 0.01,
    texture: str | None = None,
    display_color: bool = False,
) -> Path:
    """A USD layer (format by suffix) holding the tall box in stage units, optionally textured with a
    UsdPreviewSurface + UsdUVTexture reading ``texture`` (face-varying st) or coloured per vertex."""
    from pxr import Sdf, Usd, UsdGeom, UsdShade

    layer = Sdf.Layer.CreateAnonymous(".usda")
    stage = Usd.Stage.Open(layer)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z if up == "Z" else UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, meters_per_unit)
    root = UsdGeom.Xform.Define(stage, "/Root")
    stage.SetDefaultPrim(root.GetPrim())
    units = [s / meters_per_unit for s in BOX_M]
    corners, quads = _box_quads(*units, z_up=up == "Z")
    mesh = UsdGeom.Mesh.Define(stage, "/Root/Box")
    mesh.CreatePointsAttr([tuple(float(c) for c in p) for p in corners])
    mesh.CreateFaceVertexCountsAttr([4] * len(quads))
    mesh.CreateFaceVertexIndicesAttr([i for q in quads for i in q])
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    primvars = UsdGeom.PrimvarsAPI(mesh)
    if texture is not None:
        st = primvars.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.faceVarying)
        st.Set([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)] * len(quads))
        material = UsdShade.Material.Define(stage, "/Root/Looks/Painted")
        surface = UsdShade.Shader.Define(stage, "/Root/Looks/Painted/Surface")
        surface.CreateIdAttr("UsdPreviewSurface")
        surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.4)
        surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
        image = UsdShade.Shader.Define(stage, "/Root/Looks/Painted/Diffuse")
        image.CreateIdAttr("UsdUVTexture")
        image.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(texture)
        reader = UsdShade.Shader.Define(stage, "/Root/Looks/Painted/ReadSt")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("st")
        image.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
        diffuse = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
        diffuse.ConnectToSource(image.ConnectableAPI(), "rgb")
        material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
        UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
    if display_color:
        colors = primvars.CreatePrimvar("displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.vertex)
        colors.Set([(1.0, 0.0, 0.0) if p[1 if up == "Y" else 2] > 0 else (0.0, 0.0, 1.0) for p in corners])
    layer.Export(str(path))
    return path


def write_usdz_box(tmp: Path, name: str = "box.usdz") -> Path:
    """An Object-Capture-like USDZ: Z-up, centimetres, the box textured from a PNG inside the archive,
    packaged by UsdUtils (stored, 64-byte aligned)."""
    from pxr import Sdf, UsdUtils

    src = tmp / f"{name}.src"
    (src / "textures").mkdir(parents=True, exist_ok=True)
    (src / "textures" / "albedo.png").write_bytes(png_bytes())
    write_usd_box(src / "scene.usdc", up="Z", meters_per_unit=0.01, texture="textures/albedo.png")
    assert UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(src / "scene.usdc")), str(tmp / name))
    return tmp / name


def stl_box(path: Path, *, ascii: bool = False) -> Path:
    """The box in millimetres, Z-up (as 3D printing and CAD write it), binary or ASCII STL."""
    mesh = trimesh.creation.box(extents=(BOX_M[0] * 1000, BOX_M[2] * 1000, BOX_M[1] * 1000))
    mesh.apply_translation((0, 0, BOX_M[1] * 1000 / 2))
    data = mesh.export(file_type="stl_ascii" if ascii else "stl")
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def ply_box(path: Path, *, ascii: bool = False, z_up: bool = False) -> Path:
    """The box in metres, Y-up (Stanford / Meshlab style) or Z-up resting on z = 0, with per-vertex
    colours: red on top, blue at the bottom."""
    mesh = trimesh.creation.box(extents=BOX_M)
    mesh.apply_translation((0, BOX_M[1] / 2, 0))
    up = 1
    if z_up:
        mesh.apply_transform(np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=float))
        up = 2
    top = mesh.vertices[:, up] > BOX_M[1] / 2
    mesh.visual.vertex_colors = np.where(top[:, None], [255, 0, 0, 255], [0, 0, 255, 255]).astype(np.uint8)
    path.write_bytes(mesh.export(file_type="ply", encoding="ascii" if ascii else "binary"))
    return path


def zipped(tmp: Path, name: str, members: dict[str, bytes]) -> Path:
    return b.write_zip(tmp / name, members)


# --- hostile ----------------------------------------------------------------------------------------

USDA_HEAD = '#usda 1.0\n(\n    metersPerUnit = 1\n    upAxis = "Y"\n{sublayers})\n\n'
USDA_BOX = """def Mesh "Box"{arcs}
{{
    int[] faceVertexCounts = [3]
    int[] faceVertexIndices = [0, 1, 2]
    point3f[] points = [(0, 0, 0), (1, 0, 0), (0, 1, 0)]
{body}}}
"""


def _usda(*, sublayers: str = "", arcs: str = "", body: str = "") -> bytes:
    head = USDA_HEAD.format(sublayers=f"    subLayers = [{sublayers}]\n" if sublayers else "")
    return (head + USDA_BOX.format(arcs=f" (\n    {arcs}\n)" if arcs else "", body=body)).encode()


_TEXTURED_BODY = """    rel material:binding = </Looks/M>
}}
def Scope "Looks"
{{
    def Material "M"
    {{
        token outputs:surface.connect = </Looks/M/S.outputs:surface>
        def Shader "S"
        {{
            uniform token info:id = "UsdPreviewSurface"
            color3f inputs:diffuseColor.connect = </Looks/M/T.outputs:rgb>
            token outputs:surface
        }}
        def Shader "T"
        {{
            uniform token info:id = "UsdUVTexture"
            asset inputs:file = @{texture}@
            float3 outputs:rgb
        }}
    }}
"""


def _textured_usda(texture: str) -> bytes:
    # The mesh body closes early so the material scope sits beside it at the root.
    return _usda(body=_TEXTURED_BODY.format(texture=texture))


def _raw(name: str, data: bytes) -> Builder:
    def build(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name

    return build


def _usdz(name: str, members: list[tuple[str, bytes]]) -> Builder:
    """A stored ZIP whose first member is the root layer (member names written as given)."""

    def build(tmp: Path) -> Path:
        path = tmp / name
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
            for member, data in members:
                info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
                zf.writestr(info, data)
        return path

    return build


def _usdc_absolute_reference(tmp: Path) -> Path:
    from pxr import Sdf

    layer = Sdf.Layer.CreateAnonymous(".usda")
    layer.ImportFromString(_usda(arcs="prepend references = @/etc/passwd@").decode())
    layer.Export(str(tmp / "model.usdc"))
    return tmp / "model.usdc"


def _usdz_absolute_texture(tmp: Path) -> Path:
    # An absolute path to a file that exists on the server: it still must not be read.
    return _usdz("abs-texture.usdz", [("scene.usda", _textured_usda("/etc/hostname"))])(tmp)


def _stl_declared(count: int, records: int) -> Builder:
    """A binary STL whose header declares ``count`` triangles but holds ``records`` real ones."""
    triangle = struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)

    def build(tmp: Path) -> Path:
        path = tmp / "part.stl"
        path.write_bytes(b"binary STL".ljust(80, b" ") + struct.pack("<I", count) + triangle * records)
        return path

    return build


def _ply_binary_declaring(vertices: int, faces: int, real_vertices: int = 3, real_faces: int = 1) -> Builder:
    def build(tmp: Path) -> Path:
        header = (
            "ply\nformat binary_little_endian 1.0\n"
            f"element vertex {vertices}\nproperty float x\nproperty float y\nproperty float z\n"
            "property uchar red\nproperty uchar green\nproperty uchar blue\n"
            f"element face {faces}\nproperty list uchar int vertex_indices\nend_header\n"
        ).encode()
        body = b"".join(struct.pack("<3f3B", i, i % 2, 0, 255, 0, 0) for i in range(real_vertices))
        body += struct.pack("<B3i", 3, 0, 1, 2) * real_faces
        path = tmp / "scan.ply"
        path.write_bytes(header + body)
        return path

    return build


def _ply_ascii_short(tmp: Path) -> Path:
    path = tmp / "scan.ply"
    path.write_bytes(
        b"ply\nformat ascii 1.0\nelement vertex 500\nproperty float x\nproperty float y\nproperty float z\n"
        b"element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"
    )
    return path


def _zip_holding_usdz(tmp: Path) -> Path:
    inner = write_usdz_box(tmp, "inner.usdz").read_bytes()
    return b.write_zip(tmp / "models.zip", {"inner.usdz": inner})


FORMAT_HOSTILE_CASES: list[tuple[str, Builder, str]] = [
    (
        "usdz_member_dotdot",
        _usdz("escape.usdz", [("scene.usda", _usda()), ("../../sentinel/x.png", png_bytes())]),
        "invalid_model",
    ),
    ("usda_reference_absolute", _raw("model.usda", _usda(arcs="prepend references = @/etc/passwd@")), "invalid_model"),
    ("usdc_reference_absolute", _usdc_absolute_reference, "invalid_model"),
    ("usdz_texture_absolute", _usdz_absolute_texture, "invalid_model"),
    ("usda_texture_absolute", _raw("model.usda", _textured_usda("/etc/passwd")), "invalid_model"),
    (
        "usda_sublayer_outside",
        _raw("model.usda", _usda(sublayers="@../../sentinel/secret.usda@")),
        "invalid_model",
    ),
    (
        "usdz_sublayer_outside",
        _usdz("sub.usdz", [("scene.usda", _usda(sublayers="@../secret.usda@"))]),
        "invalid_model",
    ),
    (
        "usda_payload_url",
        _raw("model.usda", _usda(arcs="prepend payload = @https://example.com/model.usda@")),
        "invalid_model",
    ),
    (
        "usda_reference_file_scheme",
        _raw("model.usda", _usda(arcs="references = @file:///etc/passwd@")),
        "invalid_model",
    ),
    ("usda_texture_missing", _raw("model.usda", _textured_usda("textures/albedo.png")), "invalid_model"),
    (
        "usdz_reference_not_usd",
        _usdz("obj.usdz", [("scene.usda", _usda(arcs="references = @notes.txt@")), ("notes.txt", b"hello")]),
        "invalid_model",
    ),
    ("zip_holding_usdz", _zip_holding_usdz, "invalid_format"),
    ("stl_billion_triangles", _stl_declared(10**9, 1), "invalid_model"),
    ("stl_count_disagrees_with_size", _stl_declared(3, 2), "invalid_model"),
    ("ply_more_vertices_than_file", _ply_binary_declaring(100_000, 1), "invalid_model"),
    ("ply_billion_faces", _ply_binary_declaring(3, 10**9), "invalid_model"),
    ("ply_ascii_more_vertices_than_lines", _ply_ascii_short, "invalid_model"),
    ("ply_point_cloud", _ply_binary_declaring(3, 0, real_faces=0), "invalid_model"),
]

FORMAT_MESSAGE_HINTS: dict[str, str] = {
    "usdz_member_dotdot": "climbs out",
    "usda_reference_absolute": '"/etc/passwd" is an absolute path',
    "usdc_reference_absolute": '"/etc/passwd" is an absolute path',
    "usdz_texture_absolute": '"/etc/hostname" is an absolute path',
    "usda_texture_absolute": '"/etc/passwd" is an absolute path',
    "usda_sublayer_outside": "climbs out of the upload",
    "usdz_sublayer_outside": "climbs out of the upload",
    "usda_payload_url": "URL scheme (https:)",
    "usda_reference_file_scheme": "URL scheme (file:)",
    "usda_texture_missing": '"textures/albedo.png" names a file that is not in the upload',
    "usdz_reference_not_usd": "is not a USD layer",
    "zip_holding_usdz": "upload the .usdz itself",
    "stl_billion_triangles": "1,000,000,000 triangles; the limit is",
    "stl_count_disagrees_with_size": "declares 3 triangles",
    "ply_more_vertices_than_file": "declares 100,000 vertices and 1 faces",
    "ply_billion_faces": "1,000,000,000 faces; the limit is",
    "ply_ascii_more_vertices_than_lines": "holds only 4 lines",
    "ply_point_cloud": "no faces",
}
