// A stand-in for Twilio's Voice JavaScript SDK 2.x, served by the simulator at /sim/voice-sdk.js.
// It defines the same `Twilio.Device` and `Twilio.Call` (a subset of their API, with the same
// names, states, events and error codes), but talks to the simulator that served it, through its
// device routes and a Server-Sent Events stream, instead of to Twilio's signaling gateway.
// There is no audio: calls are signaling only, and `mute` is local as in the real SDK.
(function () {
  'use strict';

  if (!document.currentScript || !document.currentScript.src) {
    throw new Error('voice-sdk.js must be loaded by a <script src> tag from the simulator');
  }
  // Every request goes to the simulator that served this script, whatever the page's origin.
  const SIM = new URL('./', document.currentScript.src);

  // ---- errors ----

  class TwilioError extends Error {
    constructor(message, originalError) {
      super();
      this.message = `${this.name} (${this.code}): ${message || this.explanation}`;
      this.originalError = originalError;
    }
  }

  class InvalidArgumentError extends Error {
    constructor(message) {
      super(message);
      this.name = 'InvalidArgumentError';
    }
  }

  class InvalidStateError extends Error {
    constructor(message) {
      super(message);
      this.name = 'InvalidStateError';
    }
  }

  // [namespace, name, code, description], as the real SDK defines them.
  const KNOWN_ERRORS = [
    ['AuthorizationErrors', 'AccessTokenInvalid', 20101, 'Invalid access token'],
    ['AuthorizationErrors', 'AccessTokenExpired', 20104, 'Access token expired or expiration date invalid'],
    ['AuthorizationErrors', 'AuthenticationFailed', 20151, 'Authentication Failed'],
    ['AuthorizationErrors', 'InvalidJWTTokenError', 31204, 'Invalid JWT token'],
    ['AuthorizationErrors', 'JWTTokenExpiredError', 31205, 'JWT token expired'],
    ['GeneralErrors', 'UnknownError', 31000, 'Unknown Error'],
    ['GeneralErrors', 'ApplicationNotFoundError', 31001, 'Application Not Found'],
    ['GeneralErrors', 'ConnectionDeclinedError', 31002, 'Connection Declined'],
    ['GeneralErrors', 'ConnectionError', 31005, 'Connection error'],
    ['GeneralErrors', 'TransportError', 31009, 'Transport error'],
  ];
  // The signaling codes the real SDK reports as they are only with
  // `enableImprovedSignalingErrorPrecision` (it reports UnknownError otherwise).
  const PRECISE_ONLY = new Set([31001, 31002, 31003, 31201, 31202, 31203, 31204, 31205, 31207]);

  const errors = { TwilioError, InvalidArgumentError, InvalidStateError };
  const errorsByCode = new Map();
  for (const [namespace, name, code, description] of KNOWN_ERRORS) {
    const ErrorClass = class extends TwilioError {};
    Object.defineProperty(ErrorClass, 'name', { value: name });
    Object.assign(ErrorClass.prototype, {
      name, code, description, explanation: description, causes: [], solutions: [],
    });
    errors[namespace] = errors[namespace] || {};
    errors[namespace][name] = ErrorClass;
    errorsByCode.set(code, ErrorClass);
  }

  // What the real SDK turns a signaling error into.
  function signalingError(code, message, precise) {
    const original = { code, message };
    const byCode = {
      31201: errors.AuthorizationErrors.AuthenticationFailed,
      31204: errors.AuthorizationErrors.AccessTokenInvalid,
      31205: errors.AuthorizationErrors.AccessTokenExpired,
    };
    let ErrorClass = byCode[code];
    if (!ErrorClass && errorsByCode.has(code) && (precise || !PRECISE_ONLY.has(code))) {
      ErrorClass = errorsByCode.get(code);
    }
    return new (ErrorClass || errors.GeneralErrors.UnknownError)(message, original);
  }

  // ---- the simulator's device routes ----

  // The simulator answers errors as {error, code}, code being the signaling's.
  async function request(method, path, token, body, precise) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(new URL(path, SIM), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new errors.GeneralErrors.TransportError(`The simulator is unreachable: ${e.message}`);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw signalingError(data.code, data.error, precise);
    return data;
  }

  // ---- events ----

  class EventEmitter {
    constructor() {
      this._listeners = new Map();
    }

    on(name, listener) {
      if (!this._listeners.has(name)) this._listeners.set(name, []);
      this._listeners.get(name).push({ listener, once: false });
      return this;
    }

    once(name, listener) {
      this.on(name, listener);
      const all = this._listeners.get(name);
      all[all.length - 1].once = true;
      return this;
    }

    off(name, listener) {
      const all = (this._listeners.get(name) || []).filter((l) => l.listener !== listener);
      this._listeners.set(name, all);
      return this;
    }

    removeAllListeners(name) {
      if (name === undefined) this._listeners.clear();
      else this._listeners.delete(name);
      return this;
    }

    listenerCount(name) {
      return (this._listeners.get(name) || []).length;
    }

    emit(name, ...args) {
      const all = this._listeners.get(name) || [];
      this._listeners.set(name, all.filter((l) => !l.once));
      for (const { listener } of all) listener.apply(this, args);
      return all.length > 0;
    }
  }
  EventEmitter.prototype.addListener = EventEmitter.prototype.on;
  EventEmitter.prototype.removeListener = EventEmitter.prototype.off;

  // ---- Call ----

  class Call extends EventEmitter {
    constructor(device, direction, parameters, customParameters) {
      super();
      this._device = device;
      this._direction = direction;
      this._status = Call.State.Pending;
      this._muted = false;
      this.parameters = parameters;
      this.customParameters = new Map(
        Object.entries(customParameters).map(([k, v]) => [k, String(v)]));
    }

    get direction() {
      return this._direction;
    }

    status() {
      return this._status;
    }

    isMuted() {
      return this._muted;
    }

    accept() {
      if (this._status !== Call.State.Pending) return;
      this._status = Call.State.Connecting;
      this._device._activeCall = this;
      // Another device may have answered first: then the simulator's `canceled` closes the call,
      // and its refusal of this accept is no news.
      this._act('accept').then(() => {
        if (this._status !== Call.State.Connecting) return;
        this._status = Call.State.Open;
        this.emit('accept', this);
      }, (error) => {
        if (this._status === Call.State.Connecting) this._fail(error);
      });
    }

    reject() {
      if (this._status !== Call.State.Pending) return;
      this._close();
      this._act('reject').catch((error) => this.emit('error', error));
      this.emit('reject');
    }

    // Stops ringing here only: Twilio is not told, so the call rings on elsewhere.
    ignore() {
      if (this._status !== Call.State.Pending) return;
      this._close();
    }

    disconnect() {
      const live = [Call.State.Connecting, Call.State.Ringing, Call.State.Open];
      if (!live.includes(this._status)) return;
      if (this.parameters.CallSid) this._act('hangup').catch(() => {});
      this._ended();
    }

    mute(shouldMute = true) {
      const was = this._muted;
      this._muted = !!shouldMute;
      if (was !== this._muted) this.emit('mute', this._muted, this);
    }

    sendDigits(digits) {
      if (/[^0-9*#w]/.test(digits)) {
        throw new InvalidArgumentError('Illegal character passed into sendDigits');
      }
      // `w` is a pause between tones; the simulator takes the tones at once.
      const tones = digits.replace(/w/g, '');
      if (!tones) return;
      this._act('digits', { digits: tones }).catch((error) => {
        this.emit('error', new errors.GeneralErrors.ConnectionError(
          `Could not send DTMF: ${error.message}`, error));
      });
    }

    _act(action, body) {
      const device = this._device;
      return device._request('POST', `devices/${device._id}/calls/${this.parameters.CallSid}/${action}`,
        body || {});
    }

    _close() {
      this._status = Call.State.Closed;
      this._device._forget(this);
    }

    _ended() {
      this._close();
      this.emit('disconnect', this);
    }

    _fail(error) {
      this._close();
      this.emit('error', error);
      this._device.emit('error', error, this);
    }

    // Outgoing: the simulator places the call to the token's TwiML App.
    async _place(params) {
      let placed;
      try {
        placed = await this._device._request('POST', `devices/${this._device._id}/connect`, { params });
      } catch (error) {
        this._fail(error);
        return;
      }
      this.parameters = { CallSid: placed.call_sid };
      if (this._status !== Call.State.Connecting) {
        this._act('hangup').catch(() => {});
        return;
      }
      this._status = Call.State.Ringing;
      this.emit('ringing', false);
      this._status = Call.State.Open;
      this.emit('accept', this);
      if (this._device._endedEarly.delete(placed.call_sid)) this._ended();
    }

    // The simulator's word on this call.
    _onSignal(message) {
      const answering = [Call.State.Pending, Call.State.Connecting];
      if (message.event === 'canceled' && answering.includes(this._status)) {
        this._close();
        this.emit('cancel');
      } else if (message.event === 'ended' && this._status !== Call.State.Closed) {
        this._ended();
      }
    }

    toString() {
      return '[Twilio.Call instance]';
    }
  }

  Call.State = Object.freeze({
    Closed: 'closed',
    Connecting: 'connecting',
    Open: 'open',
    Pending: 'pending',
    Reconnecting: 'reconnecting',
    Ringing: 'ringing',
  });
  Call.CallDirection = Object.freeze({ Incoming: 'INCOMING', Outgoing: 'OUTGOING' });

  // ---- Device ----

  class Device extends EventEmitter {
    constructor(token, options = {}) {
      super();
      if (typeof token !== 'string') {
        throw new InvalidArgumentError('Parameter "token" must be of type "string".');
      }
      this._token = token;
      // The token the simulator knows the device by, which its requests must show.
      this._simToken = token;
      this._options = { tokenRefreshMs: 10000, ...options };
      this._state = Device.State.Unregistered;
      this._identity = null;
      this._id = null;
      this._stream = null;
      this._connected = null;
      this._calls = [];
      this._activeCall = null;
      this._willExpire = null;
      // Outgoing calls the simulator ended before their connect request was answered.
      this._endedEarly = new Set();
    }

    get state() { return this._state; }
    get token() { return this._token; }
    get identity() { return this._identity; }
    get calls() { return this._calls; }
    get isBusy() { return !!this._activeCall; }
    get edge() { return null; }
    get home() { return null; }

    async register() {
      if (this._state !== Device.State.Unregistered) {
        throw new InvalidStateError(`Attempt to register when device is in state "${this._state}". `
          + `Must be "${Device.State.Unregistered}".`);
      }
      this._setState(Device.State.Registering);
      try {
        await this._signaling();
        await this._request('POST', `devices/${this._id}/registration`);
      } catch (error) {
        this.emit('error', error);
        this._setState(Device.State.Unregistered);
        throw error;
      }
      this._setState(Device.State.Registered);
    }

    async unregister() {
      if (this._state !== Device.State.Registered) {
        throw new InvalidStateError(`Attempt to unregister when device is in state "${this._state}". `
          + `Must be "${Device.State.Registered}".`);
      }
      await this._request('DELETE', `devices/${this._id}/registration`);
      this._setState(Device.State.Unregistered);
    }

    async connect(options = {}) {
      if (this._state === Device.State.Destroyed) {
        throw new InvalidStateError('Attempt to "connect" when device is in state "destroyed".');
      }
      if (this._activeCall) throw new InvalidStateError('A Call is already active');
      try {
        await this._signaling();
      } catch (error) {
        this.emit('error', error);
        throw error;
      }
      const params = options.params || {};
      const call = new Call(this, Call.CallDirection.Outgoing, {}, params);
      this._activeCall = call;
      this._calls.splice(0).forEach((incoming) => incoming.ignore());
      call._status = Call.State.Connecting;
      call._place(params);
      return call;
    }

    updateToken(token) {
      if (this._state === Device.State.Destroyed) {
        throw new InvalidStateError('Attempt to "updateToken" when device is in state "destroyed".');
      }
      if (typeof token !== 'string') {
        throw new InvalidArgumentError('Parameter "token" must be of type "string".');
      }
      this._token = token;
      if (!this._id) {
        this._simToken = token;
        return;
      }
      this._request('PUT', `devices/${this._id}/token`, { token }).then((answer) => {
        this._simToken = token;
        this._armTokenWillExpire(answer.ttl);
      }, (error) => this.emit('error', error));
    }

    disconnectAll() {
      this._calls.splice(0).forEach((call) => call.disconnect());
      if (this._activeCall) this._activeCall.disconnect();
    }

    destroy() {
      this._calls.slice().forEach((call) => call.reject());
      this.disconnectAll();
      clearTimeout(this._willExpire);
      if (this._stream) this._stream.close();
      if (this._id) this._request('DELETE', `devices/${this._id}`).catch(() => {});
      this._setState(Device.State.Destroyed);
      this.removeAllListeners();
    }

    toString() {
      return '[Twilio.Device instance]';
    }

    _setState(state) {
      if (this._state === state) return;
      this._state = state;
      this.emit(state);
    }

    _request(method, path, body) {
      return request(method, path, this._simToken, body,
        !!this._options.enableImprovedSignalingErrorPrecision);
    }

    // The device on the simulator and its event stream, set up once for registering and calling.
    _signaling() {
      if (!this._connected) {
        this._connected = this._openSignaling().catch((error) => {
          this._connected = null;
          throw error;
        });
      }
      return this._connected;
    }

    async _openSignaling() {
      const created = await request('POST', 'devices', null, { token: this._token, register: false },
        !!this._options.enableImprovedSignalingErrorPrecision);
      this._id = created.id;
      this._identity = created.identity;
      this._simToken = this._token;
      await new Promise((resolve, reject) => this._openStream(resolve, reject));
    }

    _openStream(resolve, reject) {
      const url = new URL(`devices/${this._id}/events`, SIM);
      url.searchParams.set('token', this._simToken);
      const stream = new EventSource(url);
      this._stream = stream;
      let opened = false;
      stream.onmessage = (m) => {
        const message = JSON.parse(m.data);
        if (message.event === 'connected' && !opened) {
          opened = true;
          resolve();
        }
        this._onSignal(message);
      };
      stream.onerror = () => {
        if (stream.readyState !== EventSource.CLOSED) return;
        if (!opened) {
          reject(new errors.GeneralErrors.TransportError('The simulator refused the event stream'));
        } else if (this._state !== Device.State.Destroyed) {
          // Refused on reconnecting, e.g. for a token since updated: open it again with the new one.
          setTimeout(() => this._openStream(() => {}, () => {}), 1000);
        }
      };
    }

    _armTokenWillExpire(ttlSeconds) {
      clearTimeout(this._willExpire);
      if (typeof ttlSeconds !== 'number' || typeof this._options.tokenRefreshMs !== 'number') return;
      const ms = Math.max(0, ttlSeconds * 1000 - this._options.tokenRefreshMs);
      this._willExpire = setTimeout(() => this.emit('tokenWillExpire', this), ms);
    }

    _onSignal(message) {
      const precise = !!this._options.enableImprovedSignalingErrorPrecision;
      const call = this._calls.concat(this._activeCall || [])
        .find((c) => c.parameters.CallSid && c.parameters.CallSid === message.call_sid);
      switch (message.event) {
        case 'connected':
          this._identity = message.identity;
          this._armTokenWillExpire(message.ttl);
          break;
        case 'incoming':
          this._onIncoming(message);
          break;
        case 'unregistered':
        case 'error':
          if (message.code) {
            this.emit('error', signalingError(message.code, undefined, precise), call);
          }
          if (message.event === 'unregistered' && this._state === Device.State.Registered) {
            this._setState(Device.State.Unregistered);
          }
          break;
        case 'ended':
          if (!call && message.call_sid) this._endedEarly.add(message.call_sid);
          if (call) call._onSignal(message);
          break;
        default:
          if (call) call._onSignal(message);
      }
    }

    _onIncoming(message) {
      if (this._activeCall && !this._options.allowIncomingWhileBusy) return;
      const parameters = {
        AccountSid: message.account_sid,
        CallSid: message.call_sid,
        From: message.from,
        To: message.to,
      };
      const call = new Call(this, Call.CallDirection.Incoming, parameters, message.params || {});
      this._calls.push(call);
      this.emit('incoming', call);
    }

    _forget(call) {
      this._calls = this._calls.filter((c) => c !== call);
      if (this._activeCall === call) this._activeCall = null;
    }
  }

  Device.State = Object.freeze({
    Destroyed: 'destroyed',
    Unregistered: 'unregistered',
    Registering: 'registering',
    Registered: 'registered',
  });
  Device.EventName = Object.freeze({
    Error: 'error',
    Incoming: 'incoming',
    Destroyed: 'destroyed',
    Unregistered: 'unregistered',
    Registering: 'registering',
    Registered: 'registered',
    TokenWillExpire: 'tokenWillExpire',
  });
  Device.isSupported = true;
  Device.version = '2.0.0-twilio-sim';

  const Twilio = (typeof window.Twilio === 'object' && window.Twilio) || {};
  Object.assign(Twilio, { Device, Call, TwilioError: errors });
  window.Twilio = Twilio;
}());
