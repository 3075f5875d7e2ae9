// Small DOM helpers: element builder, inline form errors, time formatting.
// User data only ever reaches the DOM through textContent / attributes.

/**
 * Create an element. `props` keys: className, text, testid, or any attribute.
 * Children may be nodes or strings (strings become text nodes).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'className') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'testid') node.dataset.testid = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child);
  }
  return node;
}

/** Show a message in an error box (or hide it when message is empty). */
export function showMessage(box, message, extra = []) {
  box.replaceChildren();
  if (!message && extra.length === 0) {
    box.hidden = true;
    return;
  }
  if (message) box.append(el('span', { text: message }));
  if (extra.length > 0) {
    box.append(el('ul', {}, ...extra.map((line) => el('li', { text: line }))));
  }
  box.hidden = false;
}

export function clearFormErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) {
    p.textContent = '';
    p.hidden = true;
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
  }
  const box = form.querySelector('.form-error');
  if (box) showMessage(box, '');
}

/** First segment of a validation path: "username", "/username", ["body","x"]. */
function fieldName(path) {
  const raw = Array.isArray(path) ? path.join('.') : String(path ?? '');
  const parts = raw
    .replace(/^\$\.?/, '')
    .split(/[./[\]]+/)
    .filter(Boolean);
  return parts[0] ?? '';
}

/**
 * Render an ApiError inside `form`: error.message in the form's .form-error
 * box, each field error under its input (or listed in the box when no input
 * matches). Focuses the first invalid input.
 */
export function showFormError(form, error) {
  clearFormErrors(form);
  const box = form.querySelector('.form-error');
  const unmatched = [];
  let firstInvalid = null;
  for (const field of error.fields ?? []) {
    const name = fieldName(field.path);
    const message = String(field.message ?? 'Invalid value');
    const slot = name && form.querySelector(`.field-error[data-error-for="${CSS.escape(name)}"]`);
    const input = name && form.elements.namedItem(name);
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      slot.hidden = false;
      if (input instanceof HTMLElement) {
        input.setAttribute('aria-invalid', 'true');
        firstInvalid ??= input;
      }
    } else {
      unmatched.push(name ? `${name}: ${message}` : message);
    }
  }
  if (box) showMessage(box, error.message || 'Something went wrong.', unmatched);
  if (firstInvalid) firstInvalid.focus();
}

/** Disable/enable every control of a form while a request is in flight. */
// Inputs become read-only (not disabled) so they keep keyboard focus; focus
// is put back if disabling the submit button dropped it.
const focusBeforeBusy = new WeakMap();
export function setBusy(form, busy) {
  form.setAttribute('aria-busy', String(busy));
  if (busy) focusBeforeBusy.set(form, document.activeElement);
  for (const control of form.querySelectorAll('button, input, textarea')) {
    if (control instanceof HTMLButtonElement) control.disabled = busy;
    else control.readOnly = busy;
  }
  if (!busy) {
    const previous = focusBeforeBusy.get(form);
    focusBeforeBusy.delete(form);
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && previous instanceof HTMLElement && previous.isConnected && !form.hidden) {
      previous.focus();
    }
  }
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const fullFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'short',
});
const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export function relativeTime(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 10) return 'just now';
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86400) return rtf.format(Math.round(seconds / 86400), 'day');
  return fullFormat.format(date);
}

/** <time> showing relative time; refreshed by refreshTimes(). */
export function timeEl(iso, { short = false, testid } = {}) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el('time', { testid, text: '' });
  const node = el('time', { datetime: date.toISOString(), title: fullFormat.format(date), testid });
  if (short) node.textContent = shortTime.format(date);
  else {
    node.dataset.relative = '';
    node.textContent = relativeTime(date);
  }
  return node;
}

export function refreshTimes(root = document) {
  const now = Date.now();
  for (const node of root.querySelectorAll('time[data-relative]')) {
    node.textContent = relativeTime(new Date(node.dateTime), now);
  }
}
