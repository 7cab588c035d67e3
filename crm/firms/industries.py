"""GB/T 4754-2017 industry sections and the divisions a city district commonly has.

A firm's ``industry_code`` is a section letter followed by the division (two digits) and
optionally group and class digits, e.g. ``I65`` or ``I6513``. Filters and policy criteria
match on prefixes, so "I" is the whole information-technology section.
"""

from flask_babel import get_locale

# letter: (Chinese name, English name)
SECTIONS = {
    "A": ("农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"),
    "B": ("采矿业", "Mining"),
    "C": ("制造业", "Manufacturing"),
    "D": ("电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water"),
    "E": ("建筑业", "Construction"),
    "F": ("批发和零售业", "Wholesale and retail"),
    "G": ("交通运输、仓储和邮政业", "Transport, storage and post"),
    "H": ("住宿和餐饮业", "Accommodation and catering"),
    "I": ("信息传输、软件和信息技术服务业", "Information transmission, software and IT services"),
    "J": ("金融业", "Finance"),
    "K": ("房地产业", "Real estate"),
    "L": ("租赁和商务服务业", "Leasing and business services"),
    "M": ("科学研究和技术服务业", "Scientific research and technical services"),
    "N": ("水利、环境和公共设施管理业", "Water, environment and public facilities"),
    "O": ("居民服务、修理和其他服务业", "Resident services and repair"),
    "P": ("教育", "Education"),
    "Q": ("卫生和社会工作", "Health and social work"),
    "R": ("文化、体育和娱乐业", "Culture, sports and entertainment"),
    "S": ("公共管理、社会保障和社会组织", "Public administration and social organisations"),
    "T": ("国际组织", "International organisations"),
}

# Divisions seen in an urban service-economy district, with realistic weights for demo data.
DIVISIONS = {
    "C27": ("医药制造业", 2),
    "C39": ("计算机、通信和其他电子设备制造业", 2),
    "C40": ("仪器仪表制造业", 1),
    "E48": ("土木工程建筑业", 1),
    "F51": ("批发业", 10),
    "F52": ("零售业", 8),
    "G58": ("多式联运和运输代理业", 2),
    "G59": ("装卸搬运和仓储业", 1),
    "H61": ("住宿业", 2),
    "H62": ("餐饮业", 6),
    "I63": ("电信、广播电视和卫星传输服务", 1),
    "I64": ("互联网和相关服务", 8),
    "I65": ("软件和信息技术服务业", 14),
    "J66": ("货币金融服务", 1),
    "J67": ("资本市场服务", 2),
    "J69": ("其他金融业", 2),
    "K70": ("房地产业", 3),
    "L71": ("租赁业", 1),
    "L72": ("商务服务业", 12),
    "M73": ("研究和试验发展", 3),
    "M74": ("专业技术服务业", 6),
    "M75": ("科技推广和应用服务业", 6),
    "O80": ("居民服务业", 2),
    "P83": ("教育", 2),
    "Q84": ("卫生", 1),
    "R86": ("新闻和出版业", 1),
    "R87": ("广播、电视、电影和录音制作业", 2),
    "R88": ("文化艺术业", 2),
}


def section_name(letter: str) -> str:
    names = SECTIONS.get(letter)
    if not names:
        return letter
    return names[1] if str(get_locale() or "zh_CN").startswith("en") else names[0]


def describe(code: str) -> str:
    """``I65 软件和信息技术服务业`` for a code, or the section when the division is unknown."""
    if not code:
        return ""
    division = DIVISIONS.get(code[:3])
    if division:
        return f"{code} {division[0]}"
    return f"{code} {section_name(code[0])}"


def is_valid_code(code: str) -> bool:
    """A section letter alone, or with a division, group or class (1, 3, 4 or 5 characters)."""
    return (
        len(code) in (1, 3, 4, 5) and code[0] in SECTIONS and (len(code) == 1 or code[1:].isdigit())
    )
