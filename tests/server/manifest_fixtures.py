"""A real server whose plugins know the action names the original documents use, and helpers to apply manifests.

``manifest_plugin/`` (a ``raymon`` entry point on the server's ``PYTHONPATH``) registers
``img2html``, ``profile_eval``, ``profile_reducer``, ``slack``, ``webhook``... where Raymon's
own plugin does not yet; ``ManifestProject`` is a fresh project with the retinopathy profile
of the walkthrough uploaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

PLUGIN_DIR = Path(__file__).resolve().parent / "manifest_plugin"
RETINOPATHY = {"name": "retinopathy", "version": "3.0.0", "components": []}


def plugin_env() -> dict[str, str]:
    """The environment that puts the stand-in plugin on a process's path."""
    path = os.pathsep.join(p for p in (str(PLUGIN_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


@dataclass
class ManifestProject:
    server: Any
    project_id: str
    admin_key: str

    @classmethod
    def create(cls, server: Any, *profiles: dict[str, Any]) -> ManifestProject:
        handle = server.new_project()
        project = cls(server, handle.project_id, handle.admin_key)
        for profile in profiles or (RETINOPATHY,):
            response = project.client().post(f"/api/v1/projects/{project.project_id}/profiles", json=profile)
            assert response.status_code == 201, response.text
        return project

    def client(self, key: str | None = None) -> httpx.Client:
        return self.server.client(self.admin_key if key is None else key)

    @property
    def path(self) -> str:
        return f"/api/v1/projects/{self.project_id}/manifest"

    def apply(self, text: str, key: str | None = None, content_type: str = "text/yaml") -> httpx.Response:
        with self.client(key) as client:
            return client.put(self.path, content=text.encode(), headers={"Content-Type": content_type})

    def get(self, key: str | None = None, **params: Any) -> httpx.Response:
        with self.client(key) as client:
            return client.get(self.path, params=params)

    def history(self, key: str | None = None) -> httpx.Response:
        with self.client(key) as client:
            return client.get(f"{self.path}/history")

    def manifest(self, text: str) -> str:
        """``text`` with the original's project id replaced by this project's."""
        return text.replace("project_id: retinopathy", f"project_id: {self.project_id}")
