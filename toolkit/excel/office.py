"""LibreOffice headless: converting workbooks (xlsx, xls, ods, pdf) with the real office program."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BATCH = 100  # one soffice call given 300 files silently converted only 247 (BRIEF §6)
TIMEOUT_S = 600


class OfficeError(RuntimeError):
    """LibreOffice is missing or failed; the message says what to install or which file failed."""


def soffice_path() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in (r"C:\Program Files\LibreOffice\program\soffice.exe",
                      r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
                      "/Applications/LibreOffice.app/Contents/MacOS/soffice"):
        if Path(candidate).is_file():
            return candidate
    return None


def convert(files: list[Path], target: str, out_dir: Path, *, filter_name: str | None = None) -> list[Path]:
    """Convert each file to `target` (xlsx, xls, ods, pdf) in out_dir; returns the outputs in order.

    `filter_name` picks LibreOffice's export filter (e.g. "Calc MS Excel 2007 XML"). A private
    user profile keeps parallel runs and a user's open LibreOffice out of each other's way.
    """
    soffice = soffice_path()
    if soffice is None:
        raise OfficeError("没有找到 LibreOffice（soffice）：请先安装 LibreOffice（Debian/Ubuntu：apt-get install "
                          "libreoffice-calc fonts-noto-cjk；Windows：从 libreoffice.org 安装）后重试。")
    out_dir.mkdir(parents=True, exist_ok=True)
    convert_to = f"{target}:{filter_name}" if filter_name else target
    outputs = []
    with tempfile.TemporaryDirectory(prefix="toolkit-lo-") as profile:
        for start in range(0, len(files), BATCH):
            batch = files[start:start + BATCH]
            command = [soffice, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
                       "--convert-to", convert_to, "--outdir", str(out_dir), *map(str, batch)]
            try:
                subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
            except subprocess.TimeoutExpired as exc:
                raise OfficeError(f"LibreOffice 转换超时（{TIMEOUT_S} 秒）") from exc
            for source in batch:
                produced = out_dir / f"{source.stem}.{target}"
                if not produced.is_file():
                    raise OfficeError(f"LibreOffice 未能把 {source.name} 转换为 {target}")
                outputs.append(produced)
    return outputs
