// dashboard.js: the operator's view. Everything comes from the admin routes (docs/api.md): the versions and
// their lineage, activation, phases with live curves, starting a phase, activity over time, the pairs export.
// It polls: every second while a phase is queued or running, every five seconds otherwise; a section is
// redrawn only when its data changed, so a button is never replaced under a click.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const charts = window.ProximaCharts;
  const drawn = {}; // section → the JSON it was last drawn from
  let timer = null;

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, String(v));
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function showError(text) {
    $("error").textContent = text || "";
    $("error").hidden = !text;
  }

  async function api(path, options) {
    const headers = {};
    const key = $("admin-key").value.trim();
    if (key) headers.Authorization = "Bearer " + key;
    if (options?.body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { ...options, headers });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error?.message || message; } catch { /* not JSON */ }
      if (response.status === 401 || response.status === 403) message += " Enter an admin key above.";
      throw new Error(message);
    }
    return response;
  }
  const getJSON = async (path) => (await api(path)).json();

  const time = (seconds) => seconds ? new Date(seconds * 1000).toLocaleString() : "";
  const rate = (result) => result && Number.isFinite(result.win_rate) ? result.win_rate.toFixed(3) : "–";
  const record = (result) => result ? `${result.wins}/${result.ties}/${result.losses}` : "";
  function duration(seconds) {
    if (!Number.isFinite(seconds)) return "";
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  // Calls draw(data) when data differs from what the section shows.
  function update(section, data, draw) {
    const json = JSON.stringify(data);
    if (drawn[section] === json) return;
    drawn[section] = json;
    draw(data);
  }

  // MARK: Versions

  function drawVersions(versions) {
    const children = new Map();
    for (const v of versions) {
      const parent = versions.some((p) => p.id === v.parent) ? v.parent : null;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(v);
    }
    function branch(parent) {
      const list = el("ul", { class: parent === null ? "tree root" : "tree" });
      for (const v of children.get(parent) || []) {
        const gate = v.metrics ? `gate ${rate(v.metrics)} (${record(v.metrics)})` : "base model";
        const vsInitial = v.metrics?.vs_initial ? ` · against v0 ${rate(v.metrics.vs_initial)}` : "";
        const phase = v.phase_id ? ` · phase ${v.phase_id}` : "";
        let activate = el("strong", { text: "serving now" });
        if (v.status !== "serving") {
          activate = el("button", { type: "button", "aria-label": "Activate " + v.id, text: "Activate" });
          activate.addEventListener("click", () => activateVersion(v));
        }
        list.append(el("li", {},
          el("div", { class: "node" },
            el("span", { class: "version", text: v.id }), " ",
            el("span", { class: "badge " + v.status, text: v.status }), " ",
            el("span", { class: "numbers", text: gate + vsInitial + phase + " · " + time(v.created) }), " ",
            activate),
          children.has(v.id) ? branch(v.id) : null));
      }
      return list;
    }
    $("versions").replaceChildren(branch(null));
  }

  async function activateVersion(v) {
    const what = v.status === "retired" ? "Roll back to" : "Serve";
    if (!window.confirm(`${what} ${v.id}? New requests will be answered by ${v.id} at once; requests in flight finish on the version that started them.`)) return;
    try {
      await api(`/admin/policies/${encodeURIComponent(v.id)}/activate`, { method: "POST" });
      showError("");
      refresh();
    } catch (error) { showError(`Could not activate ${v.id}: ${error.message}`); }
  }

  function drawWinRates(versions) {
    const rows = versions.map((v, i) => ({ v, i, vs: v.id === "v0" ? { win_rate: 0.5 } : v.metrics?.vs_initial }));
    const tbody = $("winrate-table").tBodies[0];
    tbody.replaceChildren(...rows.map(({ v, vs }) => el("tr", {},
      el("td", { text: v.id }), el("td", { text: v.status }),
      el("td", { text: v.id === "v0" ? "0.5 (itself)" : rate(vs) + (vs ? ` (${record(vs)})` : "") }),
      el("td", { text: v.metrics ? `${rate(v.metrics)} against ${v.parent} (${record(v.metrics)})` : "" }),
      el("td", { text: vs?.prompts ?? v.metrics?.prompts ?? "" }))));
    const measured = rows.filter((r) => r.vs);
    const label = (x) => versions[Math.round(x)]?.id ?? "";
    charts.line($("winrate-chart"), [
      { name: "every version", cls: "s2", points: measured.map((r) => [r.i, r.vs.win_rate]) },
      { name: "promoted", cls: "s1", points: measured.filter((r) => r.v.status !== "rejected" && r.v.status !== "candidate").map((r) => [r.i, r.vs.win_rate]) },
    ], { title: "win rate against v0", yMin: 0, yMax: 1, reference: 0.5, xFormat: label });
  }

  // MARK: Phases

  function drawPhases(phases) {
    const active = phases.find((p) => p.status === "running") || phases.find((p) => p.status === "queued");
    const shown = active?.status === "running" ? active : phases.slice().reverse().find((p) => p.metrics?.steps?.length) || active;
    const now = $("phase-now");
    if (active) {
      const progress = active.progress;
      const step = progress?.step ?? 0, steps = progress?.steps ?? active.steps ?? 0;
      now.replaceChildren(el("p", {},
        el("strong", { text: `Phase ${active.id} ${active.status}` }),
        progress ? ` — ${progress.stage}, step ${step} of ${steps}` + (Number.isFinite(progress.eta_seconds) ? `, about ${duration(progress.eta_seconds)} left` : "") : "",
        " ", el("progress", { max: Math.max(steps, 1), value: step, "aria-label": `Phase ${active.id} progress` })));
    } else {
      now.replaceChildren(el("p", { class: "hint", text: "No phase is running." }));
    }
    const curve = shown ? (shown.status === "running" ? shown.curve || [] : shown.metrics?.steps || []) : [];
    const which = shown ? ` (phase ${shown.id}${shown.status === "running" ? ", live" : ""})` : "";
    const series = (key) => curve.map((r) => [r.step, r[key]]);
    const xf = (x) => "step " + Math.round(x);
    const size = [340, 190];
    charts.line($("curve-loss"), [{ name: "loss", cls: "s1", points: series("loss") }], { title: "loss" + which, xFormat: xf, size });
    charts.line($("curve-accuracy"), [{ name: "reward accuracy", cls: "s2", points: series("reward_accuracy") }], { title: "reward accuracy" + which, yMin: 0, yMax: 1, xFormat: xf, size });
    charts.line($("curve-margin"), [{ name: "margin", cls: "s3", points: series("margin") }], { title: "reward margin" + which, xFormat: xf, size });
    charts.line($("curve-kl"), [{ name: "KL to behavior", cls: "s4", points: series("kl_to_behavior") }], { title: "KL to behavior" + which, xFormat: xf, size });

    const tbody = $("phases").tBodies[0];
    tbody.replaceChildren(...phases.slice().reverse().slice(0, 50).map((p) => {
      const cancel = p.status === "running" || p.status === "queued"
        ? el("button", { type: "button", "aria-label": `Cancel phase ${p.id}`, text: "Cancel" }) : null;
      cancel?.addEventListener("click", () => cancelPhase(p.id));
      const took = p.finished && p.started ? duration(p.finished - p.started) : p.progress ? duration(p.progress.seconds_elapsed) : "";
      return el("tr", { class: p.status },
        el("td", { text: p.id }), el("td", { text: p.status, title: p.error || "" }), el("td", { text: p.trigger }),
        el("td", { text: p.base_version + (p.result_version ? " → " + p.result_version : "") }),
        el("td", { text: p.pairs_used }), el("td", { text: p.steps ?? "" }),
        el("td", { text: p.metrics?.gate ? `${rate(p.metrics.gate)} (needs ${p.metrics.gate_threshold ?? "?"})` : p.error || "" }),
        el("td", { text: time(p.started) }), el("td", { text: took }), el("td", {}, cancel));
    }));
    return Boolean(active);
  }

  async function cancelPhase(id) {
    if (!window.confirm(`Cancel phase ${id}? Nothing it trained is published; its pairs stay available.`)) return;
    try { await api(`/admin/phases/${id}/cancel`, { method: "POST" }); showError(""); refresh(); } catch (error) { showError(error.message); }
  }

  $("start-phase").addEventListener("submit", async (event) => {
    event.preventDefault();
    let overrides = {};
    const extra = $("phase-extra").value.trim();
    if (extra) {
      try { overrides = JSON.parse(extra); } catch (error) { showError("Other settings are not JSON: " + error.message); return; }
      if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) { showError("Other settings must be a JSON object."); return; }
    }
    const number = (id, key) => { const v = $(id).value.trim(); if (v !== "") overrides[key] = Number(v); };
    if ($("phase-loss").value) overrides.loss = $("phase-loss").value;
    number("phase-steps", "steps");
    number("phase-learning-rate", "learning_rate");
    number("phase-beta", "beta");
    number("phase-batch-size", "batch_size");
    if ($("phase-reference").value.trim()) overrides.reference = $("phase-reference").value.trim();
    try {
      await api("/admin/phases", { method: "POST", body: JSON.stringify(overrides) });
      showError("");
      refresh();
    } catch (error) { showError("Could not start a phase: " + error.message); }
  });

  // MARK: Activity

  function drawActivity(activity) {
    const width = activity.bucket;
    const xf = (x) => {
      const d = new Date(x * 1000);
      return width >= 86400 ? d.toLocaleDateString() : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + (width >= 3600 ? " " + d.toLocaleDateString() : "");
    };
    const groups = activity.data.map((b) => ({
      x: b.start, values: [b.requests, b.feedback.user, b.feedback.simulator + b.feedback.import, b.labelled_pairs],
    }));
    charts.bars($("activity-chart"), groups, ["requests", "feedback", "judged", "labelled pairs"], ["s2", "s1", "s4", "s3"],
                { title: `per ${$("activity-bucket").value}`, width, xFormat: xf, empty: "no traffic in this window" });
  }

  $("activity-bucket").addEventListener("change", () => refresh());

  $("export").addEventListener("click", async (event) => {
    if (!$("admin-key").value.trim()) return; // an open server: the plain link works
    event.preventDefault();
    try {
      const blob = await (await api("/admin/pairs/export")).blob();
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: "pairs.jsonl" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) { showError("Could not export: " + error.message); }
  });

  // MARK: Polling

  async function refresh() {
    clearTimeout(timer);
    let busy = false;
    try {
      const [policies, phases, activity] = await Promise.all([
        getJSON("/admin/policies"), getJSON("/admin/phases"),
        getJSON("/admin/activity?bucket=" + encodeURIComponent($("activity-bucket").value)),
      ]);
      update("versions", policies.data, (v) => { drawVersions(v); drawWinRates(v); });
      update("phases", phases.data, (p) => drawPhases(p));
      busy = phases.data.some((p) => p.status === "running" || p.status === "queued");
      update("activity", activity, drawActivity);
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
      showError("");
    } catch (error) {
      showError(error.message);
    }
    timer = setTimeout(refresh, busy ? 1000 : 5000);
  }

  $("admin-key").value = localStorage.getItem("proxima.admin-key") || "";
  $("admin-key").addEventListener("change", () => {
    localStorage.setItem("proxima.admin-key", $("admin-key").value.trim());
    for (const k of Object.keys(drawn)) delete drawn[k];
    refresh();
  });
  refresh();
})();
