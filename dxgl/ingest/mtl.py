"""Read MTL files the way scan exporters write them, and the opacity rule that keeps scans visible.

Only what a scan needs is kept: the material name, its diffuse colour, its opacity and its diffuse
texture (``map_Kd``). Texture paths are matched by basename inside the ZIP, because exporters write
subfolders, backslashes and absolute Windows paths that mean nothing on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

# An opacity at or below this would make the scan (near) invisible. Exporters write `d 0` or `Tr 1`
# meaning "opaque" (Meshlab writes `Tr 1.000000`), so such values are read as opaque.
INVISIBLE_OPACITY = 0.05

# map_Kd options and how many arguments each may take (MTL spec); they precede the file name.
MAP_OPTIONS = {
    "-blendu": 1,
    "-blendv": 1,
    "-cc": 1,
    "-clamp": 1,
    "-mm": 2,
    "-o": 3,
    "-s": 3,
    "-t": 3,
    "-texres": 1,
    "-bm": 1,
    "-boost": 1,
    "-imfchan": 1,
    "-type": 1,
}


@dataclass
class MtlMaterial:
    name: str
    diffuse: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dissolve: float | None = None  # `d`: 1 = opaque
    transparency: float | None = None  # `Tr`: usually 1 - d
    texture_ref: str | None = None  # map_Kd as written

    @property
    def opacity(self) -> float:
        """Opacity after the scan rule: `d` wins over `Tr`; near-invisible means opaque."""
        if self.dissolve is not None:
            value = self.dissolve
        elif self.transparency is not None:
            value = 1.0 - self.transparency
        else:
            return 1.0
        value = min(max(value, 0.0), 1.0)
        return 1.0 if value <= INVISIBLE_OPACITY else value


def texture_basename(reference: str) -> str:
    """The file name a map_Kd reference points at, whatever path style the exporter used."""
    return reference.replace("\\", "/").rstrip("/").split("/")[-1].strip().strip('"')


def _strip_map_options(tokens: list[str]) -> str:
    i = 0
    while i < len(tokens) and tokens[i].lower() in MAP_OPTIONS:
        max_args = MAP_OPTIONS[tokens[i].lower()]
        i += 1
        taken = 0
        while taken < max_args and i < len(tokens) - 1 and _is_option_value(tokens[i]):
            i += 1
            taken += 1
    return " ".join(tokens[i:])


def _is_option_value(token: str) -> bool:
    if token.lower() in ("on", "off"):
        return True
    try:
        float(token)
        return True
    except ValueError:
        return len(token) == 1  # -imfchan r|g|b|m|l|z


def _floats(tokens: list[str]) -> list[float]:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return []


def parse_mtl(text: str) -> dict[str, MtlMaterial]:
    """Materials by name from MTL text. Unknown statements are ignored, as every OBJ reader does."""
    materials: dict[str, MtlMaterial] = {}
    current: MtlMaterial | None = None
    for raw_line in text.splitlines():
        tokens = raw_line.strip().split()
        if len(tokens) < 2 or tokens[0].startswith("#"):
            continue
        key = tokens[0].lower()
        if key == "newmtl":
            current = MtlMaterial(name=" ".join(tokens[1:]))
            materials[current.name] = current
        elif current is None:
            continue
        elif key == "kd":
            values = _floats(tokens[1:4])
            if len(values) == 3:
                current.diffuse = tuple(min(max(v, 0.0), 1.0) for v in values)  # type: ignore[assignment]
        elif key == "d":
            values = _floats([t for t in tokens[1:] if t.lower() != "-halo"][:1])
            current.dissolve = values[0] if values else None
        elif key == "tr":
            values = _floats(tokens[1:2])
            current.transparency = values[0] if values else None
        elif key == "map_kd":
            reference = _strip_map_options(tokens[1:])
            current.texture_ref = reference or None
    return materials
