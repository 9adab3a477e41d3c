"""Where the generated world is: Hubei's prefecture-level cities and cities of the six neighbouring
provinces, with the coordinates of each city's government seat (WGS84, rounded to 0.01°; from
GeoNames and the cities' Wikipedia articles, see docs/world.md).

A region name is ``"<province> <city>"`` (``"湖北省 武汉市"``), as the rest of supplynet writes it;
Chongqing, a municipality, is ``"重庆市"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    """A city: names, province, the government seat's coordinates, whether the Yangtze runs through it."""

    key: str
    zh: str
    en: str
    province_zh: str
    province_en: str
    latitude: float
    longitude: float
    on_yangtze: bool = False

    @property
    def region(self) -> str:
        """The region name events carry."""
        return self.zh if self.province_zh == self.zh else f"{self.province_zh} {self.zh}"

    @property
    def in_hubei(self) -> bool:
        return self.province_zh == "湖北省"


HUBEI = "湖北省"

HUBEI_BOUNDS = (29.03, 33.33, 108.35, 116.13)
"""Hubei's bounding box: south, north latitude; west, east longitude (degrees)."""

CITIES: tuple[City, ...] = (
    # -- Hubei: the 12 prefecture-level cities and Enshi autonomous prefecture ----------------------
    City("wuhan", "武汉市", "Wuhan", HUBEI, "Hubei", 30.59, 114.31, on_yangtze=True),
    City("huangshi", "黄石市", "Huangshi", HUBEI, "Hubei", 30.20, 115.04, on_yangtze=True),
    City("shiyan", "十堰市", "Shiyan", HUBEI, "Hubei", 32.63, 110.80),
    City("yichang", "宜昌市", "Yichang", HUBEI, "Hubei", 30.69, 111.29, on_yangtze=True),
    City("xiangyang", "襄阳市", "Xiangyang", HUBEI, "Hubei", 32.01, 112.12),
    City("ezhou", "鄂州市", "Ezhou", HUBEI, "Hubei", 30.39, 114.89, on_yangtze=True),
    City("jingmen", "荆门市", "Jingmen", HUBEI, "Hubei", 31.04, 112.20),
    City("xiaogan", "孝感市", "Xiaogan", HUBEI, "Hubei", 30.92, 113.92),
    City("jingzhou", "荆州市", "Jingzhou", HUBEI, "Hubei", 30.33, 112.24, on_yangtze=True),
    City("huanggang", "黄冈市", "Huanggang", HUBEI, "Hubei", 30.45, 114.87, on_yangtze=True),
    City("xianning", "咸宁市", "Xianning", HUBEI, "Hubei", 29.84, 114.32, on_yangtze=True),
    City("suizhou", "随州市", "Suizhou", HUBEI, "Hubei", 31.69, 113.38),
    City("enshi", "恩施州", "Enshi", HUBEI, "Hubei", 30.27, 109.49),
    # -- Hunan ---------------------------------------------------------------------------------------
    City("changsha", "长沙市", "Changsha", "湖南省", "Hunan", 28.23, 112.94),
    City("yueyang", "岳阳市", "Yueyang", "湖南省", "Hunan", 29.36, 113.13, on_yangtze=True),
    City("xiangtan", "湘潭市", "Xiangtan", "湖南省", "Hunan", 27.83, 112.94),
    City("loudi", "娄底市", "Loudi", "湖南省", "Hunan", 27.70, 111.99),
    # -- Henan ---------------------------------------------------------------------------------------
    City("zhengzhou", "郑州市", "Zhengzhou", "河南省", "Henan", 34.75, 113.63),
    City("luoyang", "洛阳市", "Luoyang", "河南省", "Henan", 34.62, 112.45),
    City("nanyang", "南阳市", "Nanyang", "河南省", "Henan", 32.99, 112.53),
    City("pingdingshan", "平顶山市", "Pingdingshan", "河南省", "Henan", 33.77, 113.19),
    City("sanmenxia", "三门峡市", "Sanmenxia", "河南省", "Henan", 34.77, 111.20),
    City("puyang", "濮阳市", "Puyang", "河南省", "Henan", 35.76, 115.03),
    # -- Jiangxi -------------------------------------------------------------------------------------
    City("jiujiang", "九江市", "Jiujiang", "江西省", "Jiangxi", 29.71, 116.00, on_yangtze=True),
    City("nanchang", "南昌市", "Nanchang", "江西省", "Jiangxi", 28.68, 115.86),
    City("yingtan", "鹰潭市", "Yingtan", "江西省", "Jiangxi", 28.26, 117.07),
    City("shangrao", "上饶市", "Shangrao", "江西省", "Jiangxi", 28.45, 117.94),
    City("xinyu", "新余市", "Xinyu", "江西省", "Jiangxi", 27.82, 114.92),
    City("yichun", "宜春市", "Yichun", "江西省", "Jiangxi", 27.82, 114.42),
    # -- Anhui ---------------------------------------------------------------------------------------
    City("hefei", "合肥市", "Hefei", "安徽省", "Anhui", 31.82, 117.23),
    City("maanshan", "马鞍山市", "Ma'anshan", "安徽省", "Anhui", 31.67, 118.51, on_yangtze=True),
    City("tongling", "铜陵市", "Tongling", "安徽省", "Anhui", 30.95, 117.81, on_yangtze=True),
    City("anqing", "安庆市", "Anqing", "安徽省", "Anhui", 30.54, 117.06, on_yangtze=True),
    City("huaibei", "淮北市", "Huaibei", "安徽省", "Anhui", 33.96, 116.80),
    # -- Chongqing -----------------------------------------------------------------------------------
    City("chongqing", "重庆市", "Chongqing", "重庆市", "Chongqing", 29.56, 106.55, on_yangtze=True),
    # -- Shaanxi -------------------------------------------------------------------------------------
    City("xian", "西安市", "Xi'an", "陕西省", "Shaanxi", 34.34, 108.94),
    City("ankang", "安康市", "Ankang", "陕西省", "Shaanxi", 32.68, 109.03),
    City("hanzhong", "汉中市", "Hanzhong", "陕西省", "Shaanxi", 33.07, 107.02),
)

BY_KEY: dict[str, City] = {c.key: c for c in CITIES}


def distance_km(a: City, b: City) -> float:
    """Great-circle distance between two cities' seats (haversine, Earth radius 6,371 km)."""
    la1, lo1, la2, lo2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
