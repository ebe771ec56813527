"""The containment rule of USD uploads: nothing outside the upload is ever read.

Before a stage is composed, the root layer and every layer it would pull in (sublayers, references,
payloads) are opened one by one as plain layers and walked, and every asset path they hold
(composition arcs, asset-valued attributes such as texture files, asset-valued metadata) must name a
file inside the upload's folder (the extracted archive, or a fresh folder holding only the uploaded
layer): an absolute path, a URL scheme, a path that climbs out with ``..``, value clips, or a file that
is not there is refused (invalid_model, naming the path). Only then is the stage opened, with no
resolver search path, and the layers it used are checked again (:func:`open_checked_stage`).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

# The default resolver's search path comes from this variable: none may apply (read at first use).
os.environ.pop("PXR_AR_DEFAULT_SEARCH_PATH", None)

from pxr import Ar, Sdf, Usd

LAYER_SUFFIXES = (".usd", ".usda", ".usdc")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")


def refuse(message: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_MODEL, message)


def _no_search_path() -> None:
    if hasattr(Ar.DefaultResolver, "SetDefaultSearchPath"):
        Ar.DefaultResolver.SetDefaultSearchPath([])


# --- the containment walk, before any composition ---------------------------------------------------


class LayerWalk:
    """Every layer a root layer would pull in, each opened alone and checked; nothing outside ``root``."""

    def __init__(self, root_layer: Path, root: Path, label: str, *, single_file: bool):
        self.root = root.resolve()
        self.root_layer = root_layer.resolve()
        self.label = label
        self.single_file = single_file
        self.seen: set[Path] = set()

    def layer_name(self, path: Path) -> str:
        if path == self.root_layer:
            return self.label
        return path.relative_to(self.root).as_posix()

    def check(self, asset: str, layer_path: Path, where: str) -> Path:
        """The file inside root that ``asset`` (written in the layer at ``layer_path``) names."""
        shown = f'"{asset}"'
        if asset.startswith(("/", "\\")) or _DRIVE.match(asset):
            raise refuse(f"{where}: asset path {shown} is an absolute path; a USD upload may only use its own files")
        scheme = _SCHEME.match(asset)
        if scheme:
            raise refuse(
                f"{where}: asset path {shown} has a URL scheme ({scheme.group(1)}:); nothing outside the upload is read"
            )
        if any(c in asset for c in ":[]`<>\x00"):
            raise refuse(f"{where}: asset path {shown} is not a plain relative file path; it is not read")
        base = layer_path.parent.relative_to(self.root).as_posix()
        rel = posixpath.normpath(posixpath.join(base, asset.replace("\\", "/")))
        if rel == ".." or rel.startswith("../") or rel.startswith("/"):
            raise refuse(f"{where}: asset path {shown} climbs out of the upload with '..'")
        target = self.root.joinpath(*[p for p in rel.split("/") if p not in ("", ".")])
        if target.is_symlink() or not target.is_file():
            hint = " (a single .usda or .usdc file can use no other file: upload a .usdz)" if self.single_file else ""
            raise refuse(f"{where}: asset path {shown} names a file that is not in the upload{hint}")
        return target

    def run(self) -> None:
        queue = [self.root_layer]
        while queue:
            path = queue.pop()
            if path in self.seen:
                continue
            self.seen.add(path)
            queue.extend(self._walk(path))

    def _walk(self, path: Path) -> list[Path]:
        name = self.layer_name(path)
        layer = Sdf.Layer.FindOrOpen(str(path))
        if layer is None:
            raise refuse(f"{name}: the USD layer could not be read")
        layers: list[Path] = []

        def compose(asset: str, where: str) -> None:
            if not asset:
                return  # an internal reference: the same layer
            target = self.check(asset, path, where)
            if not target.name.lower().endswith(LAYER_SUFFIXES):
                raise refuse(f'{where}: "{asset}" is not a USD layer (.usd, .usda, .usdc); it is not read')
            layers.append(target)

        for sub in layer.subLayerPaths:
            compose(sub, f"{name} (sublayer)")

        def visit(spec_path: Sdf.Path) -> None:
            spec = layer.GetObjectAtPath(spec_path)
            if spec is None or not hasattr(spec, "ListInfoKeys"):
                return
            where = f"{name} ({spec_path})"
            is_asset = isinstance(spec, Sdf.AttributeSpec) and spec.typeName in (
                Sdf.ValueTypeNames.Asset,
                Sdf.ValueTypeNames.AssetArray,
            )
            for key in spec.ListInfoKeys():
                if key in ("clips", "clipSets"):
                    raise refuse(f"{where}: value clips are not supported")
                if key in ("default", "timeSamples") and not is_asset:
                    continue  # plain data (points, indices...): no asset path in it
                value = spec.GetInfo(key)
                if key in ("references", "payload"):
                    for item in _list_op_items(value):
                        compose(item.assetPath, where)
                    continue
                for asset in _asset_strings(value):
                    if asset:
                        self.check(asset, path, where)
            if is_asset:
                for t in layer.ListTimeSamplesForPath(spec_path):
                    for asset in _asset_strings(layer.QueryTimeSample(spec_path, t)):
                        if asset:
                            self.check(asset, path, where)

        layer.Traverse(Sdf.Path.absoluteRootPath, visit)
        return layers


def _list_op_items(op) -> Iterator:
    for attr in ("explicitItems", "addedItems", "prependedItems", "appendedItems", "deletedItems", "orderedItems"):
        yield from getattr(op, attr, None) or []


def _asset_strings(value) -> Iterator[str]:
    if isinstance(value, Sdf.AssetPath):
        yield value.path
    elif isinstance(value, Sdf.AssetPathArray):
        for item in value:
            yield item.path
    elif isinstance(value, dict):
        for item in value.values():
            yield from _asset_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _asset_strings(item)


def open_checked_stage(root_layer: Path, root: Path, label: str, *, single_file: bool) -> Usd.Stage:
    """The composed stage of ``root_layer`` once every layer and asset path passed the walk."""
    _no_search_path()
    walk = LayerWalk(root_layer, root, label, single_file=single_file)
    walk.run()
    stage = Usd.Stage.Open(str(walk.root_layer), Usd.Stage.LoadAll)
    if stage is None:
        raise refuse(f"{label}: the USD stage could not be opened")
    for layer in stage.GetUsedLayers():
        if layer.anonymous:
            continue
        real = Path(layer.realPath).resolve() if layer.realPath else None
        if real is None or not real.is_relative_to(walk.root):
            raise refuse(f"{label}: the stage uses a layer outside the upload; it is not read")
    return stage
