"""prepare_model: one uploaded file in, one validated self-contained GLB out (parsed in a child)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .limits import DEFAULT_LIMITS, IngestLimits
from .sandbox import run_limited
from .sniff import ACCEPTED_FORMATS, USD_SUFFIXES, sniff_file

OUTPUT_NAME = "model.glb"
EXTRACT_DIR = "extracted"


DECODED_NAME = "decoded.glb"


@dataclass(frozen=True)
class PreparedModel:
    glb_path: Path  # the model file to store: a GLB upload as uploaded, anything else converted to GLB
    source_kind: str  # "glb" | "gltf" | "obj-zip" | "gltf-zip" | ...
    warnings: list[str] = field(default_factory=list)  # user-visible notes about the conversion
    # The decoded, normalised GLB that renders load (plain glTF 2.0: no compression, quantization,
    # KTX2, instancing, sparse accessors or texture transforms left); None when the model file
    # already is one.
    decoded_path: Path | None = None
    inspection: dict[str, object] = field(default_factory=dict)  # the report of docs/ingest.md


def prepare_model(
    upload_path: Path, work_dir: Path, *, original_name: str = "", limits: IngestLimits = DEFAULT_LIMITS
) -> PreparedModel:
    """Validate and convert one uploaded file into one GLB inside ``work_dir``.

    The format is taken from the content, never from ``original_name`` (used in messages only).
    All parsing runs in a spawned child under ``limits``; raises DxglError invalid_format (not a
    GLB, glTF or ZIP of one OBJ or glTF) or invalid_model (damaged, unsafe, or over a limit).
    """
    upload_path = Path(upload_path)
    work_dir = Path(work_dir)
    kind = sniff_file(upload_path)
    if kind is None:
        named = f" ({original_name})" if original_name else ""
        raise DxglError(ErrorCode.INVALID_FORMAT, f"the file{named} is not {ACCEPTED_FORMATS}")
    work_dir.mkdir(parents=True, exist_ok=True)
    glb, source_kind, warnings, decoded, inspection = run_limited(
        convert_in_child,
        (str(upload_path), str(work_dir), kind, limits, original_name),
        memory_bytes=limits.child_memory_bytes,
        time_s=limits.child_time_s,
    )
    return PreparedModel(
        glb_path=Path(glb),
        source_kind=source_kind,
        warnings=list(warnings),
        decoded_path=Path(decoded) if decoded else None,
        inspection=dict(inspection),
    )


def convert_in_child(
    upload: str, work: str, kind: str, limits: IngestLimits, name: str = ""
) -> tuple[str, str, list[str], str | None, dict[str, object]]:
    """The child side of prepare_model: returns (model file path, source kind, warnings, decoded
    GLB path or None, inspection report).

    Messages name the user's file (``name``, or a member path inside the ZIP), never the internal
    temporary files: whatever a parser's message says, the upload's and the work folder's paths are
    replaced before it leaves the child (``user_facing``)."""
    upload_path, work_dir = Path(upload), Path(work)
    try:
        model_file, glb, source_kind, warnings = _convert(upload_path, work_dir, kind, limits, name)
        return _decode_and_inspect(model_file, glb, work_dir, source_kind, warnings, limits, name)
    except DxglError as exc:
        raise DxglError(exc.code, user_facing(exc.message, upload_path, work_dir, name)) from None
    except (MemoryError, RecursionError):
        raise  # the sandbox words these itself
    except Exception as exc:  # any other parser failure is a damaged file
        message = f"the model could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        raise DxglError(ErrorCode.INVALID_MODEL, user_facing(message, upload_path, work_dir, name)) from None


def user_facing(message: str, upload_path: Path, work_dir: Path, name: str) -> str:
    """``message`` with every internal path replaced by what the user knows: the upload's own name
    for the uploaded file, the path inside the ZIP for an extracted member, nothing for the work folder."""
    user_name = name or "the uploaded file"
    replacements: list[tuple[str, str]] = []
    for folder in {work_dir / EXTRACT_DIR, (work_dir / EXTRACT_DIR).resolve()}:
        replacements.append((f"{folder}/", ""))
        replacements.append((str(folder), "the ZIP"))
    for path in {upload_path, upload_path.resolve()}:
        replacements.append((str(path), user_name))
    for folder in {work_dir, work_dir.resolve()}:
        replacements.append((f"{folder}/", ""))
        replacements.append((str(folder), "the work folder"))
    replacements.append((upload_path.name, user_name))
    for old, new in replacements:
        message = message.replace(old, new)
    return message


def _decode_and_inspect(
    model_file: Path,
    glb: Path,
    work_dir: Path,
    source_kind: str,
    warnings: list[str],
    limits: IngestLimits,
    name: str,
) -> tuple[str, str, list[str], str | None, dict[str, object]]:
    """Every path ends here: the self-contained GLB ``glb`` is decoded into plain glTF (refusing a
    required extension dxgl cannot decode) and inspected. ``model_file`` is what is stored as the
    model file (``glb`` itself unless a GLB upload needed packing)."""
    from .inspection import inspect_glb
    from .normalise import normalise_glb

    decoded_out = work_dir / DECODED_NAME
    normalised = normalise_glb(glb, decoded_out, limits, label=name or "the model")
    all_warnings = [*warnings, *normalised.warnings]
    render_glb = normalised.path
    report = inspect_glb(
        render_glb,
        extensions_used=normalised.extensions_used,
        extensions_required=normalised.extensions_required,
        warnings=all_warnings,
    )
    decoded = None if render_glb == model_file else str(render_glb)
    return str(model_file), source_kind, all_warnings, decoded, report


def _convert(
    upload_path: Path, work_dir: Path, kind: str, limits: IngestLimits, name: str
) -> tuple[Path, Path, str, list[str]]:
    """Returns (model file, self-contained GLB to decode, source kind, warnings)."""
    # Imported here so the parsers (numpy, trimesh) load only in the child, under its limits.
    from .gltf_pack import check_glb_upload, pack_gltf_file

    out_path = work_dir / OUTPUT_NAME
    if kind == "glb":
        # The model file stays the upload, byte for byte; a GLB with data: URIs is packed only for decoding.
        return upload_path, check_glb_upload(upload_path, out_path, limits), "glb", []
    if kind == "gltf":
        pack_gltf_file(upload_path, None, out_path, limits, label=name or "the glTF file")
        return out_path, out_path, "gltf", []
    if kind in ("stl", "ply", "usda", "usdc"):
        return out_path, out_path, kind, _convert_single(upload_path, work_dir, out_path, kind, limits, name)
    if kind == "usdz":
        return out_path, out_path, "usdz", _convert_usdz(upload_path, work_dir, out_path, limits, name)
    glb, source_kind, warnings = _convert_zip(upload_path, work_dir, out_path, limits)
    return Path(glb), Path(glb), source_kind, warnings


def _convert_single(
    upload_path: Path, work_dir: Path, out_path: Path, kind: str, limits: IngestLimits, name: str
) -> list[str]:
    """An STL, PLY, USDA or USDC uploaded on its own (docs/ingest.md, "Formats")."""
    label = name or f"the {kind.upper()} file"
    if kind == "stl":
        from .mesh_convert import convert_stl

        return convert_stl(upload_path, out_path, limits, label)
    if kind == "ply":
        from .mesh_convert import convert_ply

        return convert_ply(upload_path, out_path, limits, label)
    # A lone USD layer may use no other file: it is read from a fresh folder holding only its copy
    # (the upload's own folder holds other uploads). USD picks the layer's format by its suffix.
    import shutil

    from .usd_convert import convert_usd

    folder = work_dir / EXTRACT_DIR
    folder.mkdir()
    layer = folder / f"model.{kind}"
    shutil.copyfile(upload_path, layer)
    return convert_usd(layer, folder, out_path, limits, label, single_file=True)


def _convert_usdz(upload_path: Path, work_dir: Path, out_path: Path, limits: IngestLimits, name: str) -> list[str]:
    """A USDZ: extracted like any ZIP (same checks and limits); its first member is the root layer."""
    from .zipsafe import extract_zip

    root = work_dir / EXTRACT_DIR
    extracted = extract_zip(upload_path, root, limits)
    if not extracted or extracted[0].suffix.lower() not in USD_SUFFIXES:
        raise DxglError(ErrorCode.INVALID_MODEL, "the USDZ's first file is not a USD layer (.usda, .usdc, .usd)")
    from .usd_convert import convert_usd

    return convert_usd(root.joinpath(*extracted[0].parts), root, out_path, limits, name or "the USDZ file")


def _convert_zip(upload_path: Path, work_dir: Path, out_path: Path, limits: IngestLimits) -> tuple[str, str, list[str]]:
    from .gltf_pack import pack_gltf_file
    from .zipsafe import extract_zip

    root = work_dir / EXTRACT_DIR
    extracted = extract_zip(upload_path, root, limits)
    by_suffix: dict[str, list[PurePosixPath]] = {}
    for rel in extracted:
        by_suffix.setdefault(rel.suffix.lower(), []).append(rel)
    objs, gltfs = by_suffix.get(".obj", []), by_suffix.get(".gltf", [])
    meshes = [*by_suffix.get(".stl", []), *by_suffix.get(".ply", [])]
    # USD layers: the root is the one layer nearest the top of the ZIP; the others are its layers.
    usds = [p for suffix in USD_SUFFIXES for p in by_suffix.get(suffix, [])]
    top = min((len(p.parts) for p in usds), default=0)
    usd_roots = [p for p in usds if len(p.parts) == top]
    if len(objs) + len(gltfs) + len(meshes) + len(usd_roots) > 1:
        names = ", ".join(p.as_posix() for p in [*objs, *gltfs, *meshes, *usd_roots][:5])
        raise DxglError(
            ErrorCode.INVALID_FORMAT, f"the ZIP holds more than one model ({names}); upload one model per ZIP"
        )
    if gltfs:
        gltf = gltfs[0]
        pack_gltf_file(
            root.joinpath(*gltf.parts), root.joinpath(*gltf.parent.parts), out_path, limits, label=gltf.as_posix()
        )
        return str(out_path), "gltf-zip", []
    if objs:
        from .obj_scan import plan_scan

        plan = plan_scan(root.joinpath(*objs[0].parts), root, extracted, limits)
        from .obj_convert import convert_obj  # trimesh and numpy load only after every check passed

        warnings = convert_obj(plan, out_path)
        return str(out_path), "obj-zip", warnings
    if meshes:
        from . import mesh_convert

        member = meshes[0]
        convert = mesh_convert.convert_stl if member.suffix.lower() == ".stl" else mesh_convert.convert_ply
        warnings = convert(root.joinpath(*member.parts), out_path, limits, member.as_posix())
        return str(out_path), f"{member.suffix.lower().lstrip('.')}-zip", warnings
    if usd_roots:
        from .usd_convert import convert_usd

        member = usd_roots[0]
        warnings = convert_usd(root.joinpath(*member.parts), root, out_path, limits, member.as_posix())
        return str(out_path), "usd-zip", warnings
    if by_suffix.get(".glb"):
        raise DxglError(ErrorCode.INVALID_FORMAT, "the ZIP holds a .glb; upload the .glb file itself")
    raise DxglError(
        ErrorCode.INVALID_FORMAT, "the ZIP holds no .obj or .gltf model (nor an .stl, .ply or .usd/.usda/.usdc)"
    )
