// Campaigns: start one from a view, pause, resume or cancel it, and watch its progress.
import { call } from './api.js';
import { joinSession } from './browser.js';

const app = document.getElementById('app');
const problem = document.getElementById('campaign-problem');

function say(message) {
  problem.textContent = message;
  problem.hidden = !message;
}

document.getElementById('new-campaign').addEventListener('submit', async (e) => {
  e.preventDefault();
  const view = document.getElementById('campaign-view').value.trim();
  const body = { view, agent: app.dataset.agent };
  if (document.getElementById('campaign-session').checked) {
    body.mode = 'session';
    body.dispositions = document.getElementById('campaign-outcomes').value
      .split(',').map((d) => d.trim()).filter((d) => d);
    const message = document.getElementById('campaign-voicemail').value.trim();
    if (message) body.voicemail = { say: message };
  }
  const { ok, answer } = await call('POST', '/airtable/campaigns', body);
  if (ok) window.location.reload();
  else say(answer.message);
});

// The session panel: what the agent's session is doing, and the wrap-up form when a call
// waits for its outcome.
const WORDS = {
  joining: 'Joining the session',
  ready: 'Ready: the next record is dialled for you',
  ringing: 'Dialling a customer',
  talking: 'On a call',
  wrap_up: 'Wrap up: pick how the call went',
  paused: 'Paused',
  left: 'Not in the session',
};

function show(panel, session) {
  const state = session ? session.state : 'left';
  panel.querySelector('.session-state').textContent = WORDS[state] || state;
  panel.querySelector('.session-record').textContent = session && session.current ? `Record ${session.current}` : '';
  const present = state !== 'left';
  const visible = { join: !present, 'pause-session': state === 'ready', 'resume-session': state === 'paused', leave: present };
  for (const button of panel.querySelectorAll('[data-session-action]')) {
    button.hidden = !visible[button.dataset.sessionAction];
  }
  const form = panel.querySelector('.wrap-up');
  const wrapping = state === 'wrap_up';
  if (wrapping && form.hidden) {
    form.reset();
    form.hidden = false;
    form.querySelector('input[name="outcome"]').focus();
  } else if (!wrapping) {
    form.hidden = true;
  }
}

function tally(dialer) {
  const c = dialer.counts;
  const rate = (dialer.abandon_rate * 100).toFixed(1);
  const talk = Math.round(dialer.talk_secs / 60);
  return `Dialled ${c.dialled} · people ${c.human} · voicemail ${c.voicemail} · no answer ${c.no_answer}`
    + ` · busy ${c.busy} · abandoned ${c.abandoned} (${rate} %) · ${talk} min talked`
    + (dialer.pace === 'slowed' ? ' · dialling slowed' : '');
}

async function refreshSession(panel) {
  const { ok, answer } = await call('GET', `/airtable/campaigns/${panel.dataset.sessionCampaign}`);
  if (!ok || !answer.data.dialer) return;
  panel.querySelector('.session-counts').textContent = tally(answer.data.dialer);
  const mine = answer.data.dialer.sessions.filter((s) => s.agent === app.dataset.agent && s.state !== 'left');
  show(panel, mine[0]);
}

for (const panel of document.querySelectorAll('[data-session-campaign]')) {
  for (const button of panel.querySelectorAll('[data-session-action]')) {
    button.addEventListener('click', async () => {
      const path = `/airtable/campaigns/${button.dataset.campaign}/${button.dataset.sessionAction}`;
      const body = button.dataset.sessionAction === 'join' ? { mode: button.dataset.mode } : {};
      const { ok, answer } = await call('POST', path, body);
      if (!ok) say(answer.message);
      else say('');
      if (ok && answer.data.connect) {
        try {
          await joinSession(answer.data.connect, () => refreshSession(panel));
        } catch (error) {
          say(error.message);
        }
      }
      await refreshSession(panel);
    });
  }
  panel.querySelector('.wrap-up').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    const chosen = form.querySelector('input[name="outcome"]:checked');
    const notes = form.querySelector('textarea').value;
    const { ok, answer } = await call('POST', `/airtable/campaigns/${form.dataset.campaign}/wrap-up`,
      { outcome: chosen ? chosen.value : '', notes });
    if (!ok) say(answer.message);
    else {
      say('');
      form.hidden = true;
    }
    await refreshSession(panel);
  });
  refreshSession(panel);
  // Sessions have no event stream of their own: the panel reads its session every second.
  setInterval(() => refreshSession(panel), 1000);
}

for (const button of document.querySelectorAll('[data-action]')) {
  button.addEventListener('click', async () => {
    const { ok, answer } = await call('POST', `/airtable/campaigns/${button.dataset.campaign}/${button.dataset.action}`);
    if (ok) window.location.reload();
    else say(answer.message);
  });
}

// Progress has no event stream of its own: running campaigns are read again every 2 s.
async function refresh() {
  for (const row of document.querySelectorAll('tr[data-status="running"]')) {
    const { ok, answer } = await call('GET', `/airtable/campaigns/${row.dataset.campaign}`);
    if (!ok) continue;
    const c = answer.data;
    const counts = c.dialer ? c.dialer.counts : c.counts;
    const finished = c.dialer
      ? ['human', 'voicemail', 'abandoned', 'no_answer', 'busy', 'failed', 'hung_up', 'fax', 'unknown', 'invalid', 'dnc', 'out_of_hours', 'refused']
      : ['completed', 'failed', 'canceled'];
    const done = finished.reduce((n, k) => n + (counts[k] || 0), 0);
    row.querySelector('progress').value = done;
    row.querySelector('.campaign-done').textContent = `${done} of ${c.total}`;
    row.querySelector('.campaign-status').textContent = c.status;
    if (c.status !== 'running') window.location.reload();
  }
}
setInterval(refresh, 2000);
