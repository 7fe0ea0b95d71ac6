"""A real nginx (Debian's, installed by .ci/run) in front of test replicas, running the shipped
``deploy/nginx/sourcier.conf`` with only its ports and log path changed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "deploy" / "nginx" / "sourcier.conf"
NGINX = "/usr/sbin/nginx"


def render(listen: int, upstreams: list[int], log: Path) -> str:
    """The shipped configuration for these ports; fails if the file no longer has what is replaced."""
    text = SHIPPED.read_text(encoding="utf-8")
    servers = re.findall(r"    server 127\.0\.0\.1:800\d max_fails=1 fail_timeout=5s;\n", text)
    assert len(servers) == 3 and "listen 8080;" in text and "/var/log/nginx/sourcier.log" in text
    lines = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n" for port in upstreams)
    text = text.replace("".join(servers), lines)
    return text.replace("listen 8080;", f"listen 127.0.0.1:{listen};").replace("/var/log/nginx/sourcier.log", str(log))


class Nginx:
    """nginx in the foreground with its own prefix folder; ``reload`` re-reads the configuration."""

    def __init__(self, listen: int, upstreams: list[int]) -> None:
        if not os.access(NGINX, os.X_OK):
            message = "nginx is not installed: `apt-get install nginx` (as .ci/run does)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.folder = Path(tempfile.mkdtemp(prefix="sourcier-nginx-"))
        self.folder.chmod(0o755)
        self.access_log = self.folder / "access.log"
        self.url = f"http://127.0.0.1:{listen}"
        temp = self.folder / "temp"
        temp.mkdir()
        temp.chmod(0o777)  # workers run as nobody when nginx starts as root
        (self.folder / "sourcier.conf").write_text(render(listen, upstreams, self.access_log), encoding="utf-8")
        (self.folder / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 2;\npid {self.folder}/nginx.pid;\nerror_log {self.folder}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;\n"
            f"  fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;\n"
            f"  include {self.folder}/sourcier.conf;\n"
            "}\n",
            encoding="utf-8",
        )
        command = [NGINX, "-p", str(self.folder), "-c", "nginx.conf"]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.url}/api/health", timeout=2)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""
                assert time.monotonic() < deadline, "nginx did not listen within 20 s"
                time.sleep(0.1)

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
