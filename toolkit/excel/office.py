"""LibreOffice headless: converting workbooks (xlsx, xls, ods, pdf) with the real office program."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

BATCH = 100  # one soffice call given 300 files silently converted only 247 (BRIEF §6)
TIMEOUT_S = 600

# The official faces (GB/T 9704 practice) and what stands in for each when it is not installed: the first
# installed of the candidates, Simplified Chinese faces named explicitly (a bare "Noto Serif CJK" is the
# Japanese variant), and whether the stand-in is bold (小标宋 is a heavy Song face, 黑体 headings are bold).
SERIF_SC = ("Noto Serif CJK SC", "Source Han Serif SC", "Source Han Serif CN", "Noto Serif SC",
            "AR PL UMing CN", "SimSun", "Songti SC", "STSong")
SANS_SC = ("Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans SC", "WenQuanYi Zen Hei",
           "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei", "Heiti SC", "Droid Sans Fallback")
OFFICIAL_FACES: dict[str, tuple[tuple[str, ...], bool]] = {
    "方正小标宋简体": (SERIF_SC, True), "方正小标宋_GBK": (SERIF_SC, True), "小标宋": (SERIF_SC, True),
    "仿宋_GB2312": (SERIF_SC, False), "仿宋": (SERIF_SC, False), "FangSong": (SERIF_SC, False),
    "楷体_GB2312": (SERIF_SC, False), "楷体": (SERIF_SC, False), "KaiTi": (SERIF_SC, False),
    "宋体": (SERIF_SC, False), "SimSun": (SERIF_SC, False),
    "黑体": (SANS_SC, True), "SimHei": (SANS_SC, True),
}
SYSTEM_FONTS_CONF = "/etc/fonts/fonts.conf"


def installed_families() -> set[str] | None:
    """Every font family fontconfig knows (None without fontconfig: Windows and macOS LibreOffice do not use it)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    listed = subprocess.run([fc_list, "--format", "%{family}\n"], capture_output=True, text=True, check=False,
                            encoding="utf-8", errors="replace", timeout=60).stdout
    return {name.strip() for line in listed.splitlines() for name in line.split(",") if name.strip()}


def font_substitutes(faces: list[str]) -> dict[str, tuple[str, bool]]:
    """Each official face of `faces` that is not installed → (the installed face standing in, bold)."""
    installed = installed_families()
    if installed is None:
        return {}
    found = {}
    for face in dict.fromkeys(faces):
        if face in installed or face not in OFFICIAL_FACES:
            continue
        candidates, bold = OFFICIAL_FACES[face]
        stand_in = next((c for c in candidates if c in installed), None)
        if stand_in is not None:
            found[face] = (stand_in, bold)
    return found


def fonts_conf(substitutes: dict[str, tuple[str, bool]]) -> str:
    """A fontconfig file: the system's configuration, and each missing face replaced by its stand-in."""
    rules = []
    for face, (stand_in, bold) in substitutes.items():
        weight = '\n    <edit name="weight" mode="assign" binding="strong"><const>bold</const></edit>' if bold else ""
        rules.append(f'  <match target="pattern">\n    <test name="family"><string>{escape(face)}</string></test>\n'
                     f'    <edit name="family" mode="assign" binding="strong"><string>{escape(stand_in)}</string>'
                     f'</edit>{weight}\n  </match>')
    system = os.environ.get("FONTCONFIG_FILE") or SYSTEM_FONTS_CONF
    return ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            f'  <include ignore_missing="yes">{escape(system)}</include>\n' + "\n".join(rules) + "\n</fontconfig>\n")


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


def convert(files: list[Path], target: str, out_dir: Path, *, filter_name: str | None = None,
            substitutes: dict[str, tuple[str, bool]] | None = None, chinese_line_breaks: bool = False) -> list[Path]:
    """Convert each file to `target` (xlsx, xls, ods, pdf) in out_dir; returns the outputs in order.

    `filter_name` picks LibreOffice's export filter (e.g. "Calc MS Excel 2007 XML"). A private
    user profile keeps parallel runs and a user's open LibreOffice out of each other's way.
    `substitutes` (from `font_substitutes`) stand in for missing faces, through a fontconfig file
    given to soffice alone (FONTCONFIG_FILE). `chinese_line_breaks` lays out wrapped cells with the
    Chinese line-breaking rules (no line begins with ，。、）…): Calc applies them only to cells whose style
    says so, which an .xlsx cannot, so the files go through .ods, where every cell style is told so.
    """
    soffice = soffice_path()
    if soffice is None:
        raise OfficeError("没有找到 LibreOffice（soffice）：请先安装 LibreOffice（Debian/Ubuntu：apt-get install "
                          "libreoffice-calc fonts-noto-cjk；Windows：从 libreoffice.org 安装）后重试。")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="toolkit-lo-") as profile:
        run = functools.partial(_run, soffice, Path(profile).as_uri(), None)
        if substitutes:
            conf = Path(profile) / "fonts.conf"
            conf.write_text(fonts_conf(substitutes), encoding="utf-8")
            run = functools.partial(_run, soffice, Path(profile).as_uri(), {**os.environ, "FONTCONFIG_FILE": str(conf)})
        if chinese_line_breaks:
            files = run(files, "ods", None, Path(profile) / "ods")
            for ods in files:
                set_chinese_line_breaks(ods)
        return run(files, target, filter_name, out_dir)


def _run(soffice: str, profile: str, env: dict[str, str] | None, files: list[Path], target: str,
         filter_name: str | None, out_dir: Path) -> list[Path]:
    """One soffice call per batch of files; the outputs in order, or OfficeError naming the first file not converted."""
    convert_to = f"{target}:{filter_name}" if filter_name else target
    outputs = []
    for start in range(0, len(files), BATCH):
        batch = files[start:start + BATCH]
        command = [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                   "--convert-to", convert_to, "--outdir", str(out_dir), *map(str, batch)]
        try:
            subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False, env=env)
        except subprocess.TimeoutExpired as exc:
            raise OfficeError(f"LibreOffice 转换超时（{TIMEOUT_S} 秒）") from exc
        for source in batch:
            produced = out_dir / f"{source.stem}.{target}"
            if not produced.is_file():
                raise OfficeError(f"LibreOffice 未能把 {source.name} 转换为 {target}")
            outputs.append(produced)
    return outputs


_CELL_STYLE = re.compile(r'<style:(style|default-style)\b[^>]*style:family="table-cell"[^>]*(?<!/)>.*?</style:\1>', re.S)
_STRICT = 'style:line-break="strict"'


def set_chinese_line_breaks(ods: Path) -> None:
    """Every cell style of an .ods (content.xml, styles.xml) with `style:line-break="strict"`: the list of
    characters that may not begin or end a line applies (Calc's Format Cells → Asian Typography)."""
    def strict(match: re.Match[str]) -> str:
        block = match[0]
        if _STRICT in block:
            return block
        if "<style:paragraph-properties" in block:
            return block.replace("<style:paragraph-properties", f"<style:paragraph-properties {_STRICT}", 1)
        opening = block.index(">") + 1
        return f"{block[:opening]}<style:paragraph-properties {_STRICT}/>{block[opening:]}"

    copy = ods.with_name(f"{ods.stem}.tmp")
    with zipfile.ZipFile(ods) as zin, zipfile.ZipFile(copy, "w") as zout:
        for info in zin.infolist():  # mimetype stays first and stored, as ODF wants
            data = zin.read(info.filename)
            if info.filename in ("content.xml", "styles.xml"):
                data = _CELL_STYLE.sub(strict, data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    copy.replace(ods)
