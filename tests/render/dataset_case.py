"""One dataset render per test model, shared by the dataset test modules: the archive read back and an
independent trimesh model of the documented dataset space (docs/dataset.md)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from dxgl.render import DatasetSpec, render_dataset
from tests.render.conftest import MODELS

VIEWS, SIZE = 12, 96
CASES = {"Duck": "hemisphere", "CesiumMilkTruck": "sphere"}


class Dataset:
    def __init__(self, path: Path, events: list):
        self.zip = zipfile.ZipFile(path)
        self.names = set(self.zip.namelist())
        self.meta = json.loads(self.zip.read("transforms.json"))
        self.events = events

    def image(self, member: str) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self.zip.read(member))))

    def member(self, frame: dict, folder: str) -> str:
        return frame["file_path"].replace("images/", f"{folder}/", 1)


def dataset_space_mesh(model: Path) -> trimesh.Trimesh:
    """The model as trimesh loads it, normalised the documented way: bounding-box centre at the origin,
    largest side 2 units. Built here from the file, not from dxgl's scene."""
    mesh = trimesh.load(str(model), force="scene").to_geometry()
    lo, hi = mesh.bounds
    mesh.apply_translation(-(lo + hi) / 2.0)
    mesh.apply_scale(2.0 / float((hi - lo).max()))
    return mesh


def render_case(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Dataset]:
    """Render the dataset of ``CASES[name]`` (a spawned EGL render) and open it."""
    events: list = []
    out = render_dataset(
        MODELS[name],
        DatasetSpec(views=VIEWS, size=SIZE, coverage=CASES[name]),
        tmp_path_factory.mktemp(name),
        on_event=lambda n, p: events.append((n, p)),
        timeout_s=180,
    )
    assert out.archive == out.archive.parent / "dataset.zip" and out.archive.is_file()
    assert not (out.archive.parent / "dataset.zip.part").exists()
    return name, Dataset(out.archive, events)
