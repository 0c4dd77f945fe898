// charts.js: small SVG line and bar charts for the dashboard, drawn with DOM calls (no library, no inline style: the
// colours come from style.css classes, so the page's content-security policy holds).
"use strict";

window.ProximaCharts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const PAD = { left: 48, right: 12, top: 26, bottom: 28 };
  let W = 480, H = 200; // the drawing's size in its own units; options.size = [w, h] changes it (smaller: larger text)

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

  // series: [{name, cls, points: [[x, y], …]}]; options: {title, xFormat, yMin, yMax, reference, size, empty}
  // (reference: a y value drawn as a dashed line, such as ½ for win rates).
  function line(container, series, options) {
    const o = options || {};
    [W, H] = o.size || [480, 200];
    const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": o.title || "chart", class: "plot" });
    root.append(svg("text", { x: PAD.left, y: 16, class: "title" }, o.title || ""));
    if (all.length === 0) {
      root.append(svg("text", { x: W / 2, y: H / 2, class: "empty", "text-anchor": "middle" }, o.empty || "nothing yet"));
      container.replaceChildren(root);
      return;
    }
    let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
    let y0 = o.yMin ?? Math.min(...all.map((p) => p[1])), y1 = o.yMax ?? Math.max(...all.map((p) => p[1]));
    if (o.reference !== undefined) { y0 = Math.min(y0, o.reference); y1 = Math.max(y1, o.reference); }
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
    const sx = (x) => PAD.left + (x - x0) / (x1 - x0) * (W - PAD.left - PAD.right);
    const sy = (y) => H - PAD.bottom - (y - y0) / (y1 - y0) * (H - PAD.top - PAD.bottom);
    const xf = o.xFormat || format;

    root.append(svg("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: "axis" }));
    root.append(svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }));
    for (const y of [y0, (y0 + y1) / 2, y1]) {
      root.append(svg("text", { x: PAD.left - 4, y: sy(y) + 4, class: "tick", "text-anchor": "end" }, format(y)));
    }
    root.append(svg("text", { x: PAD.left, y: H - 8, class: "tick" }, xf(x0)));
    root.append(svg("text", { x: W - PAD.right, y: H - 8, class: "tick", "text-anchor": "end" }, xf(x1)));
    if (o.reference !== undefined) {
      root.append(svg("line", { x1: PAD.left, y1: sy(o.reference), x2: W - PAD.right, y2: sy(o.reference), class: "reference" }));
    }
    let legendX = W - PAD.right;
    for (const s of series.slice().reverse()) {
      const label = svg("text", { x: legendX, y: 16, class: "legend " + s.cls, "text-anchor": "end" }, s.name);
      root.append(label);
      legendX -= 8 + 7 * s.name.length;
    }
    for (const s of series) {
      const points = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
      if (points.length > 1) {
        root.append(svg("polyline", { points: points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "), class: "series " + s.cls }));
      }
      for (const p of points.length <= 40 ? points : points.slice(-1)) {
        const dot = svg("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 2.5, class: "dot " + s.cls });
        dot.append(svg("title", {}, `${s.name}: ${format(p[1])} at ${xf(p[0])}`));
        root.append(dot);
      }
    }
    container.replaceChildren(root);
  }

  // Grouped bars: groups [{x, values: [..]}] with x the bucket's start and width its length (same units);
  // names and classes give each value's series. The x axis runs from the first group to the end of the last.
  function bars(container, groups, names, classes, options) {
    const o = options || {};
    [W, H] = o.size || [480, 200];
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": o.title || "chart", class: "plot" });
    root.append(svg("text", { x: PAD.left, y: 16, class: "title" }, o.title || ""));
    if (groups.length === 0) {
      root.append(svg("text", { x: W / 2, y: H / 2, class: "empty", "text-anchor": "middle" }, o.empty || "nothing yet"));
      container.replaceChildren(root);
      return;
    }
    const x0 = groups[0].x, x1 = groups[groups.length - 1].x + o.width;
    const y1 = Math.max(1, ...groups.flatMap((g) => g.values));
    const sx = (x) => PAD.left + (x - x0) / (x1 - x0) * (W - PAD.left - PAD.right);
    const sy = (y) => H - PAD.bottom - y / y1 * (H - PAD.top - PAD.bottom);
    const xf = o.xFormat || format;
    root.append(svg("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: "axis" }));
    root.append(svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }));
    for (const y of [0, y1 / 2, y1]) {
      root.append(svg("text", { x: PAD.left - 4, y: sy(y) + 4, class: "tick", "text-anchor": "end" }, format(y)));
    }
    root.append(svg("text", { x: PAD.left, y: H - 8, class: "tick" }, xf(x0)));
    root.append(svg("text", { x: W - PAD.right, y: H - 8, class: "tick", "text-anchor": "end" }, xf(x1)));
    let legendX = W - PAD.right;
    for (let i = names.length - 1; i >= 0; i--) {
      root.append(svg("text", { x: legendX, y: 16, class: "legend " + classes[i], "text-anchor": "end" }, names[i]));
      legendX -= 8 + 7 * names[i].length;
    }
    const slot = (sx(x0 + o.width) - sx(x0)) * 0.8 / names.length;
    for (const g of groups) {
      g.values.forEach((value, i) => {
        const bar = svg("rect", { x: (sx(g.x) + slot * (0.125 * names.length + i)).toFixed(1), y: sy(value).toFixed(1),
                                  width: Math.max(slot, 1).toFixed(1), height: (sy(0) - sy(value)).toFixed(1), class: "bar " + classes[i] });
        bar.append(svg("title", {}, `${names[i]}: ${value} (${xf(g.x)})`));
        root.append(bar);
      });
    }
    container.replaceChildren(root);
  }

  return { line, bars, format };
})();
