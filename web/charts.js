// charts.js: small SVG line and bar charts for the dashboard, drawn with DOM calls (no library, no inline style:
// the colours come from style.css classes, so the page's content-security policy holds).
"use strict";

window.ProximaCharts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const PAD = { left: 48, right: 12, top: 26, bottom: 28 };

  function svg(tag, attributes, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attributes || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function format(value) {
    if (!Number.isFinite(value)) return "";
    const a = Math.abs(value);
    if (a !== 0 && (a < 0.01 || a >= 100000)) return value.toExponential(1);
    return a >= 100 ? value.toFixed(0) : a >= 10 ? value.toFixed(1) : value.toFixed(2).replace(/\.?0+$/, "") || "0";
  }

  // A chart's drawing: its size in its own units (options.size = [w, h]; smaller means larger text), title,
  // axes with three y ticks and the two x ends, and the legend. Returns null (after drawing the empty
  // message) when there is nothing to plot.
  function frame(container, o, empty) {
    const [w, h] = o.size || [480, 200];
    const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": o.title || "chart", class: "plot" });
    root.append(svg("text", { x: PAD.left, y: 16, class: "title" }, o.title || ""));
    container.replaceChildren(root);
    if (empty) {
      root.append(svg("text", { x: w / 2, y: h / 2, class: "empty", "text-anchor": "middle" }, o.empty || "nothing yet"));
      return null;
    }
    return { root, w, h };
  }

  function scales(f, x0, x1, y0, y1) {
    return {
      sx: (x) => PAD.left + (x - x0) / (x1 - x0) * (f.w - PAD.left - PAD.right),
      sy: (y) => f.h - PAD.bottom - (y - y0) / (y1 - y0) * (f.h - PAD.top - PAD.bottom),
    };
  }

  function axes(f, s, [x0, x1, y0, y1], xf) {
    const { root, w, h } = f;
    root.append(svg("line", { x1: PAD.left, y1: h - PAD.bottom, x2: w - PAD.right, y2: h - PAD.bottom, class: "axis" }));
    root.append(svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: h - PAD.bottom, class: "axis" }));
    for (const y of [y0, (y0 + y1) / 2, y1]) {
      root.append(svg("text", { x: PAD.left - 4, y: s.sy(y) + 4, class: "tick", "text-anchor": "end" }, format(y)));
    }
    root.append(svg("text", { x: PAD.left, y: h - 8, class: "tick" }, xf(x0)));
    root.append(svg("text", { x: w - PAD.right, y: h - 8, class: "tick", "text-anchor": "end" }, xf(x1)));
  }

  function legend(f, names, classes) {
    let x = f.w - PAD.right;
    for (let i = names.length - 1; i >= 0; i--) {
      f.root.append(svg("text", { x, y: 16, class: "legend " + classes[i], "text-anchor": "end" }, names[i]));
      x -= 8 + 7 * names[i].length;
    }
  }

  // series: [{name, cls, points: [[x, y], …]}]; options: {title, xFormat, yMin, yMax, reference, size, empty}
  // (reference: a y value drawn as a dashed line, such as ½ for win rates).
  function line(container, series, options) {
    const o = options || {};
    const finite = (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]);
    const all = series.flatMap((s) => s.points).filter(finite);
    const f = frame(container, o, all.length === 0);
    if (!f) return;
    let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
    let y0 = o.yMin ?? Math.min(...all.map((p) => p[1])), y1 = o.yMax ?? Math.max(...all.map((p) => p[1]));
    if (o.reference !== undefined) { y0 = Math.min(y0, o.reference); y1 = Math.max(y1, o.reference); }
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
    const s = scales(f, x0, x1, y0, y1), xf = o.xFormat || format;
    axes(f, s, [x0, x1, y0, y1], xf);
    if (o.reference !== undefined) {
      f.root.append(svg("line", { x1: PAD.left, y1: s.sy(o.reference), x2: f.w - PAD.right, y2: s.sy(o.reference), class: "reference" }));
    }
    legend(f, series.map((x) => x.name), series.map((x) => x.cls));
    for (const one of series) {
      const points = one.points.filter(finite);
      if (points.length > 1) {
        f.root.append(svg("polyline", { points: points.map((p) => `${s.sx(p[0]).toFixed(1)},${s.sy(p[1]).toFixed(1)}`).join(" "), class: "series " + one.cls }));
      }
      for (const p of points.length <= 40 ? points : points.slice(-1)) {
        const dot = svg("circle", { cx: s.sx(p[0]).toFixed(1), cy: s.sy(p[1]).toFixed(1), r: 2.5, class: "dot " + one.cls });
        dot.append(svg("title", {}, `${one.name}: ${format(p[1])} at ${xf(p[0])}`));
        f.root.append(dot);
      }
    }
  }

  // Grouped bars: groups [{x, values: [..]}] with x the bucket's start and options.width its length (same
  // units); names and classes give each value's series. The x axis runs from the first group to the end of the last.
  function bars(container, groups, names, classes, options) {
    const o = options || {};
    const f = frame(container, o, groups.length === 0);
    if (!f) return;
    const x0 = groups[0].x, x1 = groups[groups.length - 1].x + o.width;
    const y1 = Math.max(1, ...groups.flatMap((g) => g.values));
    const s = scales(f, x0, x1, 0, y1), xf = o.xFormat || format;
    axes(f, s, [x0, x1, 0, y1], xf);
    legend(f, names, classes);
    const slot = (s.sx(x0 + o.width) - s.sx(x0)) * 0.8 / names.length;
    for (const g of groups) {
      g.values.forEach((value, i) => {
        const bar = svg("rect", { x: (s.sx(g.x) + slot * (0.125 * names.length + i)).toFixed(1), y: s.sy(value).toFixed(1),
                                  width: Math.max(slot, 1).toFixed(1), height: (s.sy(0) - s.sy(value)).toFixed(1), class: "bar " + classes[i] });
        bar.append(svg("title", {}, `${names[i]}: ${value} (${xf(g.x)})`));
        f.root.append(bar);
      });
    }
  }

  return { line, bars, format };
})();
