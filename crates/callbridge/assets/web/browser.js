// Talking from the browser: the Voice SDK calls out through the TwiML App, callbridge answers
// it at /browser/voice, and the page finds the call that made to follow it like any other.
import { call as api } from './api.js';

const app = document.getElementById('app');
let sdk = null;
let device = null;

function loadSdk() {
  if (sdk) return sdk;
  sdk = new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = app.dataset.voiceSdk;
    script.onload = () => resolve(window.Twilio);
    script.onerror = () => reject(new Error('The Voice SDK did not load.'));
    document.head.append(script);
  });
  return sdk;
}

async function microphone() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const track of stream.getTracks()) track.stop();
  } catch (error) {
    if (error.name === 'NotAllowedError' || error.name === 'SecurityError') {
      throw new Error('Your browser refused the microphone: allow it for this site, then call again.');
    }
    if (error.name === 'NotFoundError') {
      throw new Error('No microphone was found: plug one in, or talk from your phone.');
    }
    throw error;
  }
  const choice = document.getElementById('microphone');
  if (!choice) return;
  const inputs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audioinput');
  choice.replaceChildren(...inputs.map((d, i) => new Option(d.label || `Microphone ${i + 1}`, d.deviceId)));
  choice.disabled = inputs.length < 2;
}

async function ready() {
  const Twilio = await loadSdk();
  const { ok, answer } = await api('GET', '/browser/token');
  if (!ok) throw new Error(answer.message);
  const options = answer.data.edge ? { edge: answer.data.edge } : {};
  if (device) device.updateToken(answer.data.token);
  else device = new Twilio.Device(answer.data.token, options);
  return device;
}

// The call the browser's leg belongs to, once callbridge has stored it.
async function findCall(callSid) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const { ok, answer } = await api('GET', '/calls?limit=5');
    if (ok) {
      const found = answer.data.calls.find((c) => c.legs.some((l) => l.call_sid === callSid));
      if (found) return found;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('callbridge did not take the browser\'s call.');
}

// Starts a call from the browser; resolves with the call's view and the SDK's call.
export async function callFromBrowser(to, record, onEnded) {
  await microphone();
  const dev = await ready();
  const sdkCall = await dev.connect({ params: { To: to, Record: record ? 'true' : 'false' } });
  const accepted = new Promise((resolve, reject) => {
    sdkCall.on('accept', () => resolve());
    sdkCall.on('error', (e) => reject(new Error(e.message || 'The browser\'s call failed.')));
    sdkCall.on('disconnect', () => onEnded());
  });
  await accepted;
  const view = await findCall(sdkCall.parameters.CallSid);
  return { view, sdkCall };
}

// Joins a campaign session from the browser: `connect` is what callbridge's join answered,
// whose call the App's Voice URL puts in the session's conference. Resolves once the call is
// up; `onEnded` runs when it is over.
export async function joinSession(connect, onEnded) {
  await microphone();
  const dev = await ready();
  const sdkCall = await dev.connect(connect);
  await new Promise((resolve, reject) => {
    sdkCall.on('accept', () => resolve());
    sdkCall.on('error', (e) => reject(new Error(e.message || 'The browser\'s call failed.')));
    sdkCall.on('disconnect', () => onEnded());
  });
  return sdkCall;
}

export function setupControls(sdkCall) {
  const panel = document.getElementById('browser-controls');
  panel.hidden = !sdkCall;
  if (!sdkCall) return;
  const mute = document.getElementById('mute');
  mute.setAttribute('aria-pressed', 'false');
  mute.onclick = () => {
    const muted = !sdkCall.isMuted();
    sdkCall.mute(muted);
    mute.setAttribute('aria-pressed', String(muted));
    mute.textContent = muted ? 'Unmute' : 'Mute';
  };
  for (const key of panel.querySelectorAll('[data-digit]')) {
    key.onclick = () => sdkCall.sendDigits(key.dataset.digit);
  }
  const choice = document.getElementById('microphone');
  choice.onchange = () => {
    if (device && device.audio && device.audio.setInputDevice) device.audio.setInputDevice(choice.value);
  };
}
