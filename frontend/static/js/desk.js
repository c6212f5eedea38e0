// The counsellor desk: shift, shared queue, and every assigned chat on one socket.

import { ChatView } from "./chatview.js";
import { Connection, format, loadStrings } from "./connection.js";

const strings = loadStrings();
const $ = (id) => document.getElementById(id);
const chats = new Map(); // conversation id -> { view, root, status }
let onShift = false;
let waitingCount = 0;
let connection = null;
let chatNumber = 0;
let connected = false; // controls act only once the server has said hello

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
  renderShift();
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
  chat.root.querySelector("[data-role=dismiss]").hidden = active;
  chat.root.querySelector("[data-role=meta]").textContent = active ? "" : strings.closed;
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
  root.querySelector("[data-role=dismiss]").textContent = strings.dismiss;
  const view = new ChatView({
    list: root.querySelector("[data-role=messages]"),
    typing: root.querySelector("[data-role=typing]"),
    party: "counsellor",
    strings,
    send: (frame) => connection.send(frame),
    conversation: id,
  });
  const chat = { view, root, status: summary.status };
  chats.set(id, chat);
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
  root.querySelector("[data-role=dismiss]").addEventListener("click", () => {
    chats.delete(id);
    root.remove();
    renderEmpty();
  });
  $("chats").append(root);
  showStatus(chat, summary.status);
  return chat;
}

function resumeChat(chat, id) {
  connection.send({ type: "resume", conversation: id, last_seq: chat.view.lastSeq });
}

const handlers = {
  hello(frame) {
    connected = true;
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
    notice(strings.new_chat);
    resumeChat(chat, frame.conversation);
    chat.root.querySelector("[data-role=input]").focus();
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
    if (chat) showStatus(chat, frame.status);
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
