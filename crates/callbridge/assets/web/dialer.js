// The dialer: reads the number as people type it, says at once whether it can be called, and
// starts the call; the live panel follows it.
import { call } from './api.js';
import { callFromBrowser, setupControls } from './browser.js';
import { follow, showProblem } from './live.js';

const form = document.getElementById('dialer');
const number = document.getElementById('number');
const note = document.getElementById('number-note');
const button = document.getElementById('call');
let checked = { raw: '', e164: null, callable: false, problem: null };
let pending = null;

async function check(raw) {
  if (!raw.trim()) {
    checked = { raw, e164: null, callable: false, problem: null };
    note.textContent = '';
    number.removeAttribute('aria-invalid');
    return checked;
  }
  const { ok, answer } = await call('GET', `/app/number?raw=${encodeURIComponent(raw)}`);
  if (!ok) {
    note.textContent = answer.message;
    return checked;
  }
  checked = { raw, ...answer.data };
  if (checked.callable) {
    note.textContent = `Calls ${checked.e164}`;
    number.removeAttribute('aria-invalid');
  } else {
    note.textContent = checked.problem;
    number.setAttribute('aria-invalid', 'true');
  }
  return checked;
}

number.addEventListener('input', () => {
  clearTimeout(pending);
  const raw = number.value;
  pending = setTimeout(() => check(raw), 250);
});

for (const recent of document.querySelectorAll('[data-number]')) {
  recent.addEventListener('click', () => {
    number.value = recent.dataset.number;
    check(number.value);
    number.focus();
  });
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const result = checked.raw === number.value ? checked : await check(number.value);
  if (!result.callable) {
    number.focus();
    return;
  }
  const mode = form.elements.mode.value;
  const record = document.getElementById('record').checked;
  showProblem('');
  if (mode === 'browser') {
    button.disabled = true;
    let live = null;
    try {
      const { view, sdkCall } = await callFromBrowser(result.e164, record, () => setupControls(null));
      live = follow(view, () => sdkCall.disconnect());
      setupControls(sdkCall);
      document.getElementById('hangup').focus();
    } catch (error) {
      showProblem(error.message);
    } finally {
      button.disabled = false;
    }
    return live;
  }
  button.disabled = true;
  try {
    const { ok, answer } = await call('POST', '/call/start', { to: result.e164, record });
    if (ok) {
      setupControls(null);
      follow(answer.data);
      document.getElementById('hangup').focus();
    } else {
      showProblem(answer.message);
    }
  } finally {
    button.disabled = false;
  }
});
