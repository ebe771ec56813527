"""prepare_model: one uploaded file in, one validated self-contained GLB out (parsed in a child)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .limits import DEFAULT_LIMITS, IngestLimits
from .sandbox import run_limited
from .sniff import sniff_file

OUTPUT_NAME = "model.glb"
EXTRACT_DIR = "extracted"


@dataclass(frozen=True)
class PreparedModel:
    glb_path: Path  # one self-contained GLB to store (a valid GLB upload is returned as-is)
    source_kind: str  # "glb" | "gltf" | "obj-zip" | "gltf-zip"
    warnings: list[str] = field(default_factory=list)  # user-visible notes about the conversion


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
        raise DxglError(ErrorCode.INVALID_FORMAT, f"the file{named} is not a GLB, a glTF (JSON) or a ZIP")
    work_dir.mkdir(parents=True, exist_ok=True)
    glb, source_kind, warnings = run_limited(
        convert_in_child,
        (str(upload_path), str(work_dir), kind, limits, original_name),
        memory_bytes=limits.child_memory_bytes,
        time_s=limits.child_time_s,
    )
    return PreparedModel(glb_path=Path(glb), source_kind=source_kind, warnings=list(warnings))


def convert_in_child(
    upload: str, work: str, kind: str, limits: IngestLimits, name: str = ""
) -> tuple[str, str, list[str]]:
    """The child side of prepare_model: returns (glb path, source kind, warnings).

    Messages name the user's file (``name``, or a member path inside the ZIP), never the internal
    temporary files: whatever a parser's message says, the upload's and the work folder's paths are
    replaced before it leaves the child (``user_facing``)."""
    upload_path, work_dir = Path(upload), Path(work)
    try:
        return _convert(upload_path, work_dir, kind, limits, name)
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


def _convert(
    upload_path: Path, work_dir: Path, kind: str, limits: IngestLimits, name: str
) -> tuple[str, str, list[str]]:
    # Imported here so the parsers (numpy, trimesh) load only in the child, under its limits.
    from .gltf_pack import check_glb_upload, pack_gltf_file

    out_path = work_dir / OUTPUT_NAME
    if kind == "glb":
        return str(check_glb_upload(upload_path, out_path, limits)), "glb", []
    if kind == "gltf":
        pack_gltf_file(upload_path, None, out_path, limits, label=name or "the glTF file")
        return str(out_path), "gltf", []
    return _convert_zip(upload_path, work_dir, out_path, limits)


def _convert_zip(upload_path: Path, work_dir: Path, out_path: Path, limits: IngestLimits) -> tuple[str, str, list[str]]:
    from .gltf_pack import pack_gltf_file
    from .zipsafe import extract_zip

    root = work_dir / EXTRACT_DIR
    extracted = extract_zip(upload_path, root, limits)
    by_suffix: dict[str, list[PurePosixPath]] = {}
    for rel in extracted:
        by_suffix.setdefault(rel.suffix.lower(), []).append(rel)
    objs, gltfs = by_suffix.get(".obj", []), by_suffix.get(".gltf", [])
    if len(objs) + len(gltfs) > 1:
        names = ", ".join(p.as_posix() for p in [*objs, *gltfs][:5])
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
    if by_suffix.get(".glb"):
        raise DxglError(ErrorCode.INVALID_FORMAT, "the ZIP holds a .glb; upload the .glb file itself")
    raise DxglError(ErrorCode.INVALID_FORMAT, "the ZIP holds no .obj or .gltf model")
