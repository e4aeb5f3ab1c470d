"""Run a real syslog-ng that tails the file logger's files and POSTs them to the ingest API.

The configuration is the one documented in docs/shipping.md.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

CONFIG = """@version: {version}
options {{ log-msg-size(16777216); stats-freq(0); time-reopen(1); log-fifo-size(100000); }};
source s_raymon {{
  wildcard-file(base-dir("{log_dir}") filename-pattern("raymon-*.ndjson") recursive(no)
                flags(no-parse) follow-freq(0.2) max-files(100));
}};
destination d_raymon {{
  http(url("{url}/api/v1/projects/{project_id}/ingest") method("POST")
       headers("Authorization: Bearer {api_key}" "Content-Type: application/x-ndjson")
       body("${{MESSAGE}}") delimiter("\\n") batch-lines(500) batch-timeout(200)
       retries(1000000) workers(1));
}};
log {{ source(s_raymon); destination(d_raymon); flags(flow-control); }};
"""


def syslog_ng_binary() -> str | None:
    return shutil.which("syslog-ng") or (
        "/usr/sbin/syslog-ng" if Path("/usr/sbin/syslog-ng").exists() else None
    )


def http_module_installed() -> bool:
    return any(Path("/usr/lib/syslog-ng").glob("*/libhttp.so"))


def syslog_ng_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    # "syslog-ng 3 (3.38.1)" -> "3.38"
    full = out.split("(", 1)[1].split(")", 1)[0]
    return ".".join(full.split(".")[:2])


class SyslogNg:
    """A syslog-ng process in the foreground, with its own persist file, pid file and control socket."""

    def __init__(self, workdir: Path, log_dir: Path, url: str, project_id: str, api_key: str) -> None:
        binary = syslog_ng_binary()
        assert binary is not None
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "syslog-ng.conf"
        self.config.write_text(
            CONFIG.format(
                version=syslog_ng_version(binary),
                log_dir=log_dir,
                url=url,
                project_id=project_id,
                api_key=api_key,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        w = self.workdir
        self.process = subprocess.Popen(
            [
                self.binary,
                "-F",
                "-f",
                str(self.config),
                "-R",
                str(w / "persist"),
                "-p",
                str(w / "pid"),
                "-c",
                str(w / "ctl"),
                "--no-caps",
            ],
            stdout=open(w / "stdout.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        time.sleep(0.5)
        if self.process.poll() is not None:
            raise RuntimeError(f"syslog-ng exited at start: {(w / 'stdout.log').read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return (self.workdir / "stdout.log").read_text(errors="replace")
