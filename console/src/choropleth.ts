// The data map's choropleth with Apache ECharts (tree-shaken: the map series, visual map and tooltip,
// canvas renderer). The geography ships with the app (src/geo/hubei-region.json, made by
// scripts/geography.mjs): nothing is fetched from a tile server.
import { MapChart, type MapSeriesOption } from "echarts/charts";
import { TooltipComponent, VisualMapComponent, type TooltipComponentOption, type VisualMapComponentOption } from "echarts/components";
import { init, registerMap, use, type ComposeOption, type ECharts } from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import geography from "./geo/hubei-region.json";

use([MapChart, TooltipComponent, VisualMapComponent, CanvasRenderer]);

const MAP = "hubei-region";
registerMap(MAP, geography as unknown as Parameters<typeof registerMap>[1]);

/** Every region name the shipped geography draws (supplynet region names, e.g. "湖北省 武汉市"). */
export const MAPPED_REGIONS: ReadonlySet<string> = new Set(
  (geography as { features: { properties: { name: string } }[] }).features.map((f) => f.properties.name),
);

type Option = ComposeOption<MapSeriesOption | TooltipComponentOption | VisualMapComponentOption>;

export interface Choropleth {
  chart: ECharts;
  /** Draws `values` (region → value; regions without one stay grey) with a colour scale from `low` to `high`. */
  show(values: Map<string, number>, label: string, colours: [string, string], format: (v: number) => string): void;
  /** Marks the region chosen for the drill-down. */
  pick(region: string): void;
  dispose(): void;
}

/** A choropleth in `container`; `onPick` gets the region a click chose. */
export function choropleth(container: HTMLElement, onPick: (region: string) => void): Choropleth {
  const chart = init(container, undefined, { renderer: "canvas" });
  chart.on("click", (params) => {
    if (params.name) onPick(params.name);
  });
  // A window resized to nothing (as a full-page screenshot does for a moment) leaves the map as it is:
  // ECharts cannot invert a zero-sized view.
  const resize = () => {
    if (container.clientWidth > 0 && container.clientHeight > 0) chart.resize();
  };
  window.addEventListener("resize", resize);
  return {
    chart,
    dispose() {
      window.removeEventListener("resize", resize);
      chart.dispose();
    },
    pick(region) {
      if (MAPPED_REGIONS.has(region)) chart.dispatchAction({ type: "select", seriesIndex: 0, name: region });
    },
    show(values, label, colours, format) {
      const numbers = [...values.values()];
      const max = numbers.length ? Math.max(...numbers) : 1;
      const min = numbers.length ? Math.min(...numbers, 0) : 0;
      const option: Option = {
        tooltip: {
          trigger: "item",
          formatter: (p) => {
            const item = Array.isArray(p) ? p[0] : p;
            const v = typeof item.value === "number" && !Number.isNaN(item.value) ? format(item.value) : "—";
            return `${item.name}<br/>${label}: ${v}`;
          },
        },
        visualMap: {
          type: "continuous",
          min,
          max: max > min ? max : min + 1,
          left: 10,
          bottom: 10,
          calculable: false,
          text: [format(max), format(min)],
          inRange: { color: colours },
        },
        series: [
          {
            type: "map",
            map: MAP,
            roam: true,
            aspectScale: 0.87, // cos(30° N): degrees of longitude are shorter than of latitude here
            selectedMode: "single",
            select: { itemStyle: { borderColor: "#1d4ed8", borderWidth: 2.5 }, label: { show: true } },
            nameProperty: "name",
            itemStyle: { areaColor: "#e4e7eb", borderColor: "#9aa5b1", borderWidth: 0.6 },
            emphasis: { label: { show: true, fontSize: 11 }, itemStyle: { areaColor: "#fde68a" } },
            label: { show: false },
            data: [...values].map(([name, value]) => ({ name, value })),
          },
        ],
      };
      chart.setOption(option, true);
    },
  };
}
