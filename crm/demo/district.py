"""The demo district: Shanghai Changning's ten streets and the departments firms deal with.

Street codes are the streets' statistical division codes (统计用区划代码). Service-centre
addresses and phone numbers are made up but shaped like real ones; each street lists the
roads its firms' addresses use.
"""

from dataclasses import dataclass

DIVISION = "310105"  # 长宁区: characters 3-8 of every demo firm's USCC
CITY_PREFIX = "上海市长宁区"


@dataclass(frozen=True)
class StreetSpec:
    name: str
    code: str
    abbr: str  # user-name prefix for the street's staff
    weight: int  # share of the district's firms
    service_centre_address: str
    service_centre_phone: str
    roads: tuple[str, ...]
    # Hongqiao and Gubei hold most of the district's foreign-invested firms.
    foreign_factor: float = 1.0


STREETS = (
    StreetSpec(
        "华阳路街道",
        "310105001",
        "hy",
        9,
        "长宁区安化路492号",
        "021-62521106",
        ("长宁路", "安化路", "武夷路", "定西路", "华阳路", "凯旋路", "延安西路"),
    ),
    StreetSpec(
        "江苏路街道",
        "310105002",
        "js",
        7,
        "长宁区愚园路1088号",
        "021-62400512",
        ("愚园路", "江苏路", "镇宁路", "长宁支路", "宣化路", "延安西路"),
    ),
    StreetSpec(
        "新华路街道",
        "310105004",
        "xh",
        8,
        "长宁区番禺路418号",
        "021-62801337",
        ("新华路", "番禺路", "法华镇路", "淮海西路", "幸福路", "定西路"),
    ),
    StreetSpec(
        "周家桥街道",
        "310105005",
        "zjq",
        8,
        "长宁区长宁路1600号",
        "021-52062218",
        ("长宁路", "万航渡路", "中山西路", "凯旋路", "江苏北路", "安龙路"),
    ),
    StreetSpec(
        "天山路街道",
        "310105006",
        "ts",
        10,
        "长宁区天山路345号",
        "021-62598817",
        ("天山路", "娄山关路", "遵义路", "茅台路", "紫云路", "仙霞路"),
        1.6,
    ),
    StreetSpec(
        "仙霞新村街道",
        "310105008",
        "xx",
        7,
        "长宁区仙霞路658号",
        "021-62091125",
        ("仙霞路", "茅台路", "威宁路", "水城路", "虹古路", "芙蓉江路"),
    ),
    StreetSpec(
        "虹桥街道",
        "310105009",
        "hq",
        14,
        "长宁区古北路620号",
        "021-62198803",
        ("虹桥路", "延安西路", "古北路", "遵义路", "伊犁路", "红宝石路", "兴义路"),
        2.2,
    ),
    StreetSpec(
        "程家桥街道",
        "310105010",
        "cjq",
        8,
        "长宁区哈密路1955号",
        "021-62685109",
        ("虹桥路", "哈密路", "龙溪路", "剑河路", "虹古路"),
        1.4,
    ),
    StreetSpec(
        "北新泾街道",
        "310105011",
        "bxj",
        9,
        "长宁区天山西路568号",
        "021-52195536",
        ("天山西路", "金钟路", "平塘路", "北虹路", "新渔路", "哈密路"),
    ),
    StreetSpec(
        "新泾镇",
        "310105102",
        "xj",
        20,
        "长宁区淞虹路955号",
        "021-62386610",
        ("淞虹路", "福泉北路", "天山西路", "协和路", "金钟路", "临虹路", "北翟路", "绥宁路"),
        1.3,
    ),
)


@dataclass(frozen=True)
class DepartmentSpec:
    name: str
    code: str
    abbr: str  # user-name prefix for the department's handlers
    phone: str


DEPARTMENTS = (
    DepartmentSpec("区市场监管局", "SCJGJ", "scjg", "021-22050218"),
    DepartmentSpec("区人力资源和社会保障局", "RSJ", "rsj", "021-22050336"),
    DepartmentSpec("区房屋管理局", "FGJ", "fgj", "021-22050417"),
    DepartmentSpec("区税务局", "SWJ", "swj", "021-22058000"),
    DepartmentSpec("区科学技术委员会", "KW", "kw", "021-22050526"),
    DepartmentSpec("区金融工作办公室", "JRB", "jrb", "021-22050603"),
    DepartmentSpec("区规划和自然资源局", "GHZYJ", "ghzy", "021-22050712"),
    DepartmentSpec("区商务委员会", "SWW", "sww", "021-22050835"),
    DepartmentSpec("区发展和改革委员会", "FGW", "fgw", "021-22050921"),
    DepartmentSpec("区投资促进办公室", "TCB", "tcb", "021-22051008"),
)
