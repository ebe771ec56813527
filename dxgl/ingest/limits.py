"""The numeric limits every ingest step enforces, in one place (documented in docs/ingest.md)."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class IngestLimits:
    """Caps applied before and while parsing an untrusted model file."""

    # ZIP archives
    max_zip_entries: int = 1000
    max_expanded_bytes: int = 500 * 1000 * 1000  # "500 MB expanded"
    max_compression_ratio: float = 100.0  # per entry and for the whole archive
    # glTF / GLB structure
    max_json_bytes: int = 64 * MIB
    max_accessor_count: int = 50_000_000  # elements in one accessor
    max_nodes: int = 100_000
    max_gltf_items: int = 100_000  # entries in any top-level glTF array
    # Decoding (normalise.py): what compressed or quantized data may expand to, checked from the JSON's
    # declared counts before anything is allocated. Bytes over every decoded buffer view (meshopt),
    # Draco primitive and rewritten plain accessor together.
    max_decoded_bytes: int = 1024 * MIB
    # Triangles drawn over the whole scene: each mesh counted once per node that shows it, copies made
    # by EXT_mesh_gpu_instancing included.
    max_scene_triangles: int = 50_000_000
    # Wall-clock limit of one run of the basisu transcoder (one KTX2 texture).
    basisu_timeout_s: float = 30.0
    # Images: header size read before any decode
    max_image_pixels: int = 50_000_000  # 50 megapixels
    # Decoded texels over all the model's images, full mip chains included (about 4/3 of the base
    # levels). The same default as Settings.texture_budget_mpx (DXGL_TEXTURE_BUDGET_MPX); the service
    # passes its setting in with dataclasses.replace(DEFAULT_LIMITS, texture_budget_mpx=...).
    texture_budget_mpx: float = 256.0
    # OBJ: counted by a line scan before trimesh parses anything
    max_obj_faces: int = 5_000_000
    max_obj_vertices: int = 5_000_000
    # The child process that parses
    child_memory_bytes: int = 3 * 1024 * MIB  # RLIMIT_AS
    child_time_s: float = 60.0


DEFAULT_LIMITS = IngestLimits()
