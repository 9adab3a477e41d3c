"""Plausible, invented enterprise names: a Chinese name with its English one beside it.

Names are composed from a city, a two-character trade name, the trade and a legal form. The trade-name
characters leave out those of the well-known groups of the region's industries, and no list of real
companies is used, so a generated name does not name a real company (tests check a list of well-known
names never appears).
"""

from __future__ import annotations

import random

from connectors.world.catalog import Role
from connectors.world.geography import City

TRADE_CHARS: tuple[tuple[str, str], ...] = (
    ("楚", "Chu"),
    ("恒", "Heng"),
    ("鑫", "Xin"),
    ("荆", "Jing"),
    ("瑞", "Rui"),
    ("泰", "Tai"),
    ("嘉", "Jia"),
    ("晟", "Sheng"),
    ("宏", "Hong"),
    ("德", "De"),
    ("源", "Yuan"),
    ("丰", "Feng"),
    ("永", "Yong"),
    ("润", "Run"),
    ("信", "Xin"),
    ("博", "Bo"),
    ("盛", "Sheng"),
    ("坤", "Kun"),
    ("峰", "Feng"),
    ("锦", "Jin"),
    ("裕", "Yu"),
    ("凯", "Kai"),
    ("联", "Lian"),
    ("捷", "Jie"),
    ("屹", "Yi"),
    ("睿", "Rui"),
    ("磊", "Lei"),
    ("铭", "Ming"),
    ("澄", "Cheng"),
    ("航", "Hang"),
    ("韵", "Yun"),
    ("舜", "Shun"),
    ("岚", "Lan"),
    ("禾", "He"),
)

FORMS: tuple[tuple[str, str, float], ...] = (
    ("有限公司", "Co., Ltd.", 0.6),
    ("股份有限公司", "Corp., Ltd.", 0.25),
    ("集团有限公司", "Group Co., Ltd.", 0.15),
)


def trade_name(rng: random.Random) -> tuple[str, str]:
    """Two distinct trade-name characters: (Chinese, pinyin)."""
    a, b = rng.sample(TRADE_CHARS, 2)
    return a[0] + b[0], a[1] + b[1].lower()


def enterprise_name(rng: random.Random, role: Role, city: City) -> tuple[str, str]:
    """(Chinese name with the English one beside it, the trade name in pinyin for the id)."""
    zh_trade, en_trade = trade_name(rng)
    zh_form, en_form, _ = rng.choices(FORMS, weights=[f[2] for f in FORMS])[0]
    city_zh = city.zh[:-1] if city.zh.endswith(("市", "州")) else city.zh  # 鄂州市 -> 鄂州, 恩施州 -> 恩施
    zh = f"{city_zh}{zh_trade}{role.zh}{zh_form}"
    en = f"{city.en} {en_trade} {role.en} {en_form}"
    return f"{zh} ({en})", en_trade.lower()
