// Polls the simulator's calls and offers the person at the page what a phone offers.
const phones = document.getElementById('phones');
const ended = document.getElementById('ended');
const nothing = document.getElementById('nothing');
const FINAL = ['completed', 'busy', 'no-answer', 'canceled', 'failed'];
const shown = new Map();

async function act(sid, action, body) {
  const options = { method: 'POST' };
  if (body) {
    options.headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    options.body = new URLSearchParams(body);
  }
  await fetch(`/sim/calls/${sid}/${action}`, options);
  refresh();
}

function button(text, onClick, label) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function phone(call) {
  const item = document.createElement('li');
  item.className = 'phone';
  item.dataset.sid = call.sid;
  item.dataset.number = call.to;
  item.dataset.status = call.status;
  const title = document.createElement('h3');
  title.textContent = `${call.to}`;
  const said = document.createElement('p');
  said.setAttribute('role', 'status');
  said.textContent = call.status === 'ringing'
    ? `Ringing: a call from ${call.from}`
    : call.in_gather ? 'Answered: the caller waits for a key' : `In the call (${call.status})`;
  const actions = document.createElement('div');
  actions.className = 'actions';
  actions.setAttribute('role', 'group');
  actions.setAttribute('aria-label', `Phone ${call.to}`);
  if (call.status === 'ringing') {
    actions.append(
      button('Answer', () => act(call.sid, 'answer')),
      button('Busy', () => act(call.sid, 'decline')),
      button('No answer', () => act(call.sid, 'ignore')),
    );
  } else {
    actions.append(button('Hang up', () => act(call.sid, 'hangup')));
    const keypad = document.createElement('div');
    keypad.className = 'keypad';
    keypad.setAttribute('role', 'group');
    keypad.setAttribute('aria-label', `Keypad of ${call.to}`);
    for (const key of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
      keypad.append(button(key, () => act(call.sid, 'digits', { digits: key }), `Key ${key}`));
    }
    actions.append(keypad);
  }
  item.append(title, said, actions);
  return item;
}

async function refresh() {
  let calls;
  try {
    calls = (await (await fetch('/sim/calls')).json()).calls;
  } catch {
    return;
  }
  const live = calls.filter((c) => c.direction !== 'inbound' && !c.to.startsWith('client:')
    && !FINAL.includes(c.status) && c.status !== 'queued' && c.status !== 'initiated');
  const key = JSON.stringify(live.map((c) => [c.sid, c.status, c.in_gather]));
  if (shown.get('live') !== key) {
    shown.set('live', key);
    phones.replaceChildren(...live.map(phone));
    nothing.hidden = live.length > 0;
  }
  const over = calls.filter((c) => c.direction !== 'inbound' && FINAL.includes(c.status)).slice(-5);
  const endedKey = JSON.stringify(over.map((c) => c.sid));
  if (shown.get('ended') !== endedKey) {
    shown.set('ended', endedKey);
    ended.replaceChildren(...over.map((c) => {
      const li = document.createElement('li');
      li.textContent = `${c.to}: ${c.status}`;
      return li;
    }));
  }
}

refresh();
setInterval(refresh, 500);
