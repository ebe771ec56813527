"""datasetNormals: "geometric" normals ignore the normal map, "shading" normals carry its detail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

from tests.render.conftest import small_spec
from tests.render.gl_child import draw_geometry_frame


def _bumpy_tile(path: Path) -> Path:
    """A 10 x 10 cm tile facing the camera (+Z) whose normal map tilts stripes left and right."""
    x = np.arange(128)
    tilt = np.where((x // 16) % 2 == 0, 0.5, -0.5)  # tangent-space x of the normal, per column
    normal = np.stack([tilt, np.zeros_like(tilt), np.sqrt(1 - tilt**2)], -1)
    image = np.broadcast_to(((normal + 1) * 127.5).astype(np.uint8)[None], (128, 128, 3))
    tile = trimesh.Trimesh(
        vertices=[[-0.05, 0, 0], [0.05, 0, 0], [0.05, 0.1, 0], [-0.05, 0.1, 0]],
        faces=[[0, 1, 2], [0, 2, 3]],
        process=False,
    )
    tile.visual = trimesh.visual.TextureVisuals(
        uv=[[0, 0], [1, 0], [1, 1], [0, 1]],
        material=PBRMaterial(
            baseColorFactor=[200, 200, 200, 255], normalTexture=Image.fromarray(np.ascontiguousarray(image))
        ),
    )
    tile.export(path)
    return path


def test_shading_normals_follow_the_normal_map(tmp_path: Path) -> None:
    tile = _bumpy_tile(tmp_path / "tile.glb")
    spec = small_spec({"shadows": False}, size=(128, 128))
    geometric = draw_geometry_frame(tile, spec, shading_normals=False)
    shading = draw_geometry_frame(tile, spec, shading_normals=True)
    surface = geometric[..., 3] > 0
    assert surface.mean() > 0.2
    np.testing.assert_array_equal(surface, shading[..., 3] > 0)  # same coverage and depth
    np.testing.assert_array_equal(geometric[..., 3], shading[..., 3])
    gx = geometric[..., 0][surface]
    sx = shading[..., 0][surface]
    assert gx.std() < 0.02  # a flat tile: one normal
    assert sx.std() > 0.2  # the stripes: normals tilted both ways
    assert (sx > 0.3).mean() > 0.25 and (sx < -0.3).mean() > 0.25
    # And the right way round: the map's first stripe (u = 0, the tile's left edge, world -x) tilts +x.
    # (A few columns in: at u = 0 the repeat-wrapped texture filter mixes in the last stripe.)
    rows, cols = np.nonzero(surface)
    column = cols.min() + 3
    left = shading[rows[cols == column], column, 0]
    assert np.median(left) > 0.3, left
    lengths = np.linalg.norm(shading[..., :3][surface], axis=1)
    np.testing.assert_allclose(lengths, 1.0, atol=1e-3)
