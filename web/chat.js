// chat.js: the chat page. Conversations live in this browser (localStorage); answers stream from
// /v1/chat/completions; thumbs and A/B choices go to /v1/feedback, where they teach the next version.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const store = {
    get(key, fallback) { try { return JSON.parse(localStorage.getItem("proxima." + key)) ?? fallback; } catch { return fallback; } },
    set(key, value) { localStorage.setItem("proxima." + key, JSON.stringify(value)); },
  };
  let conversations = store.get("conversations", []);
  let current = store.get("current", null);
  let controller = null; // the request in flight, to stop it

  function save() { store.set("conversations", conversations); store.set("current", current); }
  function conversation() { return conversations.find((c) => c.id === current); }
  function newId() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 8); }

  function headers() {
    const h = { "Content-Type": "application/json" };
    const key = $("api-key").value.trim();
    if (key) h.Authorization = "Bearer " + key;
    return h;
  }

  function showError(text) {
    const e = $("error");
    e.textContent = text || "";
    e.hidden = !text;
  }

  async function errorText(response) {
    try { const body = await response.json(); return body.error?.message || response.statusText; } catch { return response.statusText; }
  }

  // MARK: Rendering

  function renderList() {
    const list = $("conversations");
    list.replaceChildren();
    for (const c of conversations) {
      const li = document.createElement("li");
      if (c.id === current) li.className = "current";
      const open = document.createElement("button");
      open.type = "button";
      open.className = "open";
      open.textContent = c.title || "New chat";
      open.setAttribute("aria-label", "Open conversation: " + (c.title || "New chat"));
      open.addEventListener("click", () => { current = c.id; save(); render(); });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "✕";
      remove.setAttribute("aria-label", "Delete conversation: " + (c.title || "New chat"));
      remove.addEventListener("click", () => {
        conversations = conversations.filter((x) => x.id !== c.id);
        if (current === c.id) current = conversations[0]?.id ?? null;
        save();
        render();
      });
      li.append(open, remove);
      list.appendChild(li);
    }
  }

  function bubble(text) {
    const div = document.createElement("div");
    div.className = "bubble";
    div.appendChild(window.ProximaMarkdown.render(text));
    return div;
  }

  function button(label, name, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("aria-label", name);
    b.addEventListener("click", onClick);
    return b;
  }

  function renderMessage(m, index, isLast) {
    const turn = document.createElement("div");
    turn.className = "turn " + m.role;
    if (m.role === "user") {
      turn.appendChild(bubble(m.content));
      return turn;
    }
    if (m.compare && m.compare.choice === undefined) {
      const pair = document.createElement("div");
      pair.className = "pair";
      m.compare.texts.forEach((text, k) => {
        const side = document.createElement("div");
        const label = document.createElement("div");
        label.className = "meta";
        label.textContent = k === 0 ? "A" : "B";
        side.append(label, bubble(text));
        pair.appendChild(side);
      });
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.append(
        button("A is better", "A is better", () => choose(m, 0)),
        button("B is better", "B is better", () => choose(m, 1)),
        button("Tie", "Tie", () => choose(m, "tie")),
        versionLabel(m));
      turn.append(pair, meta);
      return turn;
    }
    turn.appendChild(bubble(m.content));
    const meta = document.createElement("div");
    meta.className = "meta";
    if (m.responseId && !m.stopped && !m.streaming) {
      const up = button("Good", "Good response", () => rate(m, "up"));
      const down = button("Bad", "Bad response", () => rate(m, "down"));
      up.setAttribute("aria-pressed", String(m.rating === "up"));
      down.setAttribute("aria-pressed", String(m.rating === "down"));
      meta.append(up, down);
    }
    if (m.compare) meta.append(document.createTextNode(m.compare.choice === "tie" ? "tie" : "chose " + (m.compare.choice === 0 ? "A" : "B")));
    if (m.stopped) meta.append(document.createTextNode("stopped"));
    meta.append(versionLabel(m));
    if (isLast && !controller) meta.append(button("Regenerate", "Regenerate", () => regenerate(index)));
    turn.appendChild(meta);
    return turn;
  }

  function versionLabel(m) {
    const span = document.createElement("span");
    span.textContent = m.version ? "served by " + m.version : "";
    return span;
  }

  function render() {
    renderList();
    const c = conversation();
    const box = $("messages");
    box.replaceChildren();
    if (!c) return;
    c.messages.forEach((m, i) => box.appendChild(renderMessage(m, i, i === c.messages.length - 1)));
    box.scrollTop = box.scrollHeight;
  }

  // MARK: Feedback

  async function postFeedback(body) {
    const r = await fetch("/v1/feedback", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!r.ok) throw new Error(await errorText(r));
  }

  async function rate(m, rating) {
    showError("");
    try {
      m.ratings = (m.ratings || 0) + 1;
      await postFeedback({ response_id: m.responseId, rating, event_id: "ui-" + m.responseId + "-" + m.ratings });
      m.rating = rating;
      save();
      render();
    } catch (e) { showError("Feedback not recorded: " + e.message); }
  }

  async function choose(m, choice) {
    showError("");
    try {
      await postFeedback({ pair_id: m.pairId, choice, event_id: "ui-" + m.pairId });
      m.compare.choice = choice;
      m.content = m.compare.texts[choice === 1 ? 1 : 0];
      save();
      render();
    } catch (e) { showError("Choice not recorded: " + e.message); }
  }

  // MARK: Sending

  function requestMessages(c) {
    const system = $("system-prompt").value.trim();
    const history = c.messages.map((m) => ({ role: m.role, content: m.content }));
    return system ? [{ role: "system", content: system }, ...history] : history;
  }

  function setBusy(busy) {
    $("send").hidden = busy;
    $("stop").hidden = !busy;
  }

  async function complete(c) {
    const compare = $("compare").checked;
    const body = { messages: requestMessages(c), stream: !compare };
    if (compare) body.n = 2;
    const answer = { role: "assistant", content: "", streaming: true };
    c.messages.push(answer);
    controller = new AbortController();
    setBusy(true);
    render();
    try {
      const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal });
      if (!r.ok) throw new Error(await errorText(r));
      if (compare) {
        const done = await r.json();
        answer.responseId = done.id;
        answer.pairId = done.proxima?.pair_id;
        answer.version = done.proxima?.policy_version;
        answer.compare = { texts: done.choices.map((x) => x.message.content) };
        answer.content = answer.compare.texts[0];
      } else {
        await readStream(r, answer);
      }
    } catch (e) {
      if (e.name === "AbortError") { answer.stopped = true; } else {
        c.messages.pop();
        showError(e.message);
      }
    } finally {
      delete answer.streaming;
      controller = null;
      setBusy(false);
      save();
      render();
    }
  }

  async function readStream(response, answer) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let lastDraw = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          answer.responseId = chunk.id || answer.responseId;
          answer.version = chunk.proxima?.policy_version || answer.version;
          answer.pairId = chunk.proxima?.pair_id || answer.pairId;
          answer.content += chunk.choices?.[0]?.delta?.content || "";
        }
      }
      if (Date.now() - lastDraw > 50) { lastDraw = Date.now(); render(); }
    }
  }

  function send(event) {
    event?.preventDefault();
    const text = $("message").value.trim();
    if (!text || controller) return;
    showError("");
    let c = conversation();
    if (!c) {
      c = { id: newId(), title: "", messages: [] };
      conversations.unshift(c);
      current = c.id;
    }
    if (!c.title) c.title = text.slice(0, 48);
    c.messages.push({ role: "user", content: text });
    $("message").value = "";
    complete(c);
  }

  function regenerate(index) {
    const c = conversation();
    if (!c || controller) return;
    c.messages.splice(index);
    complete(c);
  }

  // MARK: Wiring

  $("composer").addEventListener("submit", send);
  $("message").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) send(e);
  });
  $("stop").addEventListener("click", () => controller?.abort());
  $("new-chat").addEventListener("click", () => { current = null; save(); render(); $("message").focus(); });
  for (const [id, key] of [["system-prompt", "system"], ["api-key", "key"]]) {
    $(id).value = store.get(key, "");
    $(id).addEventListener("change", () => store.set(key, $(id).value));
  }
  $("compare").checked = store.get("compare", false);
  $("compare").addEventListener("change", () => store.set("compare", $("compare").checked));
  render();
  $("message").focus();
})();
