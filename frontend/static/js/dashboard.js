// Supervisor dashboard. Every event carries the whole state: render it, never add to it.

import { Connection, format, loadStrings } from "./connection.js";

const strings = loadStrings();
const counties = JSON.parse(document.getElementById("vv-counties").textContent);
const $ = (id) => document.getElementById(id);
const lang = document.documentElement.lang || "nb";
const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const dayClock = new Intl.DateTimeFormat(lang, { weekday: "short", hour: "2-digit", minute: "2-digit" });
let shownAt = "";
let connection = null;
let counsellors = [];

function duration(seconds) {
  if (seconds === null || seconds === undefined) return strings.none;
  if (seconds < 60) return format(strings.seconds, { seconds });
  return format(strings.minutes, { minutes: Math.round(seconds / 60) });
}

function figure(name, value, text) {
  const node = document.querySelector(`[data-figure="${name}"]`);
  node.dataset.value = value === null || value === undefined ? "" : String(value);
  node.textContent = text === undefined ? String(value ?? strings.none) : text;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
  return td;
}

function send(frame) {
  frame.ref = String(Date.now());
  if (!connection.send(frame)) $("dash-notice").textContent = strings.reconnecting;
}

function renderAlerts(alerts) {
  const list = $("alerts");
  list.replaceChildren();
  for (const alert of alerts) {
    const item = document.createElement("li");
    item.dataset.alert = alert.code;
    const values = { ...alert };
    if (alert.seconds) values.minutes = Math.round(alert.seconds / 60);
    if (alert.conversation) values.conversation = alert.conversation.slice(0, 8);
    item.textContent = format(strings[`alert_${alert.code}`] || alert.code, values);
    list.append(item);
  }
  if (!alerts.length) {
    const item = document.createElement("li");
    item.textContent = strings.no_alerts;
    list.append(item);
  }
}

function renderCounsellors(list) {
  counsellors = list;
  const body = $("counsellors");
  body.replaceChildren();
  for (const person of list) {
    const row = document.createElement("tr");
    row.dataset.username = person.username;
    cell(row, person.name);
    cell(row, counties[person.county] || person.county || "–");
    cell(row, `${person.active} / ${person.limit}`).dataset.load = String(person.active);
    cell(row, strings[`status_${person.status}`] || person.status).dataset.status = person.status;
    body.append(row);
  }
  if (!list.length) {
    const row = document.createElement("tr");
    cell(row, strings.nobody).colSpan = 4;
    body.append(row);
  }
}

// A labelled control and a button in a small form; ``onSubmit`` runs instead of a page load.
function inlineForm(id, labelText, control, buttonText, onSubmit) {
  const form = document.createElement("form");
  form.className = "vv-inline-form";
  const label = document.createElement("label");
  label.className = "ds-label";
  label.htmlFor = id;
  label.textContent = labelText;
  control.id = id;
  control.classList.add("ds-input");
  const button = document.createElement("button");
  button.className = "ds-button";
  button.dataset.variant = "secondary";
  button.dataset.size = "sm";
  button.type = "submit";
  button.textContent = buttonText;
  form.append(label, control, button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit();
  });
  return form;
}

function renderChats(chats) {
  const body = $("active-chats");
  body.replaceChildren();
  chats.forEach((chat, index) => {
    const row = document.createElement("tr");
    row.dataset.conversation = chat.conversation;
    const flags = [chat.crisis ? strings.crisis : "", chat.abuse ? strings.abuse : ""].filter(Boolean);
    cell(row, [chat.conversation.slice(0, 8), ...flags].join(" · "));
    cell(row, chat.counsellor_name || chat.counsellor);
    cell(row, chat.since ? clock.format(new Date(chat.since)) : "");
    cell(row, [chat.language, counties[chat.county] || ""].filter(Boolean).join(" / "));
    const actions = cell(row, "");
    const select = document.createElement("select");
    for (const person of counsellors) {
      if (person.username === chat.counsellor || person.status !== "connected") continue;
      const option = document.createElement("option");
      option.value = person.username;
      option.textContent = person.name;
      select.append(option);
    }
    const move = inlineForm(`move-${index}`, strings.move_to, select, strings.move, () =>
      send({ type: "conversation.move", conversation: chat.conversation, to: select.value }),
    );
    move.querySelector("button").disabled = select.options.length === 0;
    const reason = document.createElement("input");
    reason.required = true;
    const end = inlineForm(`end-${index}`, strings.end_reason, reason, strings.end, () =>
      send({ type: "conversation.end", conversation: chat.conversation, reason: reason.value }),
    );
    const blockReason = document.createElement("input");
    blockReason.required = true;
    const block = inlineForm(`block-${index}`, strings.block_reason, blockReason, strings.block, () =>
      send({ type: "visitor.block", conversation: chat.conversation, hours: 24, reason: blockReason.value }),
    );
    block.hidden = !chat.abuse;
    actions.append(move, end, block);
    const transcript = document.createElement("a");
    transcript.className = "ds-link";
    transcript.href = `/vaktleder/samtaler/${chat.conversation}/`;
    transcript.textContent = strings.transcript;
    actions.append(transcript);
    body.append(row);
  });
  if (!chats.length) {
    const row = document.createElement("tr");
    cell(row, strings.no_chats).colSpan = 5;
    body.append(row);
  }
}

function renderChart(series) {
  // Bars: queue length. Line: longest wait at that moment (own scale).
  const svg = $("chart");
  svg.replaceChildren();
  const peak = Math.max(1, ...series.map((p) => p.queue));
  const longest = Math.max(60, ...series.map((p) => p.longest_wait));
  const width = 400 / Math.max(1, series.length);
  const points = [];
  series.forEach((point, index) => {
    const height = (point.queue / peak) * 110;
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    bar.setAttribute("x", String(index * width));
    bar.setAttribute("y", String(120 - height));
    bar.setAttribute("width", String(Math.max(1, width - 1)));
    bar.setAttribute("height", String(height));
    bar.setAttribute("class", "vv-chart__bar");
    svg.append(bar);
    points.push(`${index * width + width / 2},${120 - (point.longest_wait / longest) * 110}`);
  });
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("class", "vv-chart__line");
  svg.append(line);
  const body = $("series");
  body.replaceChildren();
  for (const point of series) {
    const row = document.createElement("tr");
    cell(row, clock.format(new Date(point.at)));
    cell(row, String(point.queue));
    cell(row, duration(point.longest_wait));
    body.append(row);
  }
}

function renderHistory(history) {
  const body = $("history");
  body.replaceChildren();
  for (const day of history) {
    const row = document.createElement("tr");
    cell(row, day.date);
    cell(row, String(day.queue));
    cell(row, String(day.started_last_hour));
    cell(row, duration(day.median_wait));
    body.append(row);
  }
}

function renderCounties(today) {
  const body = $("by-county");
  body.replaceChildren();
  const codes = new Set([...Object.keys(today.by_visitor_county), ...Object.keys(today.by_counsellor_county)]);
  for (const code of [...codes].sort()) {
    const row = document.createElement("tr");
    row.dataset.county = code;
    cell(row, code === "-" ? strings.not_given : counties[code] || code);
    cell(row, String(today.by_visitor_county[code] || 0));
    cell(row, String(today.by_counsellor_county[code] || 0));
    body.append(row);
  }
}

function renderGaps(gaps) {
  const list = $("gaps");
  list.replaceChildren();
  for (const gap of gaps) {
    const item = document.createElement("li");
    item.textContent = format(strings.gap, {
      from: dayClock.format(new Date(gap.from)),
      to: clock.format(new Date(gap.to)),
    });
    list.append(item);
  }
  if (!gaps.length) {
    const item = document.createElement("li");
    item.textContent = strings.none;
    list.append(item);
  }
}

function render(state) {
  // Events are absolute and stamped: an older state arriving late never replaces a newer one.
  if (state.generated_at < shownAt) return;
  shownAt = state.generated_at;
  const now = state.now;
  figure("now.state", now.open ? 1 : 0, `${now.open ? strings.open : strings.closed} (${strings[`reason_${now.reason}`] || now.reason})`);
  figure("now.closes_at", now.closes_at, now.closes_at ? clock.format(new Date(now.closes_at)) : strings.none);
  figure("now.waiting", now.waiting);
  figure("now.longest_wait", now.longest_wait, duration(now.longest_wait));
  figure("now.estimated_wait", now.estimated_wait, duration(now.estimated_wait));
  figure("now.in_progress", now.in_progress);
  figure("now.capacity", now.capacity);
  const today = state.today;
  figure("today.started", today.started);
  figure("today.handled", today.handled);
  figure("today.abandoned", today.abandoned);
  figure("today.abandonment_rate", today.abandonment_rate, today.abandonment_rate === null ? strings.none : `${today.abandonment_rate} %`);
  figure("today.median_wait", today.median_wait, duration(today.median_wait));
  figure("today.p90_wait", today.p90_wait, duration(today.p90_wait));
  figure("today.ratings", today.rating_up, `${today.rating_up} / ${today.rating_down} / ${today.rating_offered}`);
  renderAlerts(state.alerts);
  renderCounsellors(now.counsellors);
  // Re-render the chat rows without losing a keyboard user's place or what they typed.
  const focusedId = document.activeElement && document.activeElement.closest("#active-chats")
    ? document.activeElement.id
    : "";
  const typed = {};
  for (const input of document.querySelectorAll("#active-chats input")) typed[input.id] = input.value;
  renderChats(now.active_chats);
  for (const [id, value] of Object.entries(typed)) {
    const input = document.getElementById(id);
    if (input) input.value = value;
  }
  if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
  renderChart(state.series);
  renderHistory(state.history);
  renderCounties(today);
  renderGaps(state.gaps);
  document.body.dataset.generatedAt = state.generated_at;
}

const handlers = {
  "dashboard.state"(frame) {
    render(frame.state);
  },
  ok() {
    $("dash-notice").textContent = strings.done;
  },
  error(frame) {
    $("dash-notice").textContent = frame.message;
  },
  pong() {},
};

connection = new Connection("/ws/dashboard/", {
  onFrame: (frame) => (handlers[frame.type] || (() => {}))(frame),
  onDown: () => ($("dash-notice").textContent = strings.reconnecting),
  onStop: () => window.location.assign("/veileder/logg-inn/?next=/vaktleder/"),
});
connection.connect();

$("close-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send({ type: "service.close", reason: $("close-reason").value, until: $("close-until").value });
});
$("open-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send({ type: "service.open", reason: $("open-reason").value, until: $("open-until").value });
});
$("resume").addEventListener("click", () => send({ type: "service.resume" }));
$("message-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send({ type: "counsellors.message", text: $("message-text").value });
  $("message-text").value = "";
});
