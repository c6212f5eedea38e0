// The counsellor desk: shift, shared queue, and every assigned chat on one socket.

import { ChatView } from "./chatview.js";
import { Connection, format, loadStrings, newClientId } from "./connection.js";

const strings = loadStrings();
const $ = (id) => document.getElementById(id);
const chats = new Map(); // conversation id -> { view, root, status }
let onShift = false;
let waitingCount = 0;
let connection = null;
let chatNumber = 0;
let connected = false; // controls act only once the server has said hello
let myUsername = "";
let colleagues = [];
let taxonomy = { topics: [], referrals: [] };

const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "nb", {
  hour: "2-digit",
  minute: "2-digit",
});

function notice(text) {
  $("desk-notice").textContent = text;
}

function renderShift() {
  $("shift-status").textContent = onShift ? strings.on_shift : strings.off_shift;
  $("shift-start").hidden = onShift;
  $("shift-end").hidden = !onShift;
  $("shift-start").disabled = !connected;
  $("shift-end").disabled = !connected;
  $("take-next").disabled = !connected || !onShift || waitingCount === 0;
}

function renderQueue(snapshot) {
  const list = $("queue");
  list.replaceChildren();
  waitingCount = snapshot.waiting.length;
  $("queue-count").textContent = String(waitingCount);
  if (waitingCount === 0) {
    const item = document.createElement("li");
    item.textContent = strings.queue_empty;
    list.append(item);
  }
  for (const entry of snapshot.waiting) {
    const item = document.createElement("li");
    item.className = "vv-queue__item";
    const text = document.createElement("span");
    const language = strings[`lang_${entry.language}`] || entry.language;
    text.textContent = `${format(strings.waiting_since, {
      time: timeFormat.format(new Date(entry.queued_at)),
    })} · ${format(strings.language, { language })}`;
    const take = document.createElement("button");
    take.className = "ds-button";
    take.dataset.variant = "secondary";
    take.dataset.size = "sm";
    take.type = "button";
    take.textContent = strings.take;
    take.disabled = !onShift;
    take.addEventListener("click", () =>
      connection.send({ type: "queue.take", conversation: entry.conversation }),
    );
    item.append(text, " ", take);
    list.append(item);
  }
  colleagues = snapshot.counsellors || [];
  renderColleagues();
  renderShift();
}

function renderColleagues() {
  const list = $("colleagues");
  list.replaceChildren();
  for (const person of colleagues) {
    const item = document.createElement("li");
    item.dataset.username = person.username;
    item.dataset.status = person.status;
    const load = format(strings.load, { active: person.active, limit: person.limit });
    item.textContent = `${person.name} · ${load} · ${strings[`status_${person.status}`] || person.status}`;
    list.append(item);
  }
  for (const chat of chats.values()) fillTransferTargets(chat);
}

function fillTransferTargets(chat) {
  const select = chat.root.querySelector("[data-role=transfer-to]");
  const current = select.value;
  select.replaceChildren();
  const queue = document.createElement("option");
  queue.value = "";
  queue.textContent = strings.transfer_queue;
  select.append(queue);
  for (const person of colleagues) {
    if (person.username === myUsername || person.status !== "connected") continue;
    if (person.active >= person.limit) continue;
    const option = document.createElement("option");
    option.value = person.username;
    option.textContent = `${person.name} (${format(strings.load, { active: person.active, limit: person.limit })})`;
    select.append(option);
  }
  select.value = [...select.options].some((o) => o.value === current) ? current : "";
}

function checkbox(prefix, entry, nested) {
  const wrap = document.createElement("div");
  wrap.className = nested ? "vv-topic vv-topic--child" : "vv-topic";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.className = "ds-input";
  input.id = `${prefix}-${entry.code.replace(/[^a-z0-9-]/gi, "-")}`;
  input.value = entry.code;
  input.name = "topic";
  const label = document.createElement("label");
  label.htmlFor = input.id;
  label.textContent = entry.label;
  wrap.append(input, label);
  return wrap;
}

function buildWrapup(chat, number) {
  const root = chat.root;
  const form = root.querySelector("[data-role=wrapup]");
  root.querySelector("[data-role=wrapup-legend]").textContent = strings.wrapup_legend;
  root.querySelector("[data-role=wrapup-save]").textContent = strings.wrapup_save;
  const topics = root.querySelector("[data-role=topics]");
  for (const top of taxonomy.topics) {
    topics.append(checkbox(`t${number}`, top, false));
    for (const child of top.children) topics.append(checkbox(`t${number}`, child, true));
  }
  const referralId = `chat-referral-${number}`;
  const label = root.querySelector("[data-role=referral-label]");
  label.textContent = strings.referral_label;
  label.htmlFor = referralId;
  const select = root.querySelector("[data-role=referral]");
  select.id = referralId;
  const none = document.createElement("option");
  none.value = "";
  none.textContent = strings.no_referral;
  select.append(none);
  for (const entry of taxonomy.referrals) {
    const option = document.createElement("option");
    option.value = entry.code;
    option.textContent = entry.label;
    select.append(option);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=topic]:checked")].map((i) => i.value);
    connection.send({
      type: "wrapup",
      conversation: root.dataset.conversation,
      topics: chosen,
      referral: select.value,
    });
  });
}

function showWrapup(chat, wrapup) {
  chat.wrapped = Boolean(wrapup);
  chat.root.dataset.wrapped = chat.wrapped ? "true" : "false";
  if (!wrapup) return;
  for (const input of chat.root.querySelectorAll("input[name=topic]")) {
    input.checked = wrapup.topics.includes(input.value);
  }
  chat.root.querySelector("[data-role=referral]").value = wrapup.referral || "";
  chat.root.querySelector("[data-role=wrapup-state]").textContent = strings.wrapup_saved;
}

function renderNotes(chat, notes) {
  const list = chat.root.querySelector("[data-role=notes]");
  list.replaceChildren();
  for (const entry of notes || []) {
    if (!entry.note) continue;
    const item = document.createElement("li");
    item.textContent = format(strings.note_from, { name: entry.from, note: entry.note });
    list.append(item);
  }
}

function renderEmpty() {
  const open = [...chats.values()].some((chat) => chat.status === "active");
  $("no-chats").textContent = open ? "" : strings.no_chats;
}

function showStatus(chat, status) {
  chat.status = status;
  chat.root.dataset.status = status;
  const active = status === "active";
  chat.root.querySelector("[data-role=compose]").hidden = !active;
  chat.root.querySelector("[data-role=transfer]").hidden = !active;
  chat.root.querySelector("[data-role=wrapup]").hidden = status === "transferred";
  chat.root.querySelector("[data-role=dismiss]").hidden = active;
  for (const button of chat.root.querySelectorAll(".vv-suggest__item button")) {
    button.disabled = !active;
  }
  const meta = [];
  if (chat.crisis) meta.push(strings.crisis);
  if (chat.county) meta.push(format(strings.county, { county: chat.county }));
  if (status === "transferred") meta.push(strings.transferred_away);
  else if (!active) meta.push(strings.closed);
  chat.root.querySelector("[data-role=meta]").textContent = meta.join(" · ");
  if (!active) chat.view.clearTyping();
  renderEmpty();
}

function openChat(summary) {
  const id = summary.conversation;
  if (chats.has(id)) return chats.get(id);
  chatNumber += 1;
  const root = $("chat-template").content.firstElementChild.cloneNode(true);
  root.dataset.conversation = id;
  const titleId = `chat-title-${chatNumber}`;
  const inputId = `chat-input-${chatNumber}`;
  const title = root.querySelector("[data-role=title]");
  title.id = titleId;
  const language = strings[`lang_${summary.language}`] || summary.language;
  title.textContent = `${format(strings.chat_with, { number: chatNumber })} · ${language}`;
  root.setAttribute("aria-labelledby", titleId);
  const input = root.querySelector("[data-role=input]");
  input.id = inputId;
  const label = root.querySelector("[data-role=label]");
  label.htmlFor = inputId;
  label.textContent = strings.message_label;
  root.querySelector("[data-role=log]").setAttribute("aria-labelledby", titleId);
  root.querySelector("[data-role=send]").textContent = strings.send;
  root.querySelector("[data-role=end]").textContent = strings.end_chat;
  root.querySelector("[data-role=flag]").textContent = strings.report_abuse;
  root.querySelector("[data-role=dismiss]").textContent = strings.dismiss;
  const view = new ChatView({
    list: root.querySelector("[data-role=messages]"),
    typing: root.querySelector("[data-role=typing]"),
    party: "counsellor",
    strings,
    send: (frame) => connection.send(frame),
    conversation: id,
  });
  const chat = {
    view,
    root,
    status: summary.status,
    county: summary.county || "",
    crisis: Boolean(summary.crisis),
  };
  chats.set(id, chat);
  const transferId = `chat-transfer-${chatNumber}`;
  const noteId = `chat-note-${chatNumber}`;
  root.querySelector("[data-role=transfer-summary]").textContent = strings.transfer;
  const toLabel = root.querySelector("[data-role=transfer-to-label]");
  toLabel.textContent = strings.transfer_to;
  toLabel.htmlFor = transferId;
  root.querySelector("[data-role=transfer-to]").id = transferId;
  const noteLabel = root.querySelector("[data-role=transfer-note-label]");
  noteLabel.textContent = strings.transfer_note;
  noteLabel.htmlFor = noteId;
  root.querySelector("[data-role=transfer-note]").id = noteId;
  root.querySelector("[data-role=transfer-send]").textContent = strings.transfer;
  root.querySelector("[data-role=transfer-form]").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = root.querySelector("[data-role=transfer-to]").value || null;
    const note = root.querySelector("[data-role=transfer-note]").value;
    connection.send({ type: "conversation.transfer", conversation: id, to, note });
  });
  fillTransferTargets(chat);
  renderNotes(chat, summary.notes);
  buildWrapup(chat, chatNumber);
  buildSuggestions(chat, id, chatNumber);
  showWrapup(chat, summary.wrapup);
  const form = root.querySelector("[data-role=compose]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = "";
    view.compose(body);
  });
  input.addEventListener("input", () => view.userTyping());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  root.querySelector("[data-role=end]").addEventListener("click", () =>
    connection.send({ type: "conversation.close", conversation: id }),
  );
  root.querySelector("[data-role=flag]").addEventListener("click", () => {
    const visitorMessages = root.querySelectorAll(".vv-msg--visitor[data-seq]");
    const last = visitorMessages[visitorMessages.length - 1];
    if (!last) return;
    connection.send({ type: "message.flag", conversation: id, seq: Number(last.dataset.seq) });
  });
  root.querySelector("[data-role=dismiss]").addEventListener("click", () => {
    if (!chat.wrapped && chat.status === "closed") {
      notice(strings.wrapup_missing);
      root.querySelector("input[name=topic]").focus();
      return;
    }
    chats.delete(id);
    root.remove();
    renderEmpty();
  });
  $("chats").append(root);
  showStatus(chat, summary.status);
  return chat;
}

function buildSuggestions(chat, id, number) {
  const root = chat.root;
  const headingId = `chat-suggest-${number}`;
  const heading = root.querySelector("[data-role=suggest-heading]");
  heading.id = headingId;
  heading.textContent = strings.suggest_heading;
  root.querySelector("[data-role=suggest]").setAttribute("aria-labelledby", headingId);
  root.querySelector("[data-role=suggest-state]").textContent = strings.suggest_empty;
  const qId = `chat-suggest-q-${number}`;
  const label = root.querySelector("[data-role=suggest-label]");
  label.htmlFor = qId;
  label.textContent = strings.suggest_search_label;
  const input = root.querySelector("[data-role=suggest-q]");
  input.id = qId;
  root.querySelector("[data-role=suggest-go]").textContent = strings.suggest_search;
  root.querySelector("[data-role=suggest-form]").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) connection.send({ type: "suggestion.search", conversation: id, q });
  });
}

function renderSuggestions(chat, frame) {
  const root = chat.root;
  const list = root.querySelector("[data-role=suggest-list]");
  const state = root.querySelector("[data-role=suggest-state]");
  // A refresh from the chat never replaces results the counsellor searched for while the
  // search box still holds the query.
  const searching = root.querySelector("[data-role=suggest-q]").value.trim() !== "";
  if (frame.source === "chat" && searching && list.dataset.source === "search") return;
  list.dataset.source = frame.source;
  list.replaceChildren();
  state.textContent = frame.items.length
    ? frame.source === "search" ? strings.suggest_results : ""
    : strings.suggest_none;
  for (const item of frame.items) {
    const entry = document.createElement("li");
    entry.className = "vv-suggest__item";
    entry.dataset.id = item.id;
    const kind = document.createElement("p");
    kind.className = "vv-suggest__kind";
    kind.textContent = strings[`kind_${item.kind}`] || item.kind;
    const title = document.createElement("a");
    title.href = item.url;
    title.target = "_blank";
    title.rel = "noopener noreferrer";
    title.textContent = item.title;
    const titleLine = document.createElement("p");
    titleLine.append(title);
    const summary = document.createElement("p");
    summary.className = "ds-paragraph";
    summary.dataset.size = "sm";
    summary.textContent = item.summary;
    const send = document.createElement("button");
    send.type = "button";
    send.className = "ds-button";
    send.dataset.variant = "secondary";
    send.dataset.size = "sm";
    send.textContent = strings.suggest_send;
    send.setAttribute("aria-label", format(strings.suggest_send_label, { title: item.title }));
    send.disabled = chat.status !== "active";
    send.addEventListener("click", () => {
      const sent = connection.send({
        type: "suggestion.send",
        conversation: root.dataset.conversation,
        id: item.id,
        client_id: newClientId(),
      });
      if (sent) notice(format(strings.suggest_sent, { title: item.title }));
    });
    entry.append(kind, titleLine, summary, send);
    list.append(entry);
  }
}

function resumeChat(chat, id) {
  connection.send({ type: "resume", conversation: id, last_seq: chat.view.lastSeq });
}

const handlers = {
  hello(frame) {
    connected = true;
    myUsername = frame.username;
    taxonomy = frame.taxonomy || taxonomy;
    onShift = frame.on_shift;
    renderQueue(frame.queue);
    for (const summary of frame.conversations) openChat(summary);
    for (const [id, chat] of chats) resumeChat(chat, id);
  },
  shift(frame) {
    onShift = frame.on_shift;
    renderShift();
  },
  "queue.snapshot"(frame) {
    renderQueue(frame);
  },
  "conversation.assigned"(frame) {
    const chat = openChat(frame);
    showStatus(chat, frame.status);
    renderNotes(chat, frame.notes);
    notice(strings.new_chat);
    resumeChat(chat, frame.conversation);
    // Never pull focus away from someone typing in another chat.
    const busy = document.activeElement && ["TEXTAREA", "INPUT", "SELECT"].includes(document.activeElement.tagName);
    if (!busy) chat.root.querySelector("[data-role=input]").focus();
  },
  resumed(frame) {
    const chat = chats.get(frame.conversation);
    if (chat) chat.view.flush();
  },
  message(frame) {
    const chat = chats.get(frame.conversation);
    if (!chat) return;
    chat.view.receive(frame);
    if (frame.sender === "visitor") chat.view.clearTyping();
  },
  ack(frame) {
    const chat = chats.get(frame.conversation);
    if (chat) chat.view.ack(frame);
  },
  status(frame) {
    const chat = chats.get(frame.conversation);
    if (!chat) return;
    chat.crisis = Boolean(frame.crisis);
    chat.root.dataset.crisis = chat.crisis ? "true" : "false";
    showStatus(chat, frame.status);
  },
  typing(frame) {
    const chat = chats.get(frame.conversation);
    if (chat && frame.party === "visitor") chat.view.showTyping(strings.typing_visitor);
  },
  receipt(frame) {
    const chat = chats.get(frame.conversation);
    if (chat && frame.party === "visitor") chat.view.receipt(frame.seq);
  },
  error(frame) {
    notice(frame.message);
  },
  taken() {},
  "supervisor.message"(frame) {
    notice(format(strings.supervisor_message, { sender: frame.sender, text: frame.text }));
  },
  transferred() {},
  flagged() {
    notice(strings.reported);
  },
  "wrapup.saved"(frame) {
    const chat = chats.get(frame.conversation);
    if (chat) showWrapup(chat, frame);
  },
  "conversation.unassigned"(frame) {
    const chat = chats.get(frame.conversation);
    if (chat) showStatus(chat, "transferred");
  },
  suggestions(frame) {
    const chat = chats.get(frame.conversation);
    if (chat) renderSuggestions(chat, frame);
  },
  pong() {},
};

connection = new Connection("/ws/desk/", {
  onFrame: (frame) => (handlers[frame.type] || (() => {}))(frame),
  onOpen: () => notice(""),
  onDown: () => {
    connected = false;
    renderShift();
    notice(strings.reconnecting);
  },
  onStop: () => window.location.assign("/veileder/logg-inn/"),
});
connection.connect();

$("shift-start").addEventListener("click", () => connection.send({ type: "shift.start" }));
$("shift-end").addEventListener("click", () => connection.send({ type: "shift.end" }));
$("take-next").addEventListener("click", () => connection.send({ type: "queue.take_next" }));
renderShift();
renderEmpty();
