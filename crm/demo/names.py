"""Words for demo data: people's names, phone numbers, company names, industry classes.

Every generator takes the caller's ``random.Random`` so a seed gives the same data.
"""

import random
import re
from itertools import accumulate


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _weighted(text: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Parse "王70 张60" into the values and their cumulative weights, for ``rng.choices``."""
    pairs = [re.fullmatch(r"(\D+)(\d+)", item).groups() for item in text.split()]
    return tuple(v for v, _ in pairs), tuple(accumulate(int(w) for _, w in pairs))


# Common surnames, weighted roughly as in Shanghai (陆, 顾, 沈, 徐 more than nationally).
_SURNAMES, _SURNAME_CUM = _weighted(
    "王70 张60 陈60 李55 刘40 徐40 周35 朱35 杨30 黄30 吴30 沈28 陆28 顾25 钱15 孙20 胡20 "
    "赵20 金15 姚12 高12 林12 郑10 何10 宋8 许12 蒋10 曹10 汤8 潘8 蔡8 施8 范6 马8 唐8 韩6 "
    "丁6 倪6 戴6 叶6 邱5 俞6 秦5 袁6 夏5 梁5 谢6 冯5 程5 卢5 姜5 董5 薛5 方5 严5 邵5 龚5 "
    "瞿3 毛4 任4 贾3 魏4 欧阳1 司马1 诸葛1"
)
_GIVEN_MALE = "伟强磊军勇杰涛斌俊峰浩明辉鹏华刚健翔宇晨昊文博超凯毅彬晓立志振东海荣"
_GIVEN_FEMALE = "静敏燕丽娟芳婷雪玲洁琳颖倩慧佳怡萍霞红瑜蕾蓉晶莉菁雯岚璐欣悦诗梦丹"
_GIVEN_ANY = "晓佳文雨思子一天嘉梓若安明欣逸宇"

_FOREIGN_FIRST = _words(
    "JAMES ROBERT MICHAEL DAVID THOMAS PETER MARTIN STEFAN PIERRE HANS ANNA MARIA SOPHIE "
    "LAURA CLAIRE EMMA"
)
_FOREIGN_LAST = _words(
    "SMITH MILLER BROWN WILSON MUELLER SCHMIDT WEBER DUBOIS MARTIN ROSSI JANSEN LARSEN "
    "TAYLOR CLARKE BERGER NOVAK"
)
_JAPANESE = _words("田中浩二 佐藤健太 铃木直树 高桥美香 渡边一郎 伊藤彩 山本拓也 中村优子")

_MOBILE_PREFIXES = _words(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 173 176 177 180 181 182 183 185 186 187 188 189 191 198 199"
)


def person_name(rng: random.Random) -> str:
    surname = rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM)[0]
    pool = _GIVEN_MALE if rng.random() < 0.55 else _GIVEN_FEMALE
    if rng.random() < 0.3:
        return surname + rng.choice(pool)
    first = rng.choice(_GIVEN_ANY) if rng.random() < 0.35 else rng.choice(pool)
    return surname + first + rng.choice(pool)


def foreign_person_name(rng: random.Random) -> str:
    """A foreign legal representative, written as on a Chinese business licence."""
    if rng.random() < 0.25:
        return rng.choice(_JAPANESE)
    return f"{rng.choice(_FOREIGN_FIRST)} {rng.choice(_FOREIGN_LAST)}"


def mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def landline(rng: random.Random) -> str:
    return f"021-{rng.choice('56'):s}{rng.randrange(10**7):07d}"


_TITLES, _TITLE_CUM = _weighted(
    "总经理12 副总经理8 财务总监6 财务经理10 行政经理14 人事经理12 人力资源总监4 办公室主任10 "
    "董事会秘书3 综合部经理6 政府事务经理5 法务经理3 行政专员7"
)


def contact_title(rng: random.Random) -> str:
    return rng.choices(_TITLES, cum_weights=_TITLE_CUM)[0]


# -- company names ------------------------------------------------------------------------

# Characters that Chinese company brands (字号) are commonly made of.
_BRAND_CHARS = "".join(
    dict.fromkeys(  # each character once, in a fixed order
        "华瑞锦鸿宏泰盛嘉博睿信达恒通汇创联新中德佳优卓科智腾星云海天晨启明君诚安富丰润祥"
        "和鼎融凯悦朗峰源益弘亿晟昊越宸澜翊璟骏贝乐美尚禾谷众合金银宝丽康力远航正元亚东方"
        "欣耀辰致图宁沪申江河湖山川林森岳奥迪翰墨帆纳思维灵动芯象雅轩铭昱"
    )
)
# Syllables used to transliterate foreign brands (艾森博, 诺维斯 ...).
_FOREIGN_SYLLABLES = "艾博德斯特凯维诺森雅莱普格霍泰尔克巴菲利奥卡蒙兰罗索沃汉丽伦施迈贝费欧"

# What follows the brand, per GB/T 4754 division (the words firms put in their names).
INDUSTRY_WORDS = {
    "C27": ("医药科技", "生物医药", "生物科技", "制药", "药业"),
    "C39": ("电子科技", "微电子", "通信设备", "智能设备", "电子技术"),
    "C40": ("仪器仪表", "精密仪器", "测控技术", "仪器科技"),
    "E48": ("建设工程", "市政工程", "建筑工程", "工程技术"),
    "F51": ("贸易", "国际贸易", "商贸", "实业", "供应链管理", "进出口"),
    "F52": ("商贸", "商业", "百货", "便利店", "电子商务"),
    "G58": ("国际货运代理", "物流", "供应链", "国际物流"),
    "G59": ("仓储", "物流", "仓储服务"),
    "H61": ("酒店管理", "酒店", "公寓管理"),
    "H62": ("餐饮管理", "餐饮", "食品", "咖啡"),
    "I63": ("通信技术", "通信科技", "通讯服务"),
    "I64": ("网络科技", "互联网科技", "信息科技", "电子商务", "数字科技"),
    "I65": ("信息科技", "软件科技", "网络科技", "数据科技", "智能科技", "信息技术", "数字科技"),
    "J66": ("融资租赁", "商业保理"),
    "J67": ("投资管理", "私募基金管理", "资产管理", "股权投资基金管理"),
    "J69": ("金融信息服务", "投资控股", "支付服务"),
    "K70": ("置业", "房地产开发", "物业管理", "房地产经纪"),
    "L71": ("租赁", "设备租赁", "汽车租赁"),
    "L72": _words(
        "企业管理 商务咨询 管理咨询 企业管理咨询 广告 人力资源 会展服务 文化传播 企业发展 品牌管理"
    ),
    "M73": ("生物技术", "新材料科技", "研发", "医学科技"),
    "M74": ("检测技术", "工程设计", "建筑设计", "设计", "工程咨询"),
    "M75": ("科技发展", "科技", "技术服务", "知识产权代理", "环保科技"),
    "O80": ("家政服务", "美容美发", "摄影", "健康管理"),
    "P83": ("教育科技", "培训", "教育信息咨询", "职业技能培训"),
    "Q84": ("医疗科技", "门诊部", "健康管理", "医疗管理"),
    "R86": ("文化传媒", "出版", "数字传媒"),
    "R87": ("影视文化", "影业", "文化传播", "影视制作"),
    "R88": ("文化艺术", "演艺", "艺术品", "文化发展"),
}

# GB/T 4754-2017 classes (four digits) seen in such firms, per division.
CLASSES = {
    "C27": ("2710", "2720", "2740", "2761", "2762", "2770"),
    "C39": ("3911", "3912", "3921", "3961", "3973", "3981"),
    "C40": ("4011", "4014", "4028"),
    "E48": ("4813", "4819"),
    "F51": ("5127", "5132", "5137", "5151", "5154", "5176", "5181"),
    "F52": ("5211", "5212", "5213", "5232", "5251", "5292"),
    "G58": ("5810", "5821"),
    "G59": ("5920", "5930"),
    "H61": ("6110", "6121"),
    "H62": ("6210", "6220", "6231", "6232", "6241"),
    "I63": ("6311", "6312", "6319"),
    "I64": ("6410", "6421", "6422", "6429", "6431", "6432", "6440", "6450"),
    "I65": ("6511", "6513", "6519", "6520", "6531", "6540", "6550", "6560", "6571"),
    "J66": ("6621", "6631"),
    "J67": ("6712", "6720", "6731", "6739"),
    "J69": ("6920", "6930", "6940"),
    "K70": ("7010", "7020", "7030", "7040"),
    "L71": ("7111", "7121"),
    "L72": ("7211", "7212", "7221", "7231", "7241", "7251", "7259", "7262", "7263", "7281"),
    "M73": ("7310", "7320", "7340"),
    "M74": ("7452", "7455", "7481", "7483", "7491", "7492"),
    "M75": ("7512", "7513", "7514", "7520", "7530", "7540", "7590"),
    "O80": ("8010", "8040", "8060"),
    "P83": ("8310", "8391", "8393", "8394"),
    "Q84": ("8415", "8423", "8491"),
    "R86": ("8610", "8626"),
    "R87": ("8710", "8730", "8750", "8770"),
    "R88": ("8810", "8820", "8890"),
}


def industry_code(rng: random.Random, division: str) -> str:
    """The division alone, or with the group or the class digits (I65, I651, I6513)."""
    roll = rng.random()
    if roll < 0.45:
        return division
    cls = rng.choice(CLASSES[division])
    return division[0] + (cls[:3] if roll < 0.6 else cls)


def _brand(rng: random.Random) -> str:
    size = 3 if rng.random() < 0.12 else 2
    return "".join(rng.sample(_BRAND_CHARS, size))


def _foreign_brand(rng: random.Random) -> str:
    return "".join(rng.sample(_FOREIGN_SYLLABLES, rng.choice((2, 3, 3))))


def company_name(
    rng: random.Random, division: str, *, foreign: bool, joint_stock: bool, taken: set[str]
) -> str:
    """A company name not in ``taken`` (which it joins)."""
    for _ in range(200):
        word = rng.choice(INDUSTRY_WORDS[division])
        if foreign:
            name = f"{_foreign_brand(rng)}{word}（上海）有限公司"
        elif joint_stock:
            name = f"上海{_brand(rng)}{word}股份有限公司"
        else:
            name = f"上海{_brand(rng)}{word}有限公司"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of distinct company names")  # not reached below millions


# -- addresses ----------------------------------------------------------------------------

_BUILDING_WORDS = ("大厦", "中心", "广场", "商务楼", "科技园")


def address(rng: random.Random, prefix: str, road: str) -> str:
    number = rng.randrange(1, 2400)
    roll = rng.random()
    if roll < 0.45:
        floor = rng.randrange(2, 32)
        return f"{prefix}{road}{number}号{floor}层{floor}{rng.randrange(1, 20):02d}室"
    if roll < 0.7:
        building = rng.choice("1234567")
        return f"{prefix}{road}{number}弄{building}号楼{rng.randrange(1, 8)}层"
    if roll < 0.85:
        name = rng.choice(_BRAND_CHARS) + rng.choice(_BRAND_CHARS) + rng.choice(_BUILDING_WORDS)
        return f"{prefix}{road}{number}号{name}{rng.randrange(101, 2999)}室"
    return f"{prefix}{road}{number}号"
