"""dxgl: turn 3D models into product videos, posters, thumbnails and training datasets."""

__version__ = "0.1.0"
