/* newswatch timeline page: one call to api/timeline per view; the charts are ECharts (vendor/, no CDN).
   The page's state is its query string (?q=&topic=&level=&lang=&source=&entity=&story=&since=&until=…), so a
   view can be linked (alert emails link ?story=ID) and reloaded. All paths are relative: the page works
   under any mount point and inside the Airflow UI's frame. */
(function () {
  "use strict";
  const REPEATABLE = ["level", "lang", "source", "entity"];
  const SINGLE = ["q", "topic", "story", "since", "until", "interval", "stack"];
  const COLORS = { core: "#c0392b", related: "#e6a23c", none: "#9aa5b8" };
  const $ = (id) => document.getElementById(id);
  const state = readState(new URLSearchParams(location.search));
  const nw = (window.newswatch = { state, last: null, requests: 0, errors: 0 });
  let hist = null, claims = null, histBuckets = [];

  function readState(params) {
    const s = {};
    SINGLE.forEach((k) => { if (params.get(k)) s[k] = params.get(k); });
    REPEATABLE.forEach((k) => { s[k] = params.getAll(k).filter(Boolean); });
    s.interval = s.interval || "auto";
    s.stack = s.stack || "level";
    return s;
  }

  function queryString() {
    const p = new URLSearchParams();
    SINGLE.forEach((k) => { if (state[k]) p.set(k, state[k]); });
    REPEATABLE.forEach((k) => (state[k] || []).forEach((v) => p.append(k, v)));
    return p.toString();
  }

  function toForm() {
    $("q").value = state.q || "";
    $("topic").value = state.topic || "";
    $("since").value = (state.since || "").slice(0, 10);
    $("until").value = (state.until || "").slice(0, 10);
    $("interval").value = state.interval;
    $("stack").value = state.stack;
    document.querySelectorAll("#levels input").forEach((b) => { b.checked = state.level.includes(b.value); });
  }

  function fromForm() {
    state.q = $("q").value.trim() || undefined;
    state.topic = $("topic").value || undefined;
    state.interval = $("interval").value;
    state.stack = $("stack").value;
    state.level = [...document.querySelectorAll("#levels input:checked")].map((b) => b.value);
    // a date typed in the form replaces a zoomed time range
    const since = $("since").value, until = $("until").value;
    if (!state.since || since !== state.since.slice(0, 10)) state.since = since || undefined;
    if (!state.until || until !== state.until.slice(0, 10)) state.until = until || undefined;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    });
    children.flat().forEach((c) => e.append(c instanceof Node ? c : document.createTextNode(String(c ?? ""))));
    return e;
  }

  // highlight fragments come from Elasticsearch with <em> around hits; everything else is escaped text
  function highlighted(fragment) {
    const span = el("span", {});
    String(fragment).split(/(<em>.*?<\/em>)/).forEach((part) => {
      const m = part.match(/^<em>(.*)<\/em>$/);
      span.append(m ? el("em", {}, m[1]) : document.createTextNode(part));
    });
    return span;
  }

  function safeHref(url) { return /^https?:\/\//i.test(url || "") ? url : undefined; }
  function day(iso) { return iso ? String(iso).slice(0, 10) : ""; }

  async function load() {
    const qs = queryString();
    history.replaceState(null, "", qs ? "?" + qs : location.pathname);
    renderChips();
    $("status").className = "";
    $("status").textContent = "searching…";
    nw.requests += 1;
    try {
      const resp = await fetch("api/timeline" + (qs ? "?" + qs : ""), { credentials: "same-origin",
                                                                         headers: { Accept: "application/json" } });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) throw new Error(body.detail ? String(body.detail) : resp.status + " " + resp.statusText);
      nw.last = body;
      render(body);
      $("status").textContent = `${body.total.toLocaleString()} articles in ${body.took_ms} ms`;
    } catch (err) {
      nw.errors += 1;
      $("status").className = "error";
      $("status").textContent = "The search failed: " + err.message;
    }
  }

  function renderChips() {
    const chips = $("chips");
    chips.replaceChildren();
    const add = (label, drop) => chips.append(el("span", { class: "chip", role: "button", onclick: () => { drop(); load(); } }, label));
    ["lang", "source", "entity"].forEach((k) => state[k].forEach((v) => add(`${k}: ${v}`, () => { state[k] = state[k].filter((x) => x !== v); })));
    if (state.story) add(`story: ${state.story.slice(0, 12)}`, () => { delete state.story; });
    if (state.since || state.until) {
      add(`dates: ${day(state.since) || "…"} – ${day(state.until) || "…"}`, () => { delete state.since; delete state.until; toForm(); });
    }
    $("reset-zoom").hidden = !(state.since || state.until);
  }

  function render(r) {
    $("summary").replaceChildren(el("b", {}, r.total.toLocaleString()), " articles in ",
      el("b", {}, r.stories_total.toLocaleString()), " stories",
      r.range.first ? ` · ${day(r.range.first)} – ${day(r.range.last)}` : "", ` · bars: ${r.interval}`);
    renderHistogram(r);
    renderStories(r.stories);
    renderArticles(r.articles);
    renderClaims(r);
    renderFacets(r.facets);
  }

  function renderHistogram(r) {
    histBuckets = r.buckets;
    const keys = [...new Set(r.buckets.flatMap((b) => Object.keys(b.stack)))].sort();
    const order = r.stack === "level" ? ["core", "related", "none"].filter((k) => keys.includes(k)) : keys;
    hist.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 32, bottom: 40 },
      toolbox: { show: false },
      brush: { xAxisIndex: 0, brushType: "lineX", brushMode: "single", throttleType: "debounce", transformable: false },
      xAxis: { type: "category", data: r.buckets.map((b) => b.date.slice(0, r.interval.endsWith("h") || r.interval === "hour" ? 16 : 10)) },
      yAxis: { type: "value", minInterval: 1 },
      series: order.map((k) => ({ name: k, type: "bar", stack: "all", barMaxWidth: 40,
        itemStyle: COLORS[k] ? { color: COLORS[k] } : undefined, data: r.buckets.map((b) => b.stack[k] || 0) })),
    }, true);
    hist.dispatchAction({ type: "takeGlobalCursor", key: "brush", brushOption: { brushType: "lineX", brushMode: "single" } });
  }

  function zoomTo(first, last) {
    if (!histBuckets.length) return;
    first = Math.max(0, first); last = Math.min(histBuckets.length - 1, last);
    const start = histBuckets[first].start;
    let end;
    if (last + 1 < histBuckets.length) end = new Date(new Date(histBuckets[last + 1].start).getTime() - 1).toISOString();
    else end = nw.last && nw.last.range.last ? nw.last.range.last : new Date().toISOString();
    state.since = start; state.until = end;
    if (state.interval !== "auto") state.interval = "auto";  // finer bars for the narrower range
    toForm();
    load();
  }

  function renderStories(rows) {
    $("stories").replaceChildren(...rows.map((s) => el("li", { "data-story": s.story_id },
      el("a", { href: safeHref(s.url), target: "_blank", rel: "noopener noreferrer" }, s.title || "(untitled)"),
      " ", ...Object.keys(s.levels).map((lv) => el("span", { class: "badge " + lv }, lv)),
      el("div", { class: "meta" }, `${s.articles} article${s.articles === 1 ? "" : "s"} · ${day(s.first_seen)}`
        + (day(s.last_seen) !== day(s.first_seen) ? ` – ${day(s.last_seen)}` : "")
        + ` · outlets: ${s.outlets.join(", ")} · `, el("span", { class: "lang" }, s.languages.join(" ")), " · ",
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); state.story = s.story_id; load(); } }, "only this story")))));
    if (!rows.length) $("stories").append(el("li", { class: "meta" }, "no stories"));
  }

  function renderArticles(rows) {
    $("articles").replaceChildren(...rows.map((a) => el("li", {},
      el("a", { href: safeHref(a.url), target: "_blank", rel: "noopener noreferrer" }, a.title || a.url),
      el("div", { class: "meta" }, `${day(a.published)} · ${a.source || ""} · `, el("span", { class: "lang" }, a.lang || ""),
        " ", a.level ? el("span", { class: "badge " + a.level }, a.level) : ""),
      ...(a.highlights || []).map((h) => el("div", { class: "meta" }, "… ", highlighted(h), " …")))));
  }

  function renderClaims(r) {
    const rows = r.claims.filter((c) => c.date);
    const bySource = {};
    rows.forEach((c) => { const who = c.source || "unattributed"; (bySource[who] = bySource[who] || []).push(c); });
    const names = Object.keys(bySource).sort((a, b) => bySource[b].length - bySource[a].length);
    const shown = names.slice(0, 9), rest = names.slice(9);
    const series = shown.map((n) => ({ name: n, rows: bySource[n] }));
    if (rest.length) series.push({ name: "others", rows: rest.flatMap((n) => bySource[n]) });
    claims.setOption({
      animation: false,
      legend: { top: 0, type: "scroll" },
      grid: { left: 64, right: 16, top: 36, bottom: 40 },
      tooltip: { trigger: "item", formatter: (p) => {
        const c = p.data.claim, n = c.count.toLocaleString() + (c.count_max ? "–" + c.count_max.toLocaleString() : "");
        const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);
        return `<b>${esc(n)}</b> ${esc(c.qualifier || "")} — ${esc(c.source || "unattributed")}<br>${esc(day(c.date))} · ${esc(c.title)}<br><i>${esc((c.sentence || "").slice(0, 200))}</i>`;
      } },
      xAxis: { type: "time" },
      yAxis: { type: "value", name: "troops", axisLabel: { formatter: (v) => v.toLocaleString() } },
      series: series.map((s) => ({ name: s.name, type: "scatter", symbolSize: 10,
        data: s.rows.map((c) => ({ value: [c.date, c.count], claim: c })) })),
    }, true);
    $("claims-note").textContent = rows.length
      ? `${rows.length} claims from ${r.claims_articles} articles` + (r.claims_truncated ? " (the newest shown)" : "")
      : "no troop numbers reported in these articles";
  }

  function renderFacets(f) {
    const fill = (id, rows, key) => {
      const ul = $(id);
      ul.replaceChildren(...rows.map((row) => {
        const active = key === "topic" ? state.topic === row.key : (state[key] || []).includes(row.key);
        return el("li", { class: active ? "active" : "", "data-value": row.key, onclick: () => toggle(key, row.key) },
          el("span", {}, row.key), el("span", { class: "meta" }, row.count.toLocaleString()));
      }));
      if (!rows.length) ul.append(el("li", { class: "meta" }, "—"));
    };
    fill("facet-languages", f.languages, "lang");
    fill("facet-sources", f.sources, "source");
    fill("facet-entities", f.entities, "entity");
    fill("facet-topics", f.topics, "topic");
  }

  function toggle(key, value) {
    if (key === "topic") state.topic = state.topic === value ? undefined : value;
    else state[key] = state[key].includes(value) ? state[key].filter((v) => v !== value) : [...state[key], value];
    toForm();
    load();
  }

  async function loadMeta() {
    try {
      const resp = await fetch("api/meta", { credentials: "same-origin" });
      if (!resp.ok) return;
      const meta = await resp.json();
      meta.topics.forEach((t) => $("topic").append(el("option", { value: t.name }, t.title + (t.enabled ? "" : " (disabled)"))));
      $("topic").value = state.topic || "";
    } catch (err) { /* the form still works with "all topics" */ }
  }

  async function loadFeeds() {
    const body = $("feeds").querySelector("tbody");
    body.replaceChildren(el("tr", {}, el("td", { colspan: 8 }, "loading…")));
    try {
      const resp = await fetch("api/feeds", { credentials: "same-origin" });
      const data = await resp.json();
      if (!resp.ok) throw new Error(data.detail || resp.status);
      body.replaceChildren(...data.feeds.map((f) => el("tr", { class: f.consecutive_failures ? "failing" : "" },
        el("td", {}, f.name || f.url), el("td", {}, (f.last_success || "never").slice(0, 16).replace("T", " ")),
        el("td", {}, f.consecutive_failures || 0), el("td", {}, f.last_error_class || ""),
        el("td", {}, f.items_per_day == null ? "" : Number(f.items_per_day).toFixed(1)),
        el("td", {}, f.articles_ok || 0), el("td", {}, f.articles_failed || 0),
        el("td", {}, (f.next_due || "").slice(0, 16).replace("T", " ")))));
    } catch (err) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 8 }, "feed health unavailable: " + err.message)));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    hist = echarts.init($("histogram"));
    claims = echarts.init($("claims"));
    hist.on("brushEnd", (e) => {
      const area = e.areas && e.areas[0];
      if (!area || !area.coordRange) return;
      const [a, b] = area.coordRange;
      if (b >= a) zoomTo(a, b);
    });
    claims.on("click", (p) => { const u = safeHref(p.data && p.data.claim && p.data.claim.url); if (u) window.open(u, "_blank", "noopener"); });
    window.addEventListener("resize", () => { hist.resize(); claims.resize(); });
    $("search").addEventListener("submit", (e) => { e.preventDefault(); fromForm(); load(); });
    ["topic", "interval", "stack"].forEach((id) => $(id).addEventListener("change", () => { fromForm(); load(); }));
    document.querySelectorAll("#levels input").forEach((b) => b.addEventListener("change", () => { fromForm(); load(); }));
    $("reset-zoom").addEventListener("click", () => { delete state.since; delete state.until; toForm(); load(); });
    $("operators").addEventListener("toggle", (e) => { if (e.target.open) loadFeeds(); });
    toForm();
    loadMeta();
    load();
  });
})();
