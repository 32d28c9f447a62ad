// The pages' script: fetches data through the same-origin /ui/api proxy (the session cookie carries the key),
// renders it with DOM calls (never innerHTML, so no text from the server is ever parsed as markup), and sends the
// session's CSRF token with every change. One file, one init function per page (body[data-page]).
"use strict";

const I18N = JSON.parse(document.getElementById("i18n").textContent);
const T = I18N.t;
const CSRF = document.body.dataset.csrf;

function fmt(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : ""));
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") init.headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const reply = await fetch("/ui/api/" + path, init);
  let data = null;
  try { data = await reply.json(); } catch (e) { data = null; }
  if (!reply.ok) {
    if (reply.status === 401) window.location.assign("/ui/login?msg=login_expired");
    const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail))
      : reply.statusText;
    const field = data && data.field ? data.field + ": " : "";
    throw new Error(field + detail);
  }
  return data;
}

function say(node, text, isError) {
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
}

// ------------------------------------------------------------------------------------------- score rendering

// Components reported next to the score but not part of it (drawn in grey, labelled as such).
const INFO_ONLY = { overqualification: true };

function componentBars(components) {
  const list = el("dl", { class: "bars" });
  for (const [name, value] of Object.entries(components)) {
    const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
    const label = I18N.component[name] || name;
    list.append(el("div", { class: name in INFO_ONLY ? "bar-row info" : "bar-row" },
      el("dt", { text: label }),
      el("dd", {},
        el("span", { class: "bar", role: "meter", "aria-valuenow": String(pct), "aria-valuemin": "0",
          "aria-valuemax": "100", "aria-label": label },
        el("span", { class: "fill", style: "width:" + pct + "%" })),
        el("span", { class: "num", text: pct + " %" }))));
  }
  return list;
}

function gateList(gates) {
  if (!gates.length) return el("p", { class: "gates-none", text: T.no_gates });
  const list = el("ul", { class: "gates" });
  for (const g of gates) list.append(el("li", { text: I18N.gate[g] || g }));
  return list;
}

function explanationList(explanation) {
  const sentences = (explanation && explanation[I18N.lang]) || [];
  const list = el("ul", { class: "explanation" });
  for (const s of sentences) list.append(el("li", { text: s }));
  return list;
}

function scoreBlock(result) {
  return [el("div", { class: "detail" },
    el("div", {},
      el("p", { class: "score" }, el("strong", { text: T.score + ": " }), String(Math.round(result.score * 100) / 100)),
      el("h3", { class: "h4", text: T.components }), componentBars(result.components)),
    el("div", {},
      el("h3", { class: "h4", text: T.gates }), gateList(result.gates),
      el("h3", { class: "h4", text: T.explanation }), explanationList(result.explanation)))];
}

// ------------------------------------------------------------------------------------------- consultant

function feedbackForm(citizenId, needId, item) {
  const reasonId = "reason-" + citizenId;
  const status = el("p", { class: "status", role: "status", "aria-live": "polite" });
  const reason = el("input", { id: reasonId, name: "reason", type: "text", maxlength: "2000" });
  const send = async (kind) => {
    try {
      await api("POST", "v1/matches/" + citizenId + "/" + needId + "/feedback",
        { kind, reason: reason.value.trim() || null });
      say(status, fmt(T.feedback_saved, { kind: kind === "pinned" ? T.pin : T.hide }));
      item.classList.toggle("pinned", kind === "pinned");
      item.classList.toggle("hidden-match", kind === "hidden");
    } catch (err) {
      say(status, fmt(T.error, { detail: err.message }), true);
    }
  };
  return el("div", { class: "feedback" },
    el("label", { for: reasonId, text: T.reason }), reason,
    el("button", { type: "button", class: "pin", onclick: () => send("pinned") }, T.pin),
    el("button", { type: "button", class: "hide", onclick: () => send("hidden") }, T.hide),
    status);
}

async function loadCandidates(needId, anonymous) {
  const status = document.getElementById("status");
  const results = document.getElementById("results");
  const params = new URLSearchParams({ limit: "20" });
  if (!anonymous) {
    const radius = document.getElementById("radius_km").value;
    const group = document.getElementById("target_group").value;
    if (radius) params.set("radius_km", radius);
    if (group) params.set("target_group", group);
  }
  say(status, T.loading);
  results.replaceChildren();
  try {
    const data = await api("GET", "v1/vacancies/" + needId + "/candidates?" + params);
    for (const r of data.results) {
      const item = el("li", { class: "result card" });
      if (anonymous) {
        item.append(el("h2", { class: "h3", text: T.rank + " " + r.rank + " · " + T.candidate + " " + r.candidate }));
      } else {
        item.append(el("h2", { class: "h3" }, T.rank + " " + r.rank + " · ",
          el("a", { href: "/ui/consultant/citizens/" + r.citizen_id }, T.citizen + " " + r.citizen_id +
            (r.external_ref ? " (" + r.external_ref + ")" : ""))));
      }
      item.append(...scoreBlock(r));
      if (!anonymous) item.append(feedbackForm(r.citizen_id, needId, item));
      results.append(item);
    }
    say(status, data.results.length ? fmt(T.n_results, { n: data.results.length }) : T.no_candidates);
  } catch (err) {
    say(status, fmt(T.error, { detail: err.message }), true);
  }
}

function initCandidates(anonymous) {
  const needId = document.body.dataset.needId;
  const form = document.getElementById("candidate-filters");
  if (form) form.addEventListener("submit", (e) => { e.preventDefault(); loadCandidates(needId, anonymous); });
  loadCandidates(needId, anonymous);
}

function matchItem(m) {
  const item = el("li", { class: "result card" });
  item.append(el("h3", { class: "h3" }, T.rank + " " + m.rank + " · ",
    el("a", { href: "/ui/consultant/needs/" + m.need_id }, m.title),
    " · " + (I18N.kind[m.kind] || m.kind)));
  item.append(...scoreBlock(m));
  return item;
}

async function initCitizen() {
  const id = document.body.dataset.citizenId;
  const status = document.getElementById("status");
  try {
    const c = await api("GET", "v1/citizens/" + id);
    const heading = document.getElementById("citizen-heading");
    heading.textContent = T.citizen_title + " " + id + (c.name ? ": " + c.name : "");
    const facts = document.getElementById("citizen-facts");
    const add = (k, v) => facts.append(el("div", {}, el("dt", { text: k }), el("dd", { text: v })));
    add(T.external_ref, c.external_ref);
    add(T.target_group, I18N.target_group[c.target_group] || c.target_group);
    if (c.postcode) add(T.postcode, c.postcode);
  } catch (err) {
    say(status, fmt(T.error, { detail: err.message }), true);
    return;
  }
  const load = async () => {
    const kind = document.getElementById("kind").value;
    const lists = [["matches", kind], ["hybrid", "hybrid_internship"]];
    say(status, T.loading);
    try {
      for (const [target, k] of lists) {
        const params = new URLSearchParams({ limit: "10" });
        if (k) params.set("kind", k);
        const data = await api("GET", "v1/citizens/" + id + "/matches?" + params);
        const list = document.getElementById(target);
        list.replaceChildren(...data.results.map(matchItem));
        if (!data.results.length) list.append(el("li", { text: T.no_matches }));
      }
      say(status, "");
    } catch (err) {
      say(status, fmt(T.error, { detail: err.message }), true);
    }
  };
  document.getElementById("match-filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  load();
}

// ------------------------------------------------------------------------------------------- employer

function suggester(input, list, path, onPick) {
  let timer = null;
  let seq = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) { list.replaceChildren(); return; }
    timer = setTimeout(async () => {
      const mine = ++seq;
      try {
        const data = await api("GET", path + "?" + new URLSearchParams({ q, limit: "8" }));
        if (mine !== seq) return;
        list.replaceChildren(...data.results.map((r) => el("li", {},
          el("button", { type: "button", class: "suggestion", "data-uri": r.uri,
            onclick: () => { onPick(r); list.replaceChildren(); input.value = ""; input.focus(); } }, r.label))));
      } catch (err) {
        list.replaceChildren(el("li", { class: "error", text: fmt(T.error, { detail: err.message }) }));
      }
    }, 200);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && list.querySelector("button")) { e.preventDefault(); list.querySelector("button").focus(); }
    if (e.key === "Escape") list.replaceChildren();
  });
}

function initNeedForm() {
  const employerId = document.body.dataset.employerId;
  const needId = document.body.dataset.needId;
  const existing = JSON.parse(document.getElementById("need-data").textContent);
  const $ = (id) => document.getElementById(id);
  const skills = new Map(); // uri -> label
  let occupation = null; // {uri, label}

  const renderSkills = () => {
    $("skills").replaceChildren(...[...skills].map(([uri, label]) => el("li", { class: "chip", "data-uri": uri },
      el("span", { text: label }),
      el("button", { type: "button", "aria-label": T.remove + ": " + label,
        onclick: () => { skills.delete(uri); renderSkills(); $("skill").focus(); } }, "×"))));
  };
  const renderOccupation = () => {
    $("occupation-chosen").textContent = occupation ? "✓ " + occupation.label : "";
  };
  const syncKind = () => {
    const hybrid = $("kind").value === "hybrid_internship";
    $("hybrid").hidden = !hybrid;
    $("hours_per_week").disabled = hybrid;
  };

  if (existing) {
    $("title").value = existing.title || "";
    $("description").value = existing.description || "";
    $("kind").value = existing.kind || "ordinary";
    $("postcode").value = existing.postcode || "";
    $("hours_per_week").value = existing.hours_per_week ?? "";
    $("positions").value = existing.positions ?? 1;
    if (existing.hybrid) {
      $("paid_hours").value = existing.hybrid.paid_hours;
      $("internship_hours").value = existing.hybrid.internship_hours;
      $("weeks").value = existing.hybrid.weeks;
      $("mentor").checked = Boolean(existing.hybrid.mentor);
    }
    const uri = existing.occupation_uri || (existing.occupation_resolved && existing.occupation_resolved.uri);
    if (uri) occupation = { uri, label: (existing.occupation_resolved && existing.occupation_resolved.label) || uri };
    for (const s of existing.essential_skills || []) {
      const u = s.uri || (s.resolved && s.resolved.uri);
      if (u) skills.set(u, (s.resolved && s.resolved.label) || s.label || u);
    }
    const da = (existing.languages || []).find((l) => l.language === "da");
    if (da) { $("cefr").value = da.cefr; $("cefr_hard").checked = Boolean(da.hard); }
    $("language_support").checked = Boolean(existing.language_support);
  }
  renderSkills();
  renderOccupation();
  syncKind();
  $("kind").addEventListener("change", syncKind);

  suggester($("occupation"), $("occupation-suggestions"), "v1/taxonomy/occupations",
    (r) => { occupation = { uri: r.uri, label: r.label }; renderOccupation(); });
  suggester($("skill"), $("skill-suggestions"), "v1/taxonomy/skills",
    (r) => { skills.set(r.uri, r.label); renderSkills(); });

  $("extract").addEventListener("click", async () => {
    const text = $("ad_text").value.trim();
    if (!text) return;
    say($("status"), T.loading);
    try {
      const data = await api("POST", "v1/taxonomy/skills/extract", { text });
      for (const s of data.skills) skills.set(s.uri, s.label);
      renderSkills();
      say($("status"), data.skills.length ? fmt(T.extracted_n, { n: data.skills.length }) : T.extracted_none);
    } catch (err) {
      say($("status"), fmt(T.error, { detail: err.message }), true);
    }
  });

  $("need-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const num = (id) => ($(id).value === "" ? null : Number($(id).value));
    const kind = $("kind").value;
    const body = {
      title: $("title").value.trim(),
      description: $("description").value.trim(),
      kind,
      postcode: $("postcode").value.trim() || null,
      positions: num("positions") ?? 1,
      essential_skills: [...skills.keys()].map((uri) => ({ uri })),
      language_support: $("language_support").checked,
      languages: $("cefr").value ? [{ language: "da", cefr: $("cefr").value, hard: $("cefr_hard").checked }] : [],
    };
    if (occupation) body.occupation_uri = occupation.uri;
    if (kind === "hybrid_internship") {
      body.hybrid = { paid_hours: num("paid_hours") ?? 0, internship_hours: num("internship_hours") ?? 0,
        weeks: num("weeks") ?? 1, mentor: $("mentor").checked };
    } else if (num("hours_per_week") !== null) {
      body.hours_per_week = num("hours_per_week");
    }
    try {
      const saved = needId
        ? await api("PUT", "v1/vacancies/" + needId, body)
        : await api("POST", "v1/employers/" + employerId + "/vacancies", body);
      say($("status"), T.saved);
      window.location.assign("/ui/employer/needs/" + saved.id);
    } catch (err) {
      say($("status"), fmt(T.error, { detail: err.message }), true);
      $("status").focus();
    }
  });
}

// ------------------------------------------------------------------------------------------- dispatch

const PAGES = {
  "consultant-candidates": () => initCandidates(false),
  "consultant-citizen": initCitizen,
  "employer-candidates": () => initCandidates(true),
  "employer-need-form": initNeedForm,
};
const init = PAGES[document.body.dataset.page];
if (init) init();
