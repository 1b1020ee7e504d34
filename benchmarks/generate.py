"""A synthetic workspace of N units × M items, distributed, with a filled return from every unit.

    python -m benchmarks.generate --scale city            # 80 units, 300 items
    python -m benchmarks.generate --units 1000 --items 20 # 1,000 units × 20 items each
    python -m benchmarks.generate --units 3 --items 2 --out /tmp/ws3

The workspace is built with the toolkit itself: `init_workspace`, a target list written by
`write_target_list` (realistic Chinese targets of 30–120 characters), `distribute`. Every unit's
return is then its own distributed template with the answers typed in (50–300 characters a cell,
some in several paragraphs `1.…；\\n2.…`; 完成 / 未完成 with a reason), so it carries the unit's real
stamp and layout and collect accepts it.

Filling: `inject` (default) writes the answers straight into the template's XML (the answer cells
become shared strings, as Excel saves them; nothing else of the file changes): about 2 ms a return.
`openpyxl` types them with `toolkit.excel.fill.fill_template` in a process pool (about 50 ms a return),
as the demo does; both give the same cells (tests/test_benchmarks_smoke.py compares them).

Generated workspaces are cached under benchmarks/.cache/, keyed by the size, the seed, this
generator's version and a digest of the toolkit's sources and templates: a toolkit change makes
a new one. The runner copies the cached workspace for every timed run and never changes it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import random
import re
import shutil
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from xlsxwriter.utility import xl_col_to_name

GENERATOR_VERSION = "1"
SEED = 20220415
CACHE = Path(__file__).resolve().parent / ".cache"
YEAR, PERIOD = 2022, "Q1"
AS_OF = "2022-04-14T09:30:00"  # when the runner's collect says the returns arrived


@dataclass(frozen=True)
class Size:
    units: int
    items: int  # items in the whole target list

    @property
    def label(self) -> str:
        return f"{self.units} units × {self.items} items"


SCALES = {"city": Size(80, 300), "units300": Size(300, 6000), "province": Size(1000, 20000)}


def size_from(units: int | None, items_per_unit: float | None, total: int | None, scale: str | None) -> Size:
    if scale:
        return SCALES[scale]
    if not units:
        raise SystemExit("give --scale, or --units with --items (per unit) or --total")
    if total is None:
        total = round(units * (items_per_unit if items_per_unit is not None else 20))
    if total < units:
        raise SystemExit(f"{total} items for {units} units: every unit must lead one item at least")
    return Size(units, total)


# --- realistic text -----------------------------------------------------------------------------------------

INDICATORS = ["地区生产总值", "一般公共预算收入", "规模以上工业增加值", "固定资产投资", "社会消费品零售总额", "进出口总额",
              "实际使用外资", "城乡居民人均可支配收入", "高新技术产业产值", "研发经费投入", "数字经济核心产业增加值",
              "农林牧渔业总产值", "旅游总收入", "金融机构人民币贷款余额", "税收收入", "民间投资", "网络零售额"]
FIRMS = ["高新技术企业", "科技型中小企业", "专精特新中小企业", "规模以上工业企业", "农民专业合作社", "家庭农场", "外贸企业",
         "养老服务机构", "普惠性幼儿园", "市场主体", "瞪羚企业", "上市后备企业"]
FACILITIES = ["省级以上创新平台", "省级重点实验室", "城镇老旧小区", "农村公路", "5G基站", "公共充电桩", "公共停车泊位",
              "社区卫生服务中心", "中小学校", "保障性租赁住房", "重点项目", "城市口袋公园", "污水处理设施"]
OBJECTS = FIRMS + FACILITIES
PROGRAMS = ["“四强”产业攀登计划", "科技创新“十百千”工程", "乡村振兴示范片区建设", "城市更新行动", "营商环境创新提升行动",
            "数字政府建设", "“双招双引”攻坚行动", "黄河流域生态保护和高质量发展", "城镇老旧小区改造", "新型基础设施建设",
            "县域商业体系建设", "义务教育优质均衡发展", "全民健身设施补短板工程", "职业技能提升行动", "河湖长制",
            "大气污染综合治理", "农村人居环境整治提升", "重点项目建设", "产业链链长制", "企业上市培育", "安全生产专项整治三年行动",
            "“无证明城市”建设", "放心消费创建", "高标准农田建设", "医养结合示范"]
ACTIONS = ["实施", "推进", "深化", "加快", "开展", "完善", "健全", "落实", "组织实施", "持续推进", "全面推行", "扎实推进"]
TOPICS = ["安全生产", "食品药品安全", "消防安全", "劳动保障", "耕地保护", "燃气安全", "校外培训治理", "欠薪治理", "扬尘治理",
          "散乱污企业整治", "自建房安全"]
PLACES = ["东城", "西湖", "南山", "北塘", "临川", "高阳", "青石", "白水", "红旗", "金川", "银河", "玉泉", "长丰", "永安",
          "太平", "新华", "兴隆", "云龙", "凤凰", "龙泉", "桃源", "柳林", "松江", "梅岭", "竹溪", "兰陵", "荷塘", "杏花",
          "石门", "沙河", "清河", "黄河", "淮阳", "汉中", "泰和", "安平", "宁远", "吉安", "福山", "寿光", "康乐", "乐平",
          "昌乐", "隆化", "盛泽", "丰润", "和平", "顺义", "平阴", "文登", "武城", "莱阳", "蓬莱", "栖霞", "海阳", "招远"]
DEPARTMENTS = ["发展改革委", "教育局", "科技局", "工业和信息化局", "民族宗教局", "公安局", "民政局", "司法局", "财政局",
               "人力资源社会保障局", "自然资源和规划局", "生态环境局", "住房城乡建设局", "交通运输局", "水利局", "农业农村局",
               "商务局", "文化和旅游局", "卫生健康委", "退役军人事务局", "应急管理局", "审计局", "国资委", "市场监管局",
               "体育局", "统计局", "医保局", "城市管理局", "行政审批服务局", "大数据局", "地方金融监管局", "信访局",
               "机关事务服务中心", "投资促进局", "畜牧兽医局", "粮食和物资储备局", "林业局", "气象局", "税务局", "供电公司"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"


class Writer:
    """Seeded Chinese text of the kinds a target list and a return hold."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def pick(self, items: list[str]) -> str:
        return self.r.choice(items)

    def n(self, low: int, high: int) -> int:
        return self.r.randint(low, high)

    def pct(self) -> str:
        return f"{self.r.randint(3, 25)}" if self.r.random() < 0.7 else f"{self.r.randint(30, 120) / 10:g}"

    def person(self) -> str:
        name = self.pick(list(SURNAMES)) + "".join(self.pick(list(GIVEN)) for _ in range(self.r.choice((1, 2, 2))))
        return name if len(name) > 2 else f"{name[0]}\u3000{name[1]}"  # two-character names padded, as printed

    def phone(self) -> str:
        return f"{self.n(2000000, 8999999)}" if self.r.random() < 0.5 else f"1{self.pick(['35', '39', '58', '86'])}{self.n(10000000, 99999999)}"

    # clauses
    def target_clause(self) -> str:
        return self.pick([
            f"{self.pick(INDICATORS)}增长{self.pct()}%左右",
            f"{self.pick(INDICATORS)}增速高于全省平均水平",
            f"新增{self.pick(FIRMS)}{self.n(5, 300)}家以上",
            f"完成{self.pick(PROGRAMS)}投资{self.n(10, 1000)}亿元以上",
            f"{self.pick(ACTIONS)}{self.pick(PROGRAMS)}",
            f"改造提升{self.pick(FACILITIES)}{self.n(10, 500)}个",
            f"建成{self.pick(FACILITIES)}{self.n(3, 80)}处",
            f"{self.pick(ACTIONS)}{self.pick(TOPICS)}专项整治，重大事故得到有效遏制",
            f"争创国家级{self.pick(FACILITIES)}{self.n(1, 9)}个",
            f"{self.pick(OBJECTS)}覆盖率达到{self.n(60, 99)}%",
        ])

    def progress_clause(self, unit: str) -> str:
        return self.pick([
            f"制定印发了《{YEAR}年{self.pick(PROGRAMS)}工作方案》，明确{self.n(5, 30)}项重点任务和责任分工",
            f"组织召开{self.pick(PROGRAMS)}推进会议{self.n(2, 9)}次，协调解决项目建设中的问题{self.n(3, 40)}个",
            f"累计完成投资{self.n(1, 300)}.{self.n(1, 9)}亿元，占年度计划的{self.n(18, 60)}%",
            f"新增{self.pick(FIRMS)}{self.n(2, 120)}家，同比增长{self.pct()}%",
            f"会同{unit}开展{self.pick(TOPICS)}专项行动，检查{self.pick(FIRMS)}{self.n(20, 900)}家，发现并整改问题{self.n(5, 200)}个",
            f"{self.pick(PROGRAMS)}项目已完成立项{self.n(30, 60)}个，开工{self.n(1, 30)}个",
            f"争取上级专项资金{self.n(1, 40)}.{self.n(1, 9)}亿元，惠及企业{self.n(20, 800)}家",
            f"一季度{self.pick(INDICATORS)}完成{self.n(10, 900)}.{self.n(1, 9)}亿元，同比增长{self.pct()}%，高于全省平均水平{self.n(1, 5)}.{self.n(1, 9)}个百分点",
            "建立工作台账，实行周调度、月通报制度，压实各区县和有关部门责任",
            f"组织开展政策宣讲培训{self.n(2, 20)}场，覆盖企业{self.n(100, 3000)}余家，发放政策汇编{self.n(500, 9000)}册",
            f"对照年度目标逐项分解任务，已完成{self.pick(OBJECTS)}摸底调查，形成{self.n(2, 9)}类问题清单",
            f"指导{self.pick(PLACES)}区开展试点，形成可复制推广的经验做法{self.n(2, 6)}条（{unit}负责）",
        ])

    def plan_clause(self) -> str:
        return self.pick([
            "加强与上级部门的沟通对接，积极争取政策和资金支持",
            "持续跟踪调度，确保按时序完成年度目标任务",
            f"加大{self.pick(FIRMS)}培育力度，力争全年新增{self.n(10, 200)}家以上",
            f"强化土地、资金等要素保障，推动{self.pick(PROGRAMS)}项目尽快开工建设",
            "健全督导考核机制，对进度滞后的区县进行约谈提醒",
            f"{self.pick(ACTIONS)}{self.pick(PROGRAMS)}，及时总结推广典型经验",
            f"组织开展{self.pick(TOPICS)}“回头看”，巩固整治成果",
            "做好二季度各项工作的统筹谋划，确保上半年实现“时间过半、任务过半”",
        ])

    def reason_clause(self) -> str:
        return self.pick([
            "受原材料价格上涨影响，部分项目开工时间推迟",
            "项目用地审批手续尚未办结，影响了工程进度",
            "受疫情防控影响，部分企业阶段性停工停产，相关指标增速放缓",
            "上级专项资金尚未下达，部分工程仍处于前期准备阶段",
            "一季度气温偏低，部分室外工程不具备施工条件",
            "部分企业申报材料不完整，需补充完善后重新报送",
            "涉及多个部门审批，协调周期较长",
        ])

    def text(self, clause: Any, low: int, high: int, paragraphs: float = 0.0, sep: str = "。") -> str:
        """Clauses up to a length drawn from [low, high]; with probability `paragraphs`, numbered paragraphs."""
        goal = self.n(low, high)
        numbered = self.r.random() < paragraphs
        parts: list[str] = []
        while True:
            candidate = clause()
            for _ in range(5):  # the same sentence twice in one cell reads wrong
                if candidate not in parts:
                    break
                candidate = clause()
            trial = self._join([*parts, candidate], numbered, sep)
            if len(trial) > high:
                break
            parts.append(candidate)
            if len(trial) >= goal:
                break
        if not parts:  # one clause longer than `high`: cut it
            return clause()[: high - 1] + "。"
        text = self._join(parts, numbered, sep)
        while len(text) < low:  # a short text from long clauses: pad with a fixed phrase
            text = text[:-1] + "，各项工作有序推进。"
        return text[:high - 1] + "。" if len(text) > high else text

    @staticmethod
    def _join(parts: list[str], numbered: bool, sep: str) -> str:
        if numbered and len(parts) > 1:
            return "\n".join(f"{i}.{p}{'。' if i == len(parts) else '；'}" for i, p in enumerate(parts, start=1))
        return sep.join(parts) + "。"


# --- the campaign -------------------------------------------------------------------------------------------

def unit_names(count: int) -> list[str]:
    """Distinct official names: the city's departments, then districts, then county departments."""
    names = [f"市{d}" for d in DEPARTMENTS] + [f"{p}区人民政府" for p in PLACES]
    names += [f"{p}县{d}" for p in PLACES for d in DEPARTMENTS]
    if count > len(names):
        raise SystemExit(f"at most {len(names)} units")
    return names[:count]


def campaign(size: Size, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(items, units) for write_target_list: every unit leads items[total / units] items, co-units for most."""
    rng = random.Random(seed)
    w = Writer(rng)
    names = unit_names(size.units)
    units = [{"name": n, "aliases": [n.replace("发展改革委", "发改委")]} if "发展改革委" in n else {"name": n}
             for n in names]
    leads = [names[i % size.units] for i in range(size.items)]
    rng.shuffle(leads)
    leaders = [w.person() for _ in range(max(4, size.units // 8))]
    items = []
    for seq, lead in enumerate(leads, start=1):
        co = rng.sample(names, k=min(rng.choice((0, 1, 1, 2, 2, 3)), size.units - 1) + 1)
        co = [u for u in co if u != lead][:3]
        items.append({
            "seq": seq,
            "annual": w.text(w.target_clause, 30, 120, sep="，"),
            "targets": {f"Q{q}": w.text(w.target_clause, 30, 120, sep="，") for q in range(1, 5)},
            "leader": rng.choice(leaders),
            "units": [lead, *co],
        })
    return items, units


def answers_for(seq_units: list[tuple[str, list[str]]], filled: list[Any], contact_keys: list[str],
                seed: int, unit: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """A unit's answers {序号: {column key: text}} and contact, seeded by the unit's name."""
    rng = random.Random(f"{seed}:{unit}")
    w = Writer(rng)
    answers: dict[str, dict[str, str]] = {}
    for seq, units in seq_units:
        done = rng.random() < 0.8
        other = units[1] if len(units) > 1 else unit
        row: dict[str, str] = {}
        for col in filled:
            if col.type == "choice" and col.choices:
                word = col.choices[0] if done else col.choices[-1]
                if done and rng.random() < 0.03:
                    word = "已完成"  # a synonym: a warning, as real returns carry
                row[col.key] = word
            elif col.key == "reason":
                row[col.key] = "无" if done else w.text(w.reason_clause, 50, 160, paragraphs=0.3)
            elif col.key == "plan":
                row[col.key] = w.text(w.plan_clause, 50, 240, paragraphs=0.4)
            else:
                row[col.key] = w.text(lambda other=other: w.progress_clause(other), 50, 300, paragraphs=0.45)
        answers[seq] = row
    contact = {}
    for key in contact_keys:
        contact[key] = w.phone() if "phone" in key else w.person()
    return answers, contact


# --- typing answers into a template's XML -------------------------------------------------------------------

_CELL = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def answer_cells(template: bytes, spec: Any, answers: dict[str, dict[str, str]],
                 contact: dict[str, str]) -> tuple[str, dict[tuple[int, int], str]]:
    """(sheet name, {(row, col): text}) where a unit would type: found by labels, as fill_template finds them."""
    from toolkit.excel.sheets import read_grids
    from toolkit.excel.targetlist import normalise_seq
    from toolkit.model.text import match_key

    labels = {match_key(c.label): c.key for c in spec.columns}
    id_key = spec.by_role("id").key
    contact_labels = {match_key(f.label): f.key for f in spec.contact}
    for grid in read_grids(template):
        for r in range(min(grid.height, 20)):
            found = {labels[k]: c for c in range(grid.width) if (k := match_key(grid.value(r, c))) in labels}
            if id_key not in found:
                continue
            cells: dict[tuple[int, int], str] = {}
            for rr in range(r + 1, grid.height):
                for key, value in answers.get(normalise_seq(grid.value(rr, found[id_key])), {}).items():
                    if key in found:
                        cells[(rr, found[key])] = value
            for rr in range(r):
                for c in range(grid.width):
                    key = contact_labels.get(match_key(grid.value(rr, c)))
                    if key and contact.get(key):
                        cells[(rr, c + 1)] = contact[key]
            return grid.name, cells
    raise ValueError("no header row in the template")


def inject(template: bytes, sheet_name: str, cells: dict[tuple[int, int], str]) -> bytes:
    """The template with `cells` set to shared strings (as Excel saves typed text); every other byte kept."""
    src = zipfile.ZipFile(io.BytesIO(template))
    workbook = src.read("xl/workbook.xml").decode("utf-8")
    rels = src.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    rid = re.search(rf'<sheet name="{re.escape(escape(sheet_name, {chr(34): "&quot;"}))}"[^>]*?r:id="(rId\d+)"', workbook)
    if rid is None:
        raise ValueError(f"no sheet {sheet_name!r}")
    target = re.search(rf'Id="{rid.group(1)}"[^>]*?Target="([^"]+)"|Target="([^"]+)"[^>]*?Id="{rid.group(1)}"', rels)
    sheet_path = "xl/" + (target.group(1) or target.group(2)).lstrip("/").removeprefix("xl/")
    sst = src.read("xl/sharedStrings.xml").decode("utf-8")
    unique = int(re.search(r'uniqueCount="(\d+)"', sst).group(1))
    count = int(re.search(r' count="(\d+)"', sst).group(1))
    index: dict[tuple[int, int], int] = {}
    added: list[str] = []
    for pos, text in cells.items():
        index[pos] = unique + len(added)
        added.append(f'<si><t xml:space="preserve">{escape(text)}</t></si>')
    sst = re.sub(r' count="\d+" uniqueCount="\d+"', f' count="{count + len(added)}" uniqueCount="{unique + len(added)}"',
                 sst, count=1).replace("</sst>", "".join(added) + "</sst>")

    sheet = src.read(sheet_path).decode("utf-8")
    pending = dict(index)

    def typed(m: re.Match[str]) -> str:
        pos = (int(m.group(2)) - 1, _col_index(m.group(1)))
        if pos not in pending:
            return m.group(0)
        attrs = re.sub(r'\s+t="[^"]*"', "", m.group(3))
        return f'<c r="{m.group(1)}{m.group(2)}"{attrs} t="s"><v>{pending.pop(pos)}</v></c>'

    sheet = _CELL.sub(typed, sheet)
    for (r, c), i in sorted(pending.items()):  # cells the template does not hold: inserted in column order
        sheet = _insert_cell(sheet, r, c, f'<c r="{xl_col_to_name(c)}{r + 1}" t="s"><v>{i}</v></c>')

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == sheet_path:
                data = sheet.encode("utf-8")
            elif info.filename == "xl/sharedStrings.xml":
                data = sst.encode("utf-8")
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _insert_cell(sheet: str, r: int, c: int, xml: str) -> str:
    row = re.search(rf'<row r="{r + 1}"[^>]*?(/>|>(.*?)</row>)', sheet, re.S)
    if row is None:
        raise ValueError(f"row {r + 1} is not in the template")
    if row.group(1) == "/>":
        opened = row.group(0)[:-2] + ">"
        return sheet[:row.start()] + opened + xml + "</row>" + sheet[row.end():]
    body_start = row.start(2)
    for cell in _CELL.finditer(row.group(2)):
        if _col_index(cell.group(1)) > c:
            at = body_start + cell.start()
            return sheet[:at] + xml + sheet[at:]
    at = row.end(2)
    return sheet[:at] + xml + sheet[at:]


# --- building the workspace ---------------------------------------------------------------------------------

def toolkit_digest() -> str:
    """A digest of the toolkit's sources and templates: a cached workspace is only reused with the same."""
    import toolkit
    from toolkit.model.resources import templates_dir

    digest = hashlib.sha256()
    for root in (Path(toolkit.__file__).parent, templates_dir()):
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_dir(size: Size, seed: int = SEED, fill: str = "inject", root: Path = CACHE) -> Path:
    return root / f"u{size.units}-i{size.items}-s{seed}-{fill}-g{GENERATOR_VERSION}-t{toolkit_digest()}"


@functools.cache
def _spec(ws_dir: str) -> Any:
    from toolkit.store.workspace import open_workspace

    return open_workspace(Path(ws_dir)).spec


def _fill_one(job: tuple[str, str, str, str, str, dict, dict]) -> tuple[str, float]:
    """One return (run in a worker process): the template with the unit's answers typed in."""
    ws_dir, template, out, fill, _unit, answers, contact = job
    started = time.perf_counter()
    spec = _spec(ws_dir)
    if fill == "openpyxl":
        from toolkit.excel.fill import fill_template

        fill_template(Path(template), Path(out), spec, answers, contact)
    else:
        data = Path(template).read_bytes()
        sheet, cells = answer_cells(data, spec, answers, contact)
        Path(out).write_bytes(inject(data, sheet, cells))
    return out, time.perf_counter() - started


def return_name(template_name: str) -> str:
    return f"{Path(template_name).stem}（已填）.xlsx"


def generate(dest: Path, size: Size, *, seed: int = SEED, fill: str = "inject", jobs: int = 2,
             log: Any = print) -> dict[str, Any]:
    """Build the workspace in `dest`/ws (returns in ws/inbox) and `dest`/meta.json; returns the meta."""
    from toolkit.distribute import distribute
    from toolkit.excel.targetlist import write_target_list
    from toolkit.model.periods import periods_of_kind
    from toolkit.store.workspace import init_workspace, open_workspace

    timings: dict[str, float] = {}
    started = time.perf_counter()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ws = init_workspace(dest / "ws", year=YEAR, period_code=PERIOD)
    items, units = campaign(size, seed)
    write_target_list(ws.targets_path, ws.spec, periods_of_kind(ws.period), items, units)
    timings["target list"] = time.perf_counter() - started

    t = time.perf_counter()
    ws = open_workspace(ws.root)
    result = distribute(ws)
    errors = [p for p in result.problems if p.is_error]
    if errors:
        raise SystemExit("the generated target list has errors: " + "; ".join(p.message for p in errors[:5]))
    timings["distribute"] = time.perf_counter() - t
    log(f"  {len(result.issues)} templates distributed in {timings['distribute']:.1f} s")

    t = time.perf_counter()
    spec = ws.spec
    filled = list(spec.filled)
    contact_keys = [f.key for f in spec.contact]
    inbox = ws.root / "inbox"
    inbox.mkdir(exist_ok=True)
    jobs_list = []
    for issue in result.issues:
        seq_units = [(i.seq, list(i.units)) for i in issue.items]
        answers, contact = answers_for(seq_units, filled, contact_keys, seed, issue.unit)
        jobs_list.append((str(ws.root), str(ws.outbox / issue.file_name), str(inbox / return_name(issue.file_name)),
                          fill, issue.unit, answers, contact))
    if jobs > 1 and len(jobs_list) > 8:
        with ProcessPoolExecutor(jobs) as pool:
            done = list(pool.map(_fill_one, jobs_list, chunksize=max(1, len(jobs_list) // (jobs * 8))))
    else:
        done = [_fill_one(job) for job in jobs_list]
    timings["fill"] = time.perf_counter() - t
    log(f"  {len(done)} returns filled ({fill}) in {timings['fill']:.1f} s")

    t = time.perf_counter()
    floor = floor_input(ws, result.issues)
    (dest / "floor-input.json").write_text(json.dumps(floor, ensure_ascii=False), encoding="utf-8")
    timings["floor input"] = time.perf_counter() - t

    returns = sorted(inbox.glob("*.xlsx"))
    chars = [len(v) for job in jobs_list for row in job[5].values() for v in row.values()]
    meta = {
        "size": {"units": size.units, "items": size.items}, "seed": seed, "fill": fill,
        "generator": GENERATOR_VERSION, "toolkit": toolkit_digest(), "workbooks": len(result.issues),
        "returns": len(returns), "return_bytes": sum(p.stat().st_size for p in returns),
        "filled_cells": len(chars), "filled_chars_mean": round(sum(chars) / max(len(chars), 1), 1),
        "multi_paragraph_cells": sum("\n" in v for job in jobs_list for row in job[5].values() for v in row.values()),
        "not_done": sum(row.get("status") == "未完成" for job in jobs_list for row in job[5].values()),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "seconds": round(time.perf_counter() - started, 2),
    }
    (dest / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta


def floor_input(ws: Any, issues: list[Any]) -> dict[str, Any]:
    """What the floors need, read back from the distributed templates: every workbook's cells by sheet.

    Also the table's layout: header row, fill-in columns and widths, so the floors write the same
    cells with the same kinds of formats without asking the toolkit anything while timed.
    """
    from toolkit.excel.sheets import read_grids

    spec = ws.spec
    columns = list(spec.columns)
    workbooks = []
    header_row = None
    for issue in issues:
        grids = read_grids(ws.outbox / issue.file_name)
        sheets = []
        for g in grids:
            rows = [[v if v != "" else None for v in row] for row in g.rows]
            sheets.append({"name": g.name, "visibility": g.visibility, "rows": rows})
            if header_row is None and g.visibility == "visible":
                header_row = next((r for r, row in enumerate(rows) if row and row[0] == spec.by_role("id").label), None)
        workbooks.append({"file": issue.file_name, "items": len(issue.items), "sheets": sheets})
    return {
        "title": spec.title, "header_row": header_row,
        "columns": [{"label": c.label, "width": c.width, "prefilled": c.prefilled,
                     "choices": list(c.choices) if c.type == "choice" else []} for c in columns],
        "workbooks": workbooks,
    }


def remove_stale(size: Size, *, seed: int = SEED, fill: str = "inject", root: Path = CACHE) -> None:
    """Cached folders of this size made with other toolkit sources (removed after timing: see run.fresh_copy)."""
    current = cache_dir(size, seed, fill, root)
    for stale in root.glob(f"u{size.units}-i{size.items}-s{seed}-{fill}-*"):
        if stale != current:
            shutil.rmtree(stale, ignore_errors=True)


def cached(size: Size, *, seed: int = SEED, fill: str = "inject", jobs: int = 2, root: Path = CACHE,
           force: bool = False, log: Any = print) -> Path:
    """The cached generated folder for this size (made when missing): holds ws/, meta.json, floor-input.json."""
    dest = cache_dir(size, seed, fill, root)
    if not force and (dest / "meta.json").is_file():
        log(f"generated workspace (cached): {dest}")
        return dest
    log(f"generating {size.label} into {dest} …")
    tmp = dest.with_name(dest.name + ".partial")
    meta = generate(tmp, size, seed=seed, fill=fill, jobs=jobs, log=log)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    # The workspace config and ledger hold no absolute paths: the renamed folder is still whole.
    log(f"  done in {meta['seconds']:.1f} s")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), help="city: 80 units × 300 items; province: 1,000 × 20,000")
    parser.add_argument("--units", type=int, help="number of lead units")
    parser.add_argument("--items", type=float, help="items per unit (default 20)")
    parser.add_argument("--total", type=int, help="items in the whole list (instead of --items)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--fill", choices=("inject", "openpyxl"), default="inject", help="how returns are typed")
    parser.add_argument("--jobs", type=int, default=2, help="processes filling returns")
    parser.add_argument("--out", type=Path, help="generate here instead of the cache (overwritten)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE)
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args(argv)
    size = size_from(args.units, args.items, args.total, args.scale)
    if args.out:
        meta = generate(args.out, size, seed=args.seed, fill=args.fill, jobs=args.jobs)
        folder = args.out
    else:
        folder = cached(size, seed=args.seed, fill=args.fill, jobs=args.jobs, root=args.cache_dir, force=args.force)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    print(json.dumps(meta, ensure_ascii=False, indent=1))
    print(f"workspace: {folder / 'ws'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
