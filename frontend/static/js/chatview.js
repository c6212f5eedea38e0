// Renders one conversation's messages for either side, in sequence order, exactly once.

import { format, newClientId } from "./connection.js";

const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "nb", {
  hour: "2-digit",
  minute: "2-digit",
});

// Counsellors send resource links: show http(s) addresses in their messages as links.
const URL_PATTERN = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)])/g;

export function linkify(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    if (match.index > last) parts.push(document.createTextNode(text.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    parts.push(link);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(document.createTextNode(text.slice(last)));
  return parts;
}

export class ChatView {
  constructor({ list, typing, party, strings, send, conversation = null }) {
    this.conversation = conversation; // desk frames name it; the visitor socket knows its own
    this.list = list;
    this.typingNode = typing;
    this.party = party; // "visitor" or "counsellor": whose page this is
    this.strings = strings;
    this.send = send; // (frame) => boolean
    this.lastSeq = 0;
    this.pending = new Map(); // client_id -> { body, node }
    this.typingTimer = null;
    this.lastTypingSent = 0;
    this.seenTimer = null;
  }

  senderLabel(message) {
    if (message.sender === this.party) return this.strings.you;
    if (message.sender === "counsellor") return message.author_name || this.strings.counsellor;
    return this.strings.visitor;
  }

  systemText(message) {
    const template = this.strings[`system_${message.body}`];
    return template ? format(template, { name: message.author_name }) : message.body;
  }

  node(message, stateText) {
    const item = document.createElement("li");
    item.className = `vv-msg vv-msg--${message.sender === this.party ? "own" : message.sender}`;
    if (message.seq) item.dataset.seq = String(message.seq);
    if (message.sender === "system") {
      item.classList.add("vv-msg--system");
      item.textContent = this.systemText(message);
      return item;
    }
    const who = document.createElement("span");
    who.className = "vv-msg__who";
    who.textContent = this.senderLabel(message);
    const body = document.createElement("p");
    body.className = "vv-msg__body";
    if (message.sender === "counsellor") body.append(...linkify(message.body));
    else body.textContent = message.body;
    if (message.profanity && this.party === "counsellor" && this.strings.profanity) {
      item.classList.add("vv-msg--profanity");
      who.textContent = `${who.textContent} · ${this.strings.profanity}`;
    }
    const meta = document.createElement("span");
    meta.className = "vv-msg__meta";
    const when = message.sent_at ? timeFormat.format(new Date(message.sent_at)) : "";
    meta.textContent = [when, stateText].filter(Boolean).join(" · ");
    item.append(who, body, meta);
    return item;
  }

  scrollToEnd() {
    const box = this.list.parentElement;
    if (box) box.scrollTop = box.scrollHeight;
  }

  setState(item, text, when, state) {
    if (state) item.dataset.state = state;
    const meta = item.querySelector(".vv-msg__meta");
    if (meta) meta.textContent = [when, text].filter(Boolean).join(" · ");
  }

  // A message from the server stream. Returns true when it was new.
  receive(message) {
    if (message.seq <= this.lastSeq) return false;
    this.lastSeq = message.seq;
    const own = message.sender === this.party;
    const item = this.node(message, own ? this.strings.sent : "");
    if (own) item.dataset.state = "sent";
    const waiting = own && message.client_id ? this.pending.get(message.client_id) : null;
    if (waiting) {
      waiting.node.remove();
      this.pending.delete(message.client_id);
    }
    // Keep still-unsent messages last.
    const firstPending = this.list.querySelector(".vv-msg--pending");
    this.list.insertBefore(item, firstPending);
    this.scrollToEnd();
    this.scheduleSeen();
    return true;
  }

  // Put a message in the outbox and show it as "sending".
  compose(body) {
    const clientId = newClientId();
    const item = this.node({ sender: this.party, body, seq: 0 }, this.strings.sending);
    item.classList.add("vv-msg--pending");
    item.dataset.state = "sending";
    item.dataset.clientId = clientId;
    this.list.append(item);
    this.scrollToEnd();
    this.pending.set(clientId, { body, node: item });
    this.flush();
  }

  flush() {
    for (const [clientId, entry] of this.pending) {
      const frame = { type: "message.send", client_id: clientId, body: entry.body };
      if (this.conversation) frame.conversation = this.conversation;
      if (!this.send(frame)) return; // stays "sending"; flushed again after resume
    }
  }

  ack(frame) {
    const entry = this.pending.get(frame.client_id);
    if (entry) this.setState(entry.node, this.strings.sent, "", "sent");
  }

  receipt(seq) {
    for (const item of this.list.querySelectorAll(".vv-msg--own[data-seq]")) {
      if (Number(item.dataset.seq) <= seq) {
        item.dataset.state = "delivered";
        const meta = item.querySelector(".vv-msg__meta");
        if (meta && !meta.textContent.endsWith(this.strings.delivered)) {
          meta.textContent = meta.textContent.replace(this.strings.sent, this.strings.delivered);
        }
      }
    }
  }

  showTyping(text) {
    this.typingNode.textContent = text;
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => {
      this.typingNode.textContent = "";
    }, 4000);
  }

  clearTyping() {
    window.clearTimeout(this.typingTimer);
    this.typingNode.textContent = "";
  }

  userTyping() {
    const now = Date.now();
    if (now - this.lastTypingSent < 2000) return;
    this.lastTypingSent = now;
    const frame = { type: "typing" };
    if (this.conversation) frame.conversation = this.conversation;
    this.send(frame);
  }

  scheduleSeen() {
    window.clearTimeout(this.seenTimer);
    this.seenTimer = window.setTimeout(() => {
      const frame = { type: "seen", seq: this.lastSeq };
      if (this.conversation) frame.conversation = this.conversation;
      this.send(frame);
    }, 300);
  }
}
