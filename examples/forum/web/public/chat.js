// WebSocket client for /ws/chat with reconnect + exponential backoff, and the
// rendering of chat lines.
import { el, timeEl } from './ui.js';

const MIN_DELAY = 500;
const MAX_DELAY = 15000;
const MAX_MESSAGES = 200;

export class ChatSocket {
  /**
   * @param {{ onMessage: (msg: any) => void,
   *           onStatus: (status: "connecting"|"open"|"closed", retryMs?: number) => void }} handlers
   */
  constructor({ onMessage, onStatus }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.ws = null;
    this.delay = MIN_DELAY;
    this.timer = null;
    this.url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/chat`;
    window.addEventListener('online', () => this.connectNow());
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.onStatus('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      this.delay = MIN_DELAY;
      this.onStatus('open');
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg && typeof msg === 'object') this.onMessage(msg);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return; // replaced by a newer socket on purpose
      this.ws = null;
      this.scheduleReconnect();
    });
    // "error" is always followed by "close"; nothing extra to do here.
  }

  scheduleReconnect() {
    const wait = Math.round(this.delay * (0.75 + Math.random() * 0.5));
    this.delay = Math.min(this.delay * 2, MAX_DELAY);
    this.onStatus('closed', wait);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /** Drop the current socket (if any) and connect again right away. */
  connectNow() {
    const old = this.ws;
    this.ws = null;
    if (old) old.close(1000, 'reconnect');
    this.delay = MIN_DELAY;
    this.connect();
  }

  /** @returns {boolean} whether the message was handed to the socket */
  send(text) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify({ type: 'chat', text }));
    return true;
  }
}

/** Append one chat line to the log <ol>, keeping at most MAX_MESSAGES. */
export function appendChatMessage(log, msg, selfName) {
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const from = String(msg.from ?? 'guest');
  const self = selfName !== null && from === selfName;
  log.append(
    el(
      'li',
      {
        className: `chat-msg${self ? ' is-self' : ''}${from === 'guest' ? ' is-guest' : ''}`,
        testid: 'chat-message',
      },
      el('span', { className: 'chat-from', text: from }),
      msg.at ? timeEl(msg.at, { short: true }) : null,
      el('span', { className: 'chat-text', text: String(msg.text ?? '') }),
    ),
  );
  while (log.children.length > MAX_MESSAGES) log.firstElementChild.remove();
  if (atBottom || self) log.scrollTop = log.scrollHeight;
}
