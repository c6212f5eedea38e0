// The visitor's chat page. Protocol: docs/protocol.md.

import { ChatView } from "./chatview.js";
import { Connection, format, loadStrings } from "./connection.js";

const strings = loadStrings();
const $ = (id) => document.getElementById(id);
const chat = $("chat");
const form = $("compose");
const input = $("message-input");
const statusNode = $("queue-status");
const endButton = $("end-chat");
const rating = $("rating");
const after = $("after");

let connection = null;
let pendingAbout = null; // answers given before the chat started
let status = null;
let counsellorName = "";

const view = new ChatView({
  list: $("messages"),
  typing: $("typing"),
  party: "visitor",
  strings,
  send: (frame) => (connection ? connection.send(frame) : false),
});

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function say(text) {
  statusNode.textContent = text;
}

function showStatus(frame) {
  status = frame.status;
  counsellorName = frame.counsellor_name || counsellorName;
  chat.dataset.status = status;
  $("county-field").hidden = true;
  const open = status === "new" || status === "waiting" || status === "active";
  form.hidden = !open;
  endButton.hidden = !open || status === "new";
  if (status === "waiting") say(strings.queue_wait);
  if (status === "active") say(format(strings.active, { name: counsellorName }));
  if (status === "closed") say(strings.closed);
  if (status === "abandoned") say(strings.abandoned);
  if (!open) view.clearTyping();
  rating.hidden = !(status === "closed" && frame.rating_offered && !frame.rating);
  after.hidden = open;
}

function showQueue(queue) {
  if (!queue || status !== "waiting") return;
  const parts = [
    queue.position <= 1
      ? strings.queue_next
      : format(strings.queue_position, { position: queue.position }),
  ];
  if (queue.estimated_wait) {
    parts.push(
      format(strings.queue_wait_minutes, { minutes: Math.max(1, Math.round(queue.estimated_wait / 60)) }),
    );
  } else if (queue.position > 1) {
    parts.push(strings.queue_wait);
  }
  if (queue.past_closing && queue.closes_at) {
    const time = new Date(queue.closes_at).toLocaleTimeString(document.documentElement.lang, {
      hour: "2-digit",
      minute: "2-digit",
    });
    parts.push(format(strings.past_closing, { time }));
  }
  chat.dataset.position = String(queue.position);
  say(parts.join(" "));
}

const handlers = {
  hello(frame) {
    showStatus(frame);
    showQueue(frame.queue);
    connection.send({ type: "resume", last_seq: view.lastSeq });
  },
  resumed() {
    view.flush();
  },
  message(frame) {
    view.receive(frame);
    if (frame.sender === "counsellor") view.clearTyping();
  },
  ack(frame) {
    view.ack(frame);
  },
  status(frame) {
    showStatus(frame);
  },
  "queue.position"(frame) {
    showQueue(frame);
  },
  typing(frame) {
    if (frame.party === "counsellor") view.showTyping(strings.typing_counsellor);
  },
  receipt(frame) {
    if (frame.party === "counsellor") view.receipt(frame.seq);
  },
  rated() {
    rating.hidden = true;
    say(strings.rate_thanks);
  },
  error(frame) {
    say(frame.message);
  },
  pong() {},
};

function connect() {
  connection = new Connection("/ws/chat/", {
    onFrame: (frame) => (handlers[frame.type] || (() => {}))(frame),
    onDown: () => say(strings.reconnecting),
    onStop: () => say(strings.start_failed),
  });
  connection.connect();
}

async function startConversation() {
  const response = await fetch("/api/chat/", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify({ language: document.documentElement.lang, county: $("county").value }),
    credentials: "same-origin",
  });
  if (!response.ok) {
    const payload = await response.json().catch(() => ({}));
    say((payload.error && payload.error.message) || strings.start_failed);
    return false;
  }
  connect();
  if (pendingAbout) await sendAbout(pendingAbout);
  return true;
}

async function sendAbout(values) {
  const response = await fetch("/api/chat/attributes/", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(values),
    credentials: "same-origin",
  });
  if (response.ok) {
    pendingAbout = null;
    $("about-state").textContent = strings.about_saved;
  }
  return response.ok;
}

$("about-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = {};
  for (const select of $("about-form").querySelectorAll("select")) {
    if (select.value) values[select.name] = select.value;
  }
  if (connection) {
    await sendAbout(values);
  } else {
    pendingAbout = values;
    $("about-state").textContent = strings.about_later;
  }
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = input.value.trim();
  if (!body) return;
  input.value = "";
  view.compose(body);
  if (!connection && !(await startConversation())) return;
});

input.addEventListener("input", () => {
  if (status === "waiting" || status === "active") view.userTyping();
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

endButton.addEventListener("click", () => {
  connection.send({ type: "conversation.close" });
});

for (const button of rating.querySelectorAll("[data-rating]")) {
  button.addEventListener("click", () => {
    connection.send({ type: "rating", value: button.dataset.rating });
  });
}

$("delete-chat").addEventListener("click", async () => {
  const response = await fetch("/api/chat/delete/", {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
  });
  if (response.ok) {
    if (connection) connection.stop();
    $("messages").replaceChildren();
    say(strings.deleted);
    $("delete-chat").hidden = true;
    rating.hidden = true;
  }
});

$("new-chat").addEventListener("click", async () => {
  await fetch("/api/chat/forget/", {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
  });
  window.location.reload();
});

// A returning visitor (reload, closed tab) picks up their conversation where it was.
fetch("/api/chat/", { credentials: "same-origin" }).then((response) => {
  if (response.ok) connect();
});
