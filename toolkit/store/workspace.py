"""A workspace: one folder per campaign with its config, target list, outbox, archive and reports."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2

from toolkit.excel.intake import Limits
from toolkit.excel.targetlist import TargetList, read_target_list, write_target_list
from toolkit.model.periods import Period, parse_period, periods_of_kind
from toolkit.model.resources import examples_dir, labels, templates_dir
from toolkit.model.spec import PREVIOUS, Spec, build_spec, load_spec, render
from toolkit.store.files import write_text
from toolkit.store.lock import workspace_lock

CONFIG_NAME = "toolkit.toml"
STATE_DIR = ".toolkit"
PREVIOUS_FILE = "previous.json"  # in the state folder
MANIFEST = "manifest.json"  # in the state folder: what was issued, with each unit's token
OUTPUTS = "outputs.json"  # in the state folder: files the toolkit wrote where the coordinator asked (-o, --html)


class WorkspaceError(RuntimeError):
    """The workspace is missing or its config is unusable; the message says what to do."""


@dataclass(frozen=True)
class Config:
    path: Path
    data: dict[str, Any]

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def need(self, dotted: str) -> Any:
        value = self.get(dotted)
        if value in (None, ""):
            raise WorkspaceError(f"{self.path}：缺少配置项 {dotted}")
        return value


@dataclass
class Workspace:
    root: Path
    config: Config

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def targets_path(self) -> Path:
        return self.root / self.config.need("files.targets")

    @property
    def campaign_id(self) -> str:
        return str(self.config.need("campaign.id"))

    @functools.cached_property
    def period(self) -> Period:
        try:
            return parse_period(str(self.config.need("campaign.period")))
        except ValueError as exc:
            raise WorkspaceError(f"{self.config.path}：campaign.period：{exc}") from exc

    @property
    def context(self) -> dict[str, Any]:
        """What every jinja2 label, title and file name can use."""
        return {
            "year": int(self.config.need("campaign.year")),
            "period": self.period,
            "campaign": self.config.get("campaign.name", ""),
            "deadline": str(self.config.get("campaign.deadline", "")),
            "office": self.config.get("coordinator.office", ""),
        }

    @functools.cached_property
    def spec(self) -> Spec:
        """The layout of the units' templates and returns: the full layout less the target list's own columns."""
        return self.layout.for_template()

    @functools.cached_property
    def layout(self) -> Spec:
        """The layout: defined in toolkit.toml itself when it has [[columns]], else the named preset."""
        if "columns" in self.config.data:
            spec = build_spec(self.config.data, self.context, self.config.path)
        else:
            overrides = {}
            if self.config.get("layout.title"):
                overrides["layout"] = {"title": self.config.get("layout.title")}
            spec = load_spec(str(self.config.need("campaign.preset")), self.context, overrides, base_dir=self.root)
        previous = self.previous
        return spec.with_previous(previous["label"]) if previous else spec

    @property
    def previous(self) -> dict[str, Any] | None:
        """Last period's answers ({"source", "label", "values": {序号: {key: text}}}), kept by distribute --previous."""
        path = self.state / PREVIOUS_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise WorkspaceError(f"{path} 已损坏：请重新运行 toolkit distribute --previous。") from exc

    def save_previous(self, data: dict[str, Any]) -> None:
        write_text(self.state / PREVIOUS_FILE, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
        self.__dict__.pop("spec", None)  # the layout now has last period's columns
        self.__dict__.pop("layout", None)

    @functools.cached_property
    def limits(self) -> Limits:
        try:
            return Limits.from_config(self.config.get("limits", {}) or {})
        except (ValueError, TypeError) as exc:
            raise WorkspaceError(f"{self.config.path}：{exc}") from exc

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Held by every command that writes in the workspace."""
        return workspace_lock(self.state)

    @functools.cached_property
    def _secret(self) -> bytes:
        path = self.state / "secret"
        if not path.is_file():
            raise WorkspaceError(f"工作区缺少密钥文件 {path}：请勿删除 .toolkit 文件夹；如已丢失，需重新 init 并重新分发。")
        secret = path.read_bytes().strip()
        if not secret:
            raise WorkspaceError(f"密钥文件 {path} 是空的：请从备份恢复原文件。用空密钥无法验证任何填报表的身份，"
                                 "本工具不会使用它；如原密钥已丢失，需在新文件夹重新 init 并重新分发。")
        issued = _issued_secret_check(self.state / MANIFEST)
        if issued and not hmac.compare_digest(issued, secret_check(secret)):
            raise WorkspaceError(
                f"密钥文件 {path} 已被替换，与分发填报表时所用的不同：按原密钥发出的填报表，其回报将无法验证身份"
                "（并非单位的问题）。请从备份恢复原密钥文件后重试；如原密钥已丢失，需在新文件夹重新 init 并重新分发。")
        return secret

    def secret(self) -> bytes:
        """Read once per workspace object: collect checks the stamp of every return with it."""
        return self._secret

    def check_output(self, path: Path, *, force: bool = False) -> Path:
        """`path`, when a command may write it: never the workspace's own inputs (target list, config, ledger and
        state, archive, outbox, inbox), never a device or folder; an existing file the toolkit did not write
        there before only with `force`. Checked before any work, so a refused path costs nothing."""
        target = path.resolve()
        protected = {self.targets_path.resolve(): "目标任务清单", self.config.path.resolve(): "配置文件"}
        folders = {self.state: "工作区状态文件夹（台账、密钥、发放记录）", self.root / "archive": "存档文件夹",
                   self.outbox: "发出的填报表文件夹", self.root / "inbox": "收件文件夹"}
        what = protected.get(target) or next((word for folder, word in folders.items()
                                              if target.is_relative_to(folder.resolve())), "")
        if what:
            raise WorkspaceError(f"不能写入 {path}：这是工作区的{what}中的文件，写入会覆盖输入。请换一个输出文件名。")
        if target.exists() and not target.is_file():
            raise WorkspaceError(f"不能写入 {path}：它不是普通文件（是文件夹或设备）。请换一个输出文件名。")
        if target.exists() and not force and not self.owns(target):
            raise WorkspaceError(f"{path} 已存在，且不是 toolkit 写出的文件：不会覆盖。请换一个输出文件名，"
                                 "或确认可以覆盖后加 --force。")
        return path

    def record_output(self, *paths: Path) -> None:
        """Remember files written at the coordinator's request: writing them again needs no --force."""
        outputs = self._outputs()
        new = {str(path.resolve()) for path in paths} - outputs
        if new:
            write_text(self.state / OUTPUTS, json.dumps(sorted(outputs | new), ensure_ascii=False, indent=1) + "\n")

    def owns(self, path: Path) -> bool:
        """Whether the toolkit wrote `path` at the coordinator's request (see record_output)."""
        return str(path.resolve()) in self._outputs()

    def _outputs(self) -> set[str]:
        try:
            return set(json.loads((self.state / OUTPUTS).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def load_targets(self) -> tuple[TargetList, list]:
        if not self.targets_path.is_file():
            raise WorkspaceError(f"找不到目标任务清单 {self.targets_path}：请放入清单，或修改 {CONFIG_NAME} 的 files.targets。")
        targets, problems = read_target_list(self.targets_path, self.layout, self.period)
        previous = self.previous
        if previous:  # last period's answers, keyed as the carried columns (previous_progress, …)
            values = previous.get("values", {})
            targets.items = [replace(i, values={**i.values, **{f"{PREVIOUS}{k}": v for k, v in values.get(i.seq, {}).items()}})
                             for i in targets.items]
        return targets, problems

    @property
    def co_organisers_enabled(self) -> bool:
        return bool(self.config.get("campaign.co_organisers", False))

    def co_recipient(self, unit: str) -> str:
        """How a co-organiser's workbook and return are named (labels.toml [co_organisers])."""
        return render(labels("co_organisers")["recipient"], {"unit": unit})

    def spec_for(self, role: str) -> Spec:
        """The layout of a lead unit's (role "lead") or a co-organiser's (role "co") workbook."""
        return self.spec.for_co_organisers() if role == "co" else self.spec

    def coordinator_contact(self) -> dict[str, str]:
        """The coordinator's own contact, keyed like the spec's contact fields (contact_person, …)."""
        return {f.key: str(self.config.get(f"coordinator.{f.key}", "") or "") for f in self.spec.contact}

    def coordinator_line(self) -> str:
        """The coordinator's contact in the spec's contact labels, e.g. 联系人：张三　　联系方式：1234567
        (two full-width spaces apart, as a Chinese document spaces them).

        A layout without a contact row: the config's contact_person and contact_phone, labelled as labels.toml says.
        """
        if not self.spec.contact:
            return "　　".join(f"{label}{value}" for key, label in labels("coordinator").items()
                               if (value := str(self.config.get(f"coordinator.{key}", "") or "")))
        return "　　".join(f"{f.label}{value}" for f in self.spec.contact
                           if (value := self.coordinator_contact()[f.key]))

    def file_name(self, key: str, **extra: Any) -> str:
        return safe_file_name(render(str(self.config.need(f"files.{key}")), {**self.context, **extra}))


def secret_check(secret: bytes) -> str:
    """A short proof of which secret signed the issued templates, kept in the manifest (it reveals nothing of it)."""
    return hmac.new(secret, b"toolkit secret check", hashlib.sha256).hexdigest()[:16]


def _issued_secret_check(path: Path) -> str:
    """The secret check recorded by the last distribute, if any (a damaged manifest is reported where it is read)."""
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("secret_check", ""))
    except (OSError, ValueError, AttributeError):
        return ""


_INVISIBLE = re.compile(r"[\x00-\x1f\u200b-\u200f\u2060\ufeff]")  # control and zero-width characters
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10))}
MAX_NAME_BYTES = 180  # a file name's UTF-8 bytes: room for "-填报通知.txt" within 255, and for the folder in MAX_PATH


def safe_file_name(name: str) -> str:
    """A file name Windows accepts too: its forbidden characters become full-width forms, invisible characters
    go, a no-break space becomes a space, a device name (CON, NUL, COM1…) gets a "_" before it, and a name
    too long is cut with a short hash of the whole, so that two long names stay apart."""
    table = str.maketrans({'<': '＜', '>': '＞', ':': '：', '"': '＂', '/': '／', '\\': '＼', '|': '｜',
                           '?': '？', '*': '＊', '\u00a0': ' '})
    name = _INVISIBLE.sub("", name).translate(table).strip(" .")
    stem, suffix = (name[:name.rindex(".")], name[name.rindex("."):]) if "." in name else (name, "")
    if stem.split(".")[0].strip().upper() in RESERVED:
        stem = f"_{stem}"
    if len(f"{stem}{suffix}".encode()) > MAX_NAME_BYTES:
        mark = "…" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
        while len(f"{stem}{mark}{suffix}".encode()) > MAX_NAME_BYTES:
            stem = stem[:-1]
        stem += mark
    return f"{stem}{suffix}"


def open_workspace(directory: Path | None) -> Workspace:
    """The workspace at `directory`, or the one holding the current folder."""
    start = (directory or Path.cwd()).resolve()
    candidates = [start] if directory else [start, *start.parents]
    for folder in candidates:
        config_path = folder / CONFIG_NAME
        if config_path.is_file():
            try:
                data = tomllib.loads(config_path.read_text(encoding="utf-8-sig"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise WorkspaceError(f"{config_path}：配置文件格式错误：{exc}") from exc
            return Workspace(folder, Config(config_path, data))
    where = start if directory else Path.cwd()
    raise WorkspaceError(f"{where} 不是 toolkit 工作区（没有 {CONFIG_NAME}）：请先运行 toolkit init，或用 -w 指定工作区。")


def default_deadline(year: int, period: Period) -> dt.date:
    """The 15th of the month after the period ends."""
    month = period.last_month + 1
    return dt.date(year + (month > 12), (month - 1) % 12 + 1, 15)


def init_workspace(directory: Path, *, preset: str = "gov-work-report", year: int | None = None,
                   period_code: str | None = None, targets: Path | None = None, example: bool = False,
                   upstream: Path | None = None) -> Workspace:
    """Create a workspace; refuses a folder that already holds one.

    `upstream`: the template this unit received from the level above; its items become the target
    list (their units left for this level to assign) and merge fills it in for the return.
    """
    if (directory / CONFIG_NAME).exists():
        raise WorkspaceError(f"{directory} 已是 toolkit 工作区：不会覆盖。请换一个文件夹，或删除其中的 {CONFIG_NAME}。")
    example_data: dict[str, Any] = {}
    if upstream is not None:
        from toolkit.excel.upstream import UpstreamError, read_upstream

        try:
            example_data = read_upstream(upstream)
        except UpstreamError as exc:
            raise WorkspaceError(str(exc)) from exc
        preset = example_data["preset"]
        year = year or example_data["year"]
        period_code = period_code or example_data["period"]
        example_data.update(name=f"{example_data['unit']}承办事项", office=example_data["unit"])
    if example:
        example_data = load_example(preset)
        year = year or example_data["year"]
        period_code = period_code or example_data["period"]
    year = year or dt.date.today().year
    try:
        period = parse_period(period_code or "Q1")
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from exc
    directory.mkdir(parents=True, exist_ok=True)
    if preset.endswith(".toml"):  # a layout file of one's own: kept in the workspace, named relative to it
        preset = _keep_preset_file(Path(preset), directory)
    context = {"year": year, "period": period}
    spec = load_spec(preset, context, base_dir=directory)
    preset_title = _preset_raw(preset, directory)["layout"]["title"]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=False,
                             keep_trailing_newline=True)
    targets_name = targets.name if targets else "目标任务清单.xlsx"
    config_text = env.get_template("config.toml.j2").render(
        campaign_id=f"{year}{period.code}-{secrets.token_hex(4)}",
        name=example_data.get("name") or f"{year}年主要目标任务",
        year=year, period=period.code, preset=preset, deadline=default_deadline(year, period).isoformat(),
        office=example_data.get("office", "市政府办公室"), targets=targets_name,
        template_name="{{ year }}年{{ period.long }}目标任务完成情况-{{ unit }}.xlsx",
        summary_name="{{ year }}年{{ period.long }}目标任务完成情况汇总表.xlsx",
        title=preset_title.replace('"', '\\"'),
    )
    state = directory / STATE_DIR
    state.mkdir(exist_ok=True)
    if not (state / "secret").exists():
        write_text(state / "secret", secrets.token_hex(32) + "\n")
    for sub in ("outbox", "inbox", "reports"):
        (directory / sub).mkdir(exist_ok=True)
    target_path = directory / targets_name
    if targets:
        if targets.resolve() != target_path.resolve():
            target_path.write_bytes(targets.read_bytes())
    elif not target_path.exists():
        periods = periods_of_kind(period)
        write_target_list(target_path, spec, periods, example_data.get("items", []), example_data.get("units", []),
                          _period_labels(preset, year, periods, directory))
    if upstream is not None:
        from toolkit.excel.upstream import save

        save(state, upstream, example_data)
    write_text(directory / CONFIG_NAME, config_text)
    return open_workspace(directory)


def _keep_preset_file(path: Path, directory: Path) -> str:
    """A layout file given to init (relative to the current folder): copied into the workspace unless it is there.

    The config names it relative to the workspace, so the later commands find it from anywhere.
    """
    source = path.resolve()
    if not source.is_file():
        raise WorkspaceError(f"找不到版式文件 {path}（在 {Path.cwd()} 下）：请检查路径。")
    workspace = directory.resolve()
    if source.is_relative_to(workspace):
        return source.relative_to(workspace).as_posix()
    kept = workspace / source.name
    if kept.exists() and kept.read_bytes() != source.read_bytes():
        raise WorkspaceError(f"{kept} 已存在且与 {path} 不同：请换一个文件名。")
    kept.write_bytes(source.read_bytes())
    return source.name


def _period_labels(preset: str, year: int, periods: list[Period], directory: Path) -> dict[str, str]:
    """Each period's target column label as this layout writes it (一季度目标, 第1季度目标 …)."""
    labels_by_code = {}
    for p in periods:
        spec = load_spec(preset, {"year": year, "period": p}, base_dir=directory)
        column = next((c for c in spec.target_columns if c.role == "period_target"), None)
        if column is not None:
            labels_by_code[p.code] = column.label
    return labels_by_code


def prefill_unit_sheet(ws: Workspace) -> tuple[TargetList, int | None]:
    """The target list as read, and how many units init listed on a 单位 sheet it added.

    None when the list already has a 单位 sheet, or is not an .xlsx workbook openpyxl can write into.
    """
    from toolkit.excel.sheets import read_grids
    from toolkit.excel.targetlist import add_unit_sheet
    from toolkit.excel.targetlist import labels as list_labels

    targets, _ = ws.load_targets()
    path = ws.targets_path
    if path.suffix.lower() not in (".xlsx", ".xlsm") or not targets.items:
        return targets, None
    try:
        names = [g.name for g in read_grids(path)]
    except Exception:  # unreadable lists are reported by distribute
        return targets, None
    if list_labels()["units_sheet"] in names:
        return targets, None
    return targets, add_unit_sheet(path, targets)


def _preset_raw(preset: str, base_dir: Path | None = None) -> dict[str, Any]:
    from toolkit.model.resources import preset_path

    path = (base_dir or Path()) / preset if preset.endswith(".toml") else preset_path(preset)
    with path.open("rb") as handle:
        return tomllib.load(handle)


def example_dir(preset: str) -> Path:
    return examples_dir() / preset


def load_example(preset: str) -> dict[str, Any]:
    folder = example_dir(preset)
    if not (folder / "targets.toml").is_file():
        raise WorkspaceError(f"预设“{preset}”没有附带示例。")
    with (folder / "targets.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return data


def load_example_answers(preset: str) -> dict[str, Any]:
    with (example_dir(preset) / "answers.toml").open("rb") as handle:
        return tomllib.load(handle)
