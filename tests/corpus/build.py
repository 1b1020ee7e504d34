"""The intake corpus: real returns as units make them, tampered, re-saved by LibreOffice, hostile or broken.

`tests/corpus/manifest.toml` lists every case (its file name, how it is made, the verdict `toolkit collect`
must give it and the findings `toolkit validate` must give it); this module makes the files, at test time,
from the templates a distributed example workspace holds:

    ws = corpus_workspace(tmp / "ws")          # init --example, limits lowered, distribute
    cases = build_corpus(ws, tmp / "corpus")   # every case's file written into the folder

Returns are filled by the unit simulator (tests/returns.py) or typed in by `toolkit.excel.fill.fill_template`;
hostile files are made by rewriting a real return's zip parts, so each one is a real return plus exactly
one hostile trait. LibreOffice cases are re-saved from other cases in ONE soffice call per format.
"""

from __future__ import annotations

import copy
import io
import re
import shutil
import struct
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from returns import (
    UNIT,
    Return,
    docx_bytes,
    example_answers,
    lock_file_bytes,
    make_return,
    open_return,
    template_path,
)

from toolkit.distribute import distribute
from toolkit.excel.fill import fill_template
from toolkit.excel.office import convert, soffice_path
from toolkit.store.workspace import Workspace, init_workspace, open_workspace

MANIFEST = Path(__file__).with_name("manifest.toml")

# Lowered in the corpus workspace's toolkit.toml so the zip bomb needs only a few MB of CPU to make.
CORPUS_LIMITS = {"uncompressed_mb": 40}
BOMB_MB = 120  # what the corpus' zip bomb inflates to (3x the corpus limit, 0.6x the default limit of 200)


# --- the manifest ---

@dataclass(frozen=True)
class Expected:
    """A finding `toolkit validate` gives: its code, severity, item and cell ("" where it has none)."""

    code: str
    severity: str
    item: str = ""
    cell: str = ""


@dataclass
class Case:
    id: str
    file: str
    make: str  # how it is made, in words
    build: str  # the builder below
    verdict: str = ""  # accepted / refused / skipped ("" for a .zip: its members have verdicts)
    unit: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    reason: list[str] = field(default_factory=list)  # finding codes the collect reason is made of
    note: str = ""  # words the reason must contain
    findings: list[Expected] = field(default_factory=list)
    members: list[Case] = field(default_factory=list)  # a .zip's entries, each with its own verdict
    why: str = ""  # why this verdict

    @property
    def leaves(self) -> list[Case]:
        """What collect gives a record for: the case itself, or each entry of a .zip case."""
        return self.members or [self]


def _case(entry: dict[str, Any]) -> Case:
    entry = dict(entry)
    entry["findings"] = [Expected(**f) for f in entry.get("findings", [])]
    entry["members"] = [_case({"id": f"{entry['id']}/{m['file']}", **m}) for m in entry.get("members", [])]
    return Case(**entry)


def load_manifest(path: Path = MANIFEST) -> list[Case]:
    cases = [_case(entry) for entry in tomllib.loads(path.read_text(encoding="utf-8"))["case"]]
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases


# --- the workspace ---

def corpus_workspace(root: Path) -> Workspace:
    """`toolkit init --example` with the corpus limits in toolkit.toml, then `toolkit distribute`."""
    set_limits(init_workspace(root, example=True).config.path, CORPUS_LIMITS)
    ws = open_workspace(root)
    assert ws.limits.uncompressed_mb == CORPUS_LIMITS["uncompressed_mb"]
    result = distribute(ws)
    assert not [p for p in result.problems if p.is_error], result.problems
    return ws


def set_limits(config: Path, limits: dict[str, Any]) -> None:
    """Set keys of the [limits] table in a toolkit.toml (the table added if the config has none)."""
    lines = config.read_text(encoding="utf-8").splitlines()
    header = next((i for i, line in enumerate(lines) if re.fullmatch(r"\[limits\]\s*(#.*)?", line.strip())), None)
    ours = [f"{k} = {v}" for k, v in limits.items()]
    if header is None:
        lines += ["", "[limits]", *ours]
    else:
        end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        kept = [line for line in lines[header + 1:end] if line.split("=", 1)[0].strip() not in limits]
        lines[header + 1:end] = [*ours, *kept]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- zip part surgery (an xlsx is a zip of XML parts) ---

def rewrite_parts(data: bytes, edit: dict[str, Callable[[bytes], bytes]] | None = None,
                  add: dict[str, bytes] | None = None) -> bytes:
    """The same zip with some parts' bytes edited and some parts added."""
    edit, add = edit or {}, add or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename in edit:
                content = edit[info.filename](content)
            target.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
        for name, content in add.items():
            target.writestr(name, content)
    return buffer.getvalue()


def table_part(data: bytes) -> str:
    """The worksheet part of the first (visible) sheet."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = sorted(n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
    return names[0]


def _after_declaration(xml: bytes, inserted: bytes) -> bytes:
    """`inserted` right after the `<?xml …?>` declaration (where a DOCTYPE goes)."""
    end = xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0
    return xml[:end] + inserted + xml[end:]


# --- unit-simulator tamperings (each on 市发展改革委's return unless said) ---

def correct(ws: Workspace, out: Path, unit: str = UNIT) -> None:
    make_return(ws, out, unit)


def status(ws: Workspace, out: Path, word: str, item: str = "2", reason: str | None = None) -> None:
    answers: dict[str, Any] = {"status": word}
    if reason is not None:
        answers["reason"] = reason
    make_return(ws, out, answers={item: answers})


def column_inserted(ws: Workspace, out: Path) -> None:
    def edit(r: Return) -> None:
        c = r.col("是否完成")
        r.insert_cols(c)
        r.sheet.cell(r.header_row, c).value = "备注"
        r.sheet.cell(r.row("2"), c).value = "已上报省发改委"

    make_return(ws, out, edit=edit)


def column_deleted(ws: Workspace, out: Path) -> None:
    make_return(ws, out, edit=lambda r: r.delete_cols(r.col("下步工作打算")))


def column_moved(ws: Workspace, out: Path) -> None:
    def edit(r: Return) -> None:
        r.move_column("具体工作进展", before="序号")
        r.move_column("是否完成")  # and another one to the end

    make_return(ws, out, edit=edit)


def rows_inserted(ws: Workspace, out: Path) -> None:
    def edit(r: Return) -> None:
        r.insert_rows(r.row("2"), 2)  # two empty rows between items 1 and 2
        r.insert_rows(r.header_row)  # and one above the header
        r.sheet.cell(r.header_row - 1, 1).value = "填报日期：2022年4月8日"

    make_return(ws, out, edit=edit)


def second_table(ws: Workspace, out: Path) -> None:
    """The whole table (header and items) copied and pasted again right below the last item, edited."""
    def edit(r: Return) -> None:
        first, last = r.header_row, max(r.item_rows().values())
        height = last - first + 1
        r.insert_rows(last + 1, height + 1)
        for offset in range(height):
            for c in range(1, r.sheet.max_column + 1):
                r.sheet.cell(last + 2 + offset, c).value = r.sheet.cell(first + offset, c).value
        r.sheet.cell(last + 3, r.col("是否完成")).value = "未完成"  # the copy is an older draft

    make_return(ws, out, edit=edit)


def merged_fill_in(ws: Workspace, out: Path) -> None:
    """是否完成 of items 1 and 2 merged into one cell (both 完成): item 2's own cell is now empty."""
    def edit(r: Return) -> None:
        col = r.col("是否完成")
        r.sheet.merge_cells(start_row=r.row("1"), start_column=col, end_row=r.row("2"), end_column=col)

    make_return(ws, out, edit=edit)


def sheet_renamed(ws: Workspace, out: Path) -> None:
    def edit(r: Return) -> None:
        r.sheet.title = "Sheet1"

    make_return(ws, out, edit=edit)


def sheet_order(ws: Workspace, out: Path) -> None:
    """A new sheet in front, the stamp sheet moved before the table."""
    def edit(r: Return) -> None:
        notes = r.workbook.create_sheet("填报说明", 0)
        notes["A1"] = "本表由办公室综合科汇总填报"
        r.workbook.move_sheet(r.stamp, offset=-(r.workbook.index(r.stamp) - 1))

    make_return(ws, out, edit=edit)


def hidden_rows(ws: Workspace, out: Path) -> None:
    def edit(r: Return) -> None:
        r.sheet.row_dimensions[r.row("2")].hidden = True
        r.sheet.column_dimensions["H"].hidden = True

    make_return(ws, out, edit=edit)


def row_per_paragraph(ws: Workspace, out: Path) -> None:
    """Item 2's three-paragraph progress typed one paragraph per row (rows inserted under the item)."""
    items, _ = example_answers(UNIT)
    paragraphs = [p for p in items["2"]["progress"].splitlines() if p.strip()]
    assert len(paragraphs) >= 2

    def edit(r: Return) -> None:
        row, col = r.row("2"), r.col("具体工作进展")
        r.insert_rows(row + 1, len(paragraphs) - 1)
        for i, text in enumerate(paragraphs):
            r.sheet.cell(row + i, col).value = text

    make_return(ws, out, edit=edit)


def wrong_column(ws: Workspace, out: Path) -> None:
    """Item 4's progress typed into 未完成原因; 具体工作进展 left empty."""
    items, _ = example_answers(UNIT)
    make_return(ws, out, answers={"4": {"progress": None, "reason": items["4"]["progress"]}})


def full_width_seq(ws: Workspace, out: Path) -> None:
    def edit(r: Return) -> None:
        for seq in ("1", "2", "4"):
            r.sheet.cell(r.row(seq), r.col("序号")).value = seq.translate(str.maketrans("0123456789",
                                                                                         "０１２３４５６７８９"))

    make_return(ws, out, edit=edit)


def odd_spaces(ws: Workspace, out: Path) -> None:
    """Zero-width and non-breaking spaces in answers, prefilled text, 序号 and the contact."""
    def edit(r: Return) -> None:
        r.set("1", "是否完成", "完成\u200b")
        r.set("2", "是否完成", "\u00a0完成\u00a0")
        r.set("4", "是否完成", "\ufeff完\u200b成")
        annual = r.sheet.cell(r.row("2"), r.col("年度目标"))
        annual.value = str(annual.value).replace("，", "，\u200b", 1).replace("以上", "以上\u00a0", 1)
        units = r.sheet.cell(r.row("4"), r.col("责任单位"))
        units.value = str(units.value).replace("\n", "\u00a0\n", 1)
        seq = r.sheet.cell(r.row("4"), r.col("序号"))
        seq.value = "\u200b4\u00a0"
        r.set_contact("联系人", "李明浩\u00a0")

    make_return(ws, out, edit=edit)


def stamp_deleted(ws: Workspace, out: Path) -> None:
    def edit(r: Return) -> None:
        r.workbook.remove(r.stamp)

    make_return(ws, out, edit=edit)


def forwarded_template(ws: Workspace, out: Path, template_of: str, typed_by: str) -> None:
    """`typed_by` fills `template_of`'s template with that unit's answers and its own contact, and sends it."""
    items, _ = example_answers(template_of)
    _, contact = example_answers(typed_by)
    fill_template(template_path(ws, template_of), out, ws.spec, items, contact)


def own_rows_in_other_template(ws: Workspace, out: Path, template_of: str, typed_by: str) -> None:
    """`typed_by` got `template_of`'s template by mistake and pasted its own rows over the items."""
    own = open_return(ws, typed_by)
    other = Return(template_path(ws, template_of))
    other_rows = list(other.item_rows().values())
    own_rows = list(own.item_rows().values())
    assert len(own_rows) == len(other_rows)
    for source_row, target_row in zip(own_rows, other_rows, strict=True):
        for c in range(1, own.sheet.max_column + 1):
            other.sheet.cell(target_row, c).value = own.sheet.cell(source_row, c).value
    _, contact = example_answers(typed_by)
    for key, label in (("contact_person", "联系人"), ("contact_phone", "联系方式")):
        other.set_contact(label, contact[key])
    other.save(out)


# --- hostile and broken ---

def zip_bomb(ws: Workspace, out: Path, inflated_mb: int = BOMB_MB) -> None:
    """A real return whose sheet XML is padded with `inflated_mb` MB of spaces (deflate packs them ~1000:1)."""
    data = open_return(ws).to_bytes()
    part = table_part(data)
    source = zipfile.ZipFile(io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename != part:
                target.writestr(info.filename, content)
                continue
            head, tail = content.split(b"<sheetData>", 1)
            with target.open(part, "w", force_zip64=True) as member:
                member.write(head + b"<sheetData>")
                block = b" " * (1 << 20)
                for _ in range(inflated_mb):
                    member.write(block)
                member.write(tail)


def lying_size(ws: Workspace, out: Path, inflated_mb: int = BOMB_MB) -> None:
    """A bomb whose sheet part declares, in its local header and in the central directory, the size it had
    before it was padded: a reader trusting the header would inflate it all."""
    data = open_return(ws).to_bytes()
    part = table_part(data)
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        declared = source.getinfo(part).file_size

    def pad(xml: bytes) -> bytes:
        head, tail = xml.split(b"<sheetData>", 1)
        return head + b"<sheetData>" + b" " * (inflated_mb << 20) + tail

    bomb = bytearray(rewrite_parts(data, {part: pad}))
    with zipfile.ZipFile(io.BytesIO(bytes(bomb))) as archive:
        info, entry = archive.getinfo(part), archive.start_dir  # start_dir: the first central directory entry
    struct.pack_into("<I", bomb, info.header_offset + 22, declared)  # local header: uncompressed size
    while bytes(bomb[entry + 46:entry + 46 + struct.unpack_from("<H", bomb, entry + 28)[0]]) != part.encode():
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", bomb, entry + 28)
        entry += 46 + name_len + extra_len + comment_len
    struct.pack_into("<I", bomb, entry + 24, declared)  # central directory: uncompressed size
    out.write_bytes(bytes(bomb))


def late_doctype(ws: Workspace, out: Path) -> None:
    """The billion laughs after 8 KB of comment: a DOCTYPE may come anywhere before the root element."""
    data = open_return(ws).to_bytes()
    comment = b"<!--" + b" padding " * 1000 + b"-->"
    out.write_bytes(rewrite_parts(data, {"xl/workbook.xml": lambda xml: _after_declaration(xml, comment + LAUGHS)}))


def external_entity(ws: Workspace, out: Path) -> None:
    """XXE: the part holding the contact's name declares an entity read from /etc/passwd, and uses it there."""
    data = open_return(ws).to_bytes()
    name = "李明浩".encode()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        part = next(n for n in z.namelist() if name in z.read(n))

    def edit(xml: bytes) -> bytes:
        root = re.search(rb"<(\w+)[ >]", xml[xml.index(b"?>") + 2 if xml.startswith(b"<?xml") else 0:])
        assert root is not None
        doctype = b"<!DOCTYPE " + root.group(1) + b' [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        return _after_declaration(xml, doctype).replace(name, b"&xxe;", 1)

    out.write_bytes(rewrite_parts(data, {part: edit}))


LAUGHS = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
                     for i in range(1, 10))
          + b"]>")


def billion_laughs(ws: Workspace, out: Path, part: str = "xl/workbook.xml") -> None:
    """Entity expansion (nine levels of ten: 10^9 "lol"s) declared in one XML part, used in it."""
    data = open_return(ws).to_bytes()

    def edit(xml: bytes) -> bytes:
        xml = _after_declaration(xml, LAUGHS)
        return xml.replace(b'name="', b'name="&lol9;', 1) if b'name="' in xml else xml

    out.write_bytes(rewrite_parts(data, {part: edit}))


def truncated(ws: Workspace, out: Path) -> None:
    data = open_return(ws, "市农业农村局").to_bytes()
    out.write_bytes(data[: len(data) // 2])  # the mail client lost the second half: no central directory


def empty(ws: Workspace, out: Path) -> None:
    out.write_bytes(b"")


def password(ws: Workspace, out: Path) -> None:
    """An xlsx encrypted with an open password (Agile encryption, as Excel writes it): an OLE container."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = open_return(ws, "市教育局").to_bytes()
    with out.open("wb") as target:
        OOXMLFile(io.BytesIO(plain)).encrypt("123456", target)


def html_as_xls(ws: Workspace, out: Path) -> None:
    """What some web systems and "save as web page" give: an HTML table named .xls."""
    rows = "".join(f"<tr><td>{seq}</td><td>完成</td><td>按计划推进</td></tr>" for seq in ("1", "2", "4"))
    out.write_text('<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8"></head>'
                   f"<body><table><tr><td>序号</td><td>是否完成</td><td>具体工作进展</td></tr>{rows}</table>"
                   "</body></html>", encoding="utf-8")


def csv_as_xlsx(ws: Workspace, out: Path) -> None:
    out.write_bytes("序号,是否完成,具体工作进展\r\n1,完成,按计划推进\r\n2,完成,按计划推进\r\n".encode("gbk"))


def docx(ws: Workspace, out: Path) -> None:
    out.write_bytes(docx_bytes())


def lock_file(ws: Workspace, out: Path) -> None:
    out.write_bytes(lock_file_bytes())


VBA_PROJECT = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
               + b"Attribute VB_Name = \"Module1\"\r\nSub Auto_Open()\r\n  Shell \"calc.exe\"\r\nEnd Sub\r\n")


def macro(ws: Workspace, out: Path, unit: str = "市地方金融监管局") -> None:
    """An .xlsm: the return with a VBA project part (an Auto_Open macro), as Excel saves a macro workbook.

    Its one item says 滞后, an error, so the unit gets a feedback workbook (which must carry no macro).
    """
    data = open_return(ws, unit, answers={"47": {"status": "滞后"}}).to_bytes()
    content_types = {"[Content_Types].xml": lambda xml: xml.replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml").replace(
        b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')}
    rels = {"xl/_rels/workbook.xml.rels": lambda xml: xml.replace(
        b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/'
        b'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')}
    out.write_bytes(rewrite_parts(data, {**content_types, **rels}, {"xl/vbaProject.bin": VBA_PROJECT}))


def many_rows(ws: Workspace, out: Path, rows: int = 100_000, unit: str = "市自然资源和规划局") -> None:
    """The return with `rows` rows of text pasted under the table (straight into the sheet XML)."""
    data = open_return(ws, unit).to_bytes()
    part = table_part(data)

    def edit(xml: bytes) -> bytes:
        start = 20
        body = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>明细{r}</t></is></c>'
                       f'<c r="B{r}"><v>{r}</v></c></row>' for r in range(start, start + rows))
        xml = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="A1:I{start + rows}"/>'.encode(), xml)
        return xml.replace(b"</sheetData>", body.encode() + b"</sheetData>")

    out.write_bytes(rewrite_parts(data, {part: edit}))


def huge_cell(ws: Workspace, out: Path, chars: int = 1 << 20) -> None:
    """A 1 MB text cell (Excel stops at 32,767 characters, and so does openpyxl: the text goes into the XML)."""
    text = ("1.加快推进重点项目建设；" * (chars // 12 + 1))[:chars]
    placeholder = "HUGECELLPLACEHOLDER"
    data = open_return(ws, "市生态环境局", answers={"34": {"progress": placeholder}}).to_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        part = next(n for n in z.namelist() if placeholder.encode() in z.read(n))
    out.write_bytes(rewrite_parts(data, {part: lambda xml: xml.replace(placeholder.encode(), text.encode())}))


def zip_slip(ws: Workspace, out: Path, members: list[dict[str, Any]]) -> None:
    """A .zip whose entry names climb out of the folder; each entry made by its own builder."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            scratch = out.parent / f".member-{abs(hash(member['file']))}.xlsx"
            BUILDERS[member["build"]](ws, scratch, **member.get("args", {}))
            info = zipfile.ZipInfo(member["file"], date_time=(2022, 4, 12, 9, 30, 0))  # kept as written
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, scratch.read_bytes())
            scratch.unlink()


def duplicate_of(ws: Workspace, out: Path, source: str, corpus: Path) -> None:
    """The same bytes as another case's file, sent again under another name."""
    out.write_bytes((corpus / source).read_bytes())


BUILDERS: dict[str, Callable[..., None]] = {f.__name__: f for f in (
    correct, status, column_inserted, column_deleted, column_moved, rows_inserted, second_table, merged_fill_in,
    sheet_renamed, sheet_order, hidden_rows, row_per_paragraph, wrong_column, full_width_seq, odd_spaces,
    stamp_deleted, forwarded_template, own_rows_in_other_template, zip_bomb, lying_size, external_entity,
    billion_laughs, late_doctype,
    truncated, empty, password, html_as_xls, csv_as_xlsx, docx, lock_file, macro, many_rows, huge_cell, zip_slip,
    duplicate_of,
)}

# Re-saved by LibreOffice: built from other cases' files after them.
RESAVED = "libreoffice"
# Needs another case's file in the corpus folder.
DEPENDENT = {"duplicate_of", RESAVED}


def build_case(ws: Workspace, case: Case, folder: Path) -> Path:
    out = folder / case.file
    out.parent.mkdir(parents=True, exist_ok=True)
    args = copy.deepcopy(case.args)
    if case.build == "zip_slip":
        args["members"] = [{"file": m.file, "build": m.build, "args": m.args} for m in case.members]
    if case.build == "duplicate_of":
        args["corpus"] = folder
    BUILDERS[case.build](ws, out, **args)
    return out


def build_corpus(ws: Workspace, folder: Path, cases: list[Case] | None = None, *,
                 libreoffice: bool | None = None) -> list[Case]:
    """Every case's file written into `folder`; returns the cases built.

    LibreOffice cases are made with one soffice call per format; without LibreOffice (and `libreoffice`
    not forced) they, and the cases made from them, are left out.
    """
    cases = load_manifest() if cases is None else cases
    if libreoffice is None:
        libreoffice = soffice_path() is not None
    by_id = {c.id: c for c in cases}
    built: list[Case] = []
    for case in cases:
        if case.build not in DEPENDENT:
            build_case(ws, case, folder)
            built.append(case)
    resaved = [c for c in cases if c.build == RESAVED]
    if libreoffice and resaved:
        scratch = folder.parent / f".{folder.name}-libreoffice"
        for fmt in sorted({c.args["format"] for c in resaved}):
            batch = [c for c in resaved if c.args["format"] == fmt]
            sources = []
            for c in batch:  # each source under its case id, so that the outputs' names do not collide
                source = scratch / "in" / fmt / f"{c.id}{Path(by_id[c.args['source']].file).suffix}"
                source.parent.mkdir(parents=True, exist_ok=True)
                source.write_bytes((folder / by_id[c.args["source"]].file).read_bytes())
                sources.append(source)
            outputs = convert(sources, fmt, scratch / "out" / fmt)
            for c, produced in zip(batch, outputs, strict=True):
                (folder / c.file).write_bytes(produced.read_bytes())
                built.append(c)
        shutil.rmtree(scratch, ignore_errors=True)
    for case in cases:
        if case.build == "duplicate_of":
            build_case(ws, case, folder)
            built.append(case)
    order = {c.id: i for i, c in enumerate(cases)}
    return sorted(built, key=lambda c: order[c.id])
