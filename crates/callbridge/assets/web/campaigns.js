// Campaigns: start one from a view, pause, resume or cancel it, and watch its progress.
import { call } from './api.js';

const app = document.getElementById('app');
const problem = document.getElementById('campaign-problem');

function say(message) {
  problem.textContent = message;
  problem.hidden = !message;
}

document.getElementById('new-campaign').addEventListener('submit', async (e) => {
  e.preventDefault();
  const view = document.getElementById('campaign-view').value.trim();
  const { ok, answer } = await call('POST', '/airtable/campaigns', { view, agent: app.dataset.agent });
  if (ok) window.location.reload();
  else say(answer.message);
});

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
    const done = ['completed', 'failed', 'canceled'].reduce((n, k) => n + (c.counts[k] || 0), 0);
    row.querySelector('progress').value = done;
    row.querySelector('.campaign-done').textContent = `${done} of ${c.total}`;
    row.querySelector('.campaign-status').textContent = c.status;
    if (c.status !== 'running') window.location.reload();
  }
}
setInterval(refresh, 2000);
