"""Pinyin search keys of enterprise names."""

from __future__ import annotations

import pytest

from graph.names import name_search_keys, pinyin_query_key


def test_keys_hold_full_pinyin_and_initials() -> None:
    assert name_search_keys("武汉钢铁") == "wuhangangtie whgt"
    assert name_search_keys("武汉钢铁(集团)公司") == "wuhangangtiejituangongsi whgtjtgs"


@pytest.mark.parametrize(
    "query", ["wuhan", "WuHan", "wu han", "whgt", "WHGT", "gangtie", "武汉", "wuhan钢铁"]
)
def test_pinyin_and_initials_queries_find_the_chinese_name(query: str) -> None:
    assert pinyin_query_key(query) in name_search_keys("武汉钢铁")


@pytest.mark.parametrize("query", ["shanghai", "wuhanshi", "whx"])
def test_other_names_do_not_match(query: str) -> None:
    assert pinyin_query_key(query) not in name_search_keys("武汉钢铁")


def test_a_query_never_matches_across_the_two_keys() -> None:
    # full ends "...tie", initials start "whgt": "tiewhgt" is in neither key
    assert pinyin_query_key("tie whgt") not in name_search_keys("武汉钢铁").split(" ")
    assert " " not in pinyin_query_key("tie whgt")


def test_polyphones_take_the_usual_reading() -> None:
    assert name_search_keys("重庆长安汽车").startswith("chongqingchanganqiche ")
    assert name_search_keys("长沙") == "changsha cs"


def test_latin_letters_and_digits_stay_and_punctuation_goes() -> None:
    assert name_search_keys("ABC 钢铁 Co., Ltd.") == "abcgangtiecoltd abcgtcoltd"
    assert name_search_keys("宝钢 2号厂") == "baogang2haochang bg2hc"
    assert name_search_keys("") == ""
    assert name_search_keys("(·)") == ""
    assert pinyin_query_key("  ") == ""
