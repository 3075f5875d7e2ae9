// cleave forum — browser front end. No framework, no build step.
import { api, ApiError, toApiError } from './api.js';
import { ChatSocket, appendChatMessage } from './chat.js';
import { addPost, loadPosts } from './posts.js';
import { showMessage, clearFormErrors, showFormError, setBusy, timeEl, refreshTimes } from './ui.js';

const $ = (id) => document.getElementById(id);
const testid = (name) => document.querySelector(`[data-testid="${name}"]`);

const STATS_INTERVAL = 10_000;

const dom = {
  sessionLoading: $('session-loading'),
  sessionUser: $('session-user'),
  sessionForms: $('session-forms'),
  currentUser: $('current-user'),
  logoutButton: $('logout-button'),
  logoutError: $('logout-error'),
  signupForm: $('signup-form'),
  loginForm: $('login-form'),
  composer: $('composer'),
  composerInput: $('composer-input'),
  composerCount: $('composer-count'),
  composerGuest: $('composer-guest'),
  chatLog: $('chat-log'),
  chatForm: $('chat-form'),
  chatInput: $('chat-input'),
  chatStatus: $('chat-status'),
  chatError: $('chat-error'),
  chatIdentity: $('chat-identity'),
};

/** @type {{id: string, username: string} | null} */
let currentUser = null;

// ---------------------------------------------------------------- session

function setUser(user, { reconnectChat = true } = {}) {
  const changed = (currentUser?.id ?? null) !== (user?.id ?? null);
  currentUser = user;
  dom.sessionLoading.hidden = true;
  dom.sessionUser.hidden = !user;
  dom.sessionForms.hidden = Boolean(user);
  dom.composer.hidden = !user;
  dom.composerGuest.hidden = Boolean(user);
  dom.currentUser.textContent = user ? user.username : '';
  dom.chatIdentity.textContent = user ? user.username : 'guest';
  showMessage(dom.logoutError, '');
  if (!user) clearFormErrors(dom.composer);
  // The socket identifies us by the session cookie at connect time.
  if (changed && reconnectChat) chat.connectNow();
}

function credentials(form) {
  const data = new FormData(form);
  return [String(data.get('username') ?? '').trim(), String(data.get('password') ?? '')];
}

dom.signupForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = dom.signupForm;
  const [username, password] = credentials(form);
  clearFormErrors(form);
  setBusy(form, true);
  try {
    await api.signup(username, password);
  } catch (err) {
    showFormError(form, toApiError(err));
    setBusy(form, false);
    return;
  }
  // Account exists now; log straight in with the same credentials.
  try {
    const { user } = await api.login(username, password);
    form.reset();
    setBusy(form, false);
    loggedIn(user);
  } catch (err) {
    setBusy(form, false);
    form.reset();
    const e = toApiError(err);
    dom.loginForm.elements.namedItem('username').value = username;
    showFormError(
      dom.loginForm,
      new ApiError(e.status, e.code, `Account created, but logging in failed: ${e.message}`),
    );
    dom.loginForm.elements.namedItem('password').focus();
  }
});

dom.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = dom.loginForm;
  const [username, password] = credentials(form);
  clearFormErrors(form);
  setBusy(form, true);
  try {
    const { user } = await api.login(username, password);
    form.reset();
    setBusy(form, false);
    loggedIn(user);
  } catch (err) {
    showFormError(form, toApiError(err));
    setBusy(form, false);
  }
});

function loggedIn(user) {
  clearFormErrors(dom.signupForm);
  clearFormErrors(dom.loginForm);
  setUser(user);
  dom.composerInput.focus();
}

dom.logoutButton.addEventListener('click', async () => {
  dom.logoutButton.disabled = true;
  try {
    await api.logout();
    setUser(null);
    dom.loginForm.elements.namedItem('username').focus();
  } catch (err) {
    const e = toApiError(err);
    if (e.status === 401) setUser(null);
    else showMessage(dom.logoutError, e.message);
  } finally {
    dom.logoutButton.disabled = false;
  }
});

// ---------------------------------------------------------------- posts

function updateCount() {
  dom.composerCount.textContent = `${dom.composerInput.value.length} / 2000`;
}
dom.composerInput.addEventListener('input', updateCount);
dom.composerInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    dom.composer.requestSubmit();
  }
});

dom.composer.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = dom.composer;
  clearFormErrors(form);
  setBusy(form, true);
  try {
    const post = await api.createPost(dom.composerInput.value);
    addPost(post, { highlight: true });
    form.reset();
    updateCount();
  } catch (err) {
    const e = toApiError(err);
    if (e.status === 401) {
      // Session expired: switch to the log-in form and explain there.
      setUser(null);
      showFormError(dom.loginForm, e);
      dom.loginForm.elements.namedItem('username').focus();
    } else {
      showFormError(form, e);
    }
  } finally {
    setBusy(form, false);
  }
});

// ---------------------------------------------------------------- stats

async function loadStats() {
  const stats = testid('stats');
  try {
    const { posts, users, updatedAt } = await api.stats();
    testid('stats-posts').textContent = String(posts ?? '–');
    testid('stats-users').textContent = String(users ?? '–');
    testid('stats-updated').replaceChildren(updatedAt ? timeEl(updatedAt) : 'never');
    stats.classList.remove('is-stale');
    stats.removeAttribute('title');
  } catch (err) {
    stats.classList.add('is-stale');
    stats.title = `Stats unavailable: ${toApiError(err).message}`;
  }
}

// ---------------------------------------------------------------- chat

const STATUS_TEXT = { connecting: 'Connecting…', open: 'Connected', closed: 'Disconnected' };

const chat = new ChatSocket({
  onStatus(state, retryMs) {
    dom.chatStatus.dataset.state = state;
    dom.chatStatus.textContent =
      state === 'closed' && retryMs ? `Disconnected — retrying in ${Math.ceil(retryMs / 1000)} s` : STATUS_TEXT[state];
    if (state === 'open') showMessage(dom.chatError, '');
  },
  onMessage(msg) {
    if (msg.type === 'chat') appendChatMessage(dom.chatLog, msg, currentUser?.username ?? null);
    else if (msg.type === 'post') addPost(msg.post, { highlight: true });
    else if (msg.error) showMessage(dom.chatError, String(msg.error.message ?? 'Chat error'));
  },
});

dom.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = dom.chatInput.value;
  if (!text.trim()) {
    showMessage(dom.chatError, 'Type a message first.');
    return;
  }
  if (text.length > 500) {
    showMessage(dom.chatError, 'Messages can be at most 500 characters.');
    return;
  }
  if (!chat.send(text)) {
    showMessage(dom.chatError, 'Not connected — your message was not sent. Reconnecting…');
    if (dom.chatStatus.dataset.state === 'closed') chat.connectNow();
    return;
  }
  showMessage(dom.chatError, '');
  dom.chatInput.value = '';
  dom.chatInput.focus();
});

// ---------------------------------------------------------------- start

async function start() {
  try {
    setUser(await api.me(), { reconnectChat: false });
  } catch {
    setUser(null, { reconnectChat: false }); // 401 (or server down): treat as guest
  }
  chat.connect();
  loadPosts();
  loadStats();
  setInterval(() => {
    if (!document.hidden) loadStats();
  }, STATS_INTERVAL);
  setInterval(() => refreshTimes(), 30_000);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) {
      loadStats();
      refreshTimes();
    }
  });
}

start();
