// Call control in the live panel: hold the customer, mute yourself, transfer (warm or cold, to
// a number or a colleague), add a third party or remove them. Each button asks the API, and
// what it shows comes from the call as its stream last told it, so it says what Twilio did.
import { call } from './api.js';

const el = (id) => document.getElementById(id);
let view = null;

function party(label) {
  return view ? view.parties.find((p) => p.label === label) : undefined;
}

const onLine = (p) => p && p.status === 'in-progress';

// Where the call's control stands, from its control events (as the service reads them).
function situation() {
  let transfer = false;
  let third = false;
  let handedOver = false;
  for (const event of view ? view.events : []) {
    if (event.source !== 'control') continue;
    if (event.kind === 'transfer-started') { transfer = true; third = true; }
    if (event.kind === 'party-added') third = true;
    if (event.kind === 'transfer-completed') { transfer = false; handedOver = true; }
    if (event.kind === 'transfer-canceled' || event.kind === 'transfer-failed') transfer = false;
    if (event.kind === 'party-left') { transfer = false; third = false; }
  }
  return { transfer, third, handedOver };
}

function note(text) {
  el('control-note').textContent = text;
}

async function ask(path, body, done) {
  if (!view) return;
  const { ok, answer } = await call('POST', `/calls/${view.id}${path}`, body);
  note(ok ? done : answer.message);
}

export function showControls(current) {
  view = current;
  const live = view && view.state === 'connected';
  const now = situation();
  const customer = party('customer');
  const me = party('agent');
  const third = party('third');
  const present = live && !now.handedOver;
  const holdButton = el('hold-customer');
  holdButton.disabled = !(present && onLine(customer) && !now.transfer);
  holdButton.setAttribute('aria-pressed', String(Boolean(customer && customer.hold)));
  const muteButton = el('mute-me');
  muteButton.disabled = !(present && onLine(me));
  muteButton.setAttribute('aria-pressed', String(Boolean(me && me.muted)));
  const free = present && !now.transfer && !now.third;
  el('transfer-start').disabled = !free;
  el('add-start').disabled = !free;
  // A warm transfer's target talks with an agent who is not on hold.
  el('transfer-complete').hidden = !(live && now.transfer && onLine(third) && me && !me.hold);
  el('transfer-cancel').hidden = !(live && now.transfer);
  el('remove-third').hidden = !(live && now.third && !now.transfer && !now.handedOver);
}

el('hold-customer').addEventListener('click', () => {
  const held = el('hold-customer').getAttribute('aria-pressed') === 'true';
  ask('/hold', { party: 'customer', hold: !held }, held ? 'Taking the customer off hold…' : 'Putting the customer on hold…');
});

el('mute-me').addEventListener('click', () => {
  const muted = el('mute-me').getAttribute('aria-pressed') === 'true';
  ask('/mute', { party: 'agent', muted: !muted }, muted ? 'Unmuting you…' : 'Muting you…');
});

el('transfer').addEventListener('submit', (e) => {
  e.preventDefault();
  const to = el('transfer-to').value.trim();
  if (!to) {
    note('Enter a number or an agent’s email to transfer to.');
    el('transfer-to').focus();
    return;
  }
  const mode = el('transfer').elements['transfer-mode'].value;
  ask('/transfer', { to, mode }, `Transferring to ${to}…`);
});

el('transfer-complete').addEventListener('click', () => ask('/transfer/complete', {}, 'Handing the call over…'));
el('transfer-cancel').addEventListener('click', () => ask('/transfer/cancel', {}, 'Canceling the transfer…'));

el('add-party').addEventListener('submit', (e) => {
  e.preventDefault();
  const to = el('add-to').value.trim();
  if (!to) {
    note('Enter the number to add.');
    el('add-to').focus();
    return;
  }
  ask('/participants', { to }, `Adding ${to}…`);
});

el('remove-third').addEventListener('click', async () => {
  if (!view) return;
  const { ok, answer } = await call('DELETE', `/calls/${view.id}/participants/third`);
  note(ok ? 'Removing them…' : answer.message);
});
