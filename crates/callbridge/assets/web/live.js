// The live call panel: follows one call's event stream and shows its state, its parties (and
// their controls, see control.js), a talk timer and its timeline; Hang up (or Escape) ends it.
// Its words for states and reasons come from the page, so that every page says a call the same
// way.
import { call } from './api.js';
import { showControls } from './control.js';

const app = document.getElementById('app');
const reasons = JSON.parse(app.dataset.reasons || '{}');
const states = JSON.parse(app.dataset.states || '{}');

const el = (id) => document.getElementById(id);
let current = null;

function words(state, reason) {
  const said = states[state] || state;
  return reason ? `${said}: ${reasons[reason] || reason.replaceAll('_', ' ')}` : said;
}

function clock(secs) {
  const s = Math.max(0, Math.floor(secs));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function showState(state, reason) {
  const status = el('call-state');
  status.dataset.callState = state;
  status.textContent = words(state, reason);
  const over = state === 'completed' || state === 'failed';
  el('hangup').disabled = over;
  document.body.dataset.inCall = over ? '' : 'yes';
}

export function showProblem(message) {
  const problem = el('call-problem');
  problem.textContent = message;
  problem.hidden = !message;
}

function showView(view) {
  el('conference').textContent = view.conference.sid
    ? `${view.conference.name} (${view.conference.sid})`
    : view.conference.name;
  const legs = el('legs');
  legs.replaceChildren();
  const names = { agent: 'You', customer: 'Customer', third: 'Third party' };
  for (const party of view.parties) {
    const item = document.createElement('li');
    const also = [party.hold && 'on hold', party.muted && 'muted'].filter(Boolean);
    item.textContent = `${names[party.label]}: ${party.number}, ${party.status}${also.length ? `, ${also.join(', ')}` : ''}`;
    item.dataset.party = party.label;
    item.dataset.role = party.role;
    item.dataset.status = party.status;
    item.dataset.hold = party.hold;
    item.dataset.muted = party.muted;
    legs.append(item);
  }
  if (!view.parties.length) legs.innerHTML = '<li>–</li>';
  showControls(view);
}

function addEvent(event) {
  const item = document.createElement('li');
  const at = new Date(event.at).toLocaleTimeString();
  item.textContent = `${at} ${event.source} ${event.kind}${event.role ? ` (${event.role})` : ''}`;
  el('timeline').append(item);
}

class LiveCall {
  constructor(id, alsoOnHangUp) {
    this.id = id;
    this.alsoOnHangUp = alsoOnHangUp;
    this.connectedAt = null;
    this.tick = setInterval(() => this.showTimer(), 500);
    this.stream = new EventSource(`/calls/${id}/events`);
    this.stream.addEventListener('state', (e) => this.onState(JSON.parse(e.data)));
    this.stream.addEventListener('event', (e) => {
      addEvent(JSON.parse(e.data));
      this.refresh();
    });
    this.stream.addEventListener('error', (e) => {
      if (e.data) showProblem(JSON.parse(e.data).message);
    });
  }

  // Events come in bursts (a hold is our event, then Twilio's): one read of the call after
  // the burst shows them all, and a read under way is followed by at most one more.
  refresh() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.read(), 200);
  }

  async read() {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    const { ok, answer } = await call('GET', `/calls/${this.id}`);
    this.reading = false;
    if (ok) showView(answer.data);
    if (this.again) {
      this.again = false;
      this.read();
    }
  }

  onState(state) {
    showState(state.state, state.reason);
    if (state.state === 'connected' && !this.connectedAt) this.connectedAt = Date.now();
    if (state.final) {
      this.stop();
      if (state.duration_secs != null) el('timer').textContent = clock(state.duration_secs);
      this.read();
    }
  }

  showTimer() {
    if (this.connectedAt) el('timer').textContent = clock((Date.now() - this.connectedAt) / 1000);
  }

  stop() {
    clearInterval(this.tick);
    this.stream.close();
  }

  async hangUp() {
    const { ok, answer } = await call('POST', `/calls/${this.id}/hangup`);
    if (!ok) showProblem(answer.message);
    if (this.alsoOnHangUp) this.alsoOnHangUp();
  }
}

export function follow(view, alsoOnHangUp) {
  if (current) current.stop();
  el('timeline').replaceChildren();
  el('timer').textContent = '0:00';
  showProblem('');
  showView(view);
  showState(view.state, view.reason);
  for (const event of view.events) addEvent(event);
  current = new LiveCall(view.id, alsoOnHangUp);
  return current;
}

el('hangup').addEventListener('click', () => current && current.hangUp());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && current && !el('hangup').disabled) {
    e.preventDefault();
    current.hangUp();
  }
});
