// A WebSocket that reconnects with backoff. The server is the record: after every (re)connect
// the page resumes from the last sequence it has seen, and re-sends what was never acknowledged.

const STOP_CODES = new Set([4401, 4403]);

export class Connection {
  constructor(path, { onFrame, onOpen, onDown, onStop }) {
    this.path = path;
    this.onFrame = onFrame;
    this.onOpen = onOpen || (() => {});
    this.onDown = onDown || (() => {});
    this.onStop = onStop || (() => {});
    this.attempt = 0;
    this.stopped = false;
    this.ws = null;
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}${this.path}`;
  }

  connect() {
    this.stopped = false;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped || STOP_CODES.has(event.code)) {
        this.stopped = true;
        this.onStop(event.code);
        return;
      }
      this.onDown();
      const delay = Math.min(10000, 300 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      window.setTimeout(() => this.connect(), delay);
    });
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }
}

export function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function loadStrings() {
  const node = document.getElementById("vv-strings");
  return node ? JSON.parse(node.textContent) : {};
}

export function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => (key in values ? String(values[key]) : ""));
}
