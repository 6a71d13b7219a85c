// The seed's three phone-to-phone webhooks as Twilio Functions run them, hosted on Express 4:
// the event is `{...query, ...body}`, the handler answers through `callback(error, result)`, and
// a "protected" function first checks X-Twilio-Signature with the helper library. Written here
// from the seed's documented behaviour, so that callbridge's figures have a Node baseline
// measured on the same machine with the same requests (scripts/load, BASELINE=node).
//
// Settings: PORT, PUBLIC_BASE_URL (the URL the signatures were made for), TWILIO_ACCOUNT_SID,
// TWILIO_AUTH_TOKEN, TWILIO_BASE_URL (the Twilio REST host to use, e.g. the simulator),
// CALLER_ID.
'use strict';

const express = require('express');
const twilio = require('twilio');
const RequestClient = require('twilio/lib/base/RequestClient');

const env = process.env;
const publicBase = env.PUBLIC_BASE_URL.replace(/\/$/, '');
const restBase = (env.TWILIO_BASE_URL || 'https://api.twilio.com').replace(/\/$/, '');

// The helper library always talks to api.twilio.com; the benchmark points it at the simulator.
class RedirectingClient {
  constructor() { this.inner = new RequestClient(); }
  request(opts) {
    return this.inner.request({ ...opts, uri: opts.uri.replace(/^https:\/\/api\.twilio\.com/, restBase) });
  }
}
const client = twilio(env.TWILIO_ACCOUNT_SID, env.TWILIO_AUTH_TOKEN, { httpClient: new RedirectingClient() });
const context = { CALLER_ID: env.CALLER_ID, DOMAIN_NAME: new URL(publicBase).host, getTwilioClient: () => client };

function asFunction(handler, { isProtected }) {
  return (req, res) => {
    if (isProtected) {
      const signature = req.get('X-Twilio-Signature') || '';
      if (!twilio.validateRequest(env.TWILIO_AUTH_TOKEN, signature, publicBase + req.originalUrl, req.body)) {
        res.status(401).send('Unauthorized');
        return;
      }
    }
    const event = { ...req.query, ...req.body };
    handler(context, event, (error, result) => {
      if (error) {
        res.status(500).send(String(error));
      } else if (result instanceof twilio.twiml.VoiceResponse) {
        res.type('text/xml').send(result.toString());
      } else if (result === undefined || result === null) {
        res.status(200).end();
      } else {
        res.json(result);
      }
    });
  };
}

function conference(response, name) {
  response.dial().conference(
    { startConferenceOnEnter: true, endConferenceOnExit: true, beep: false },
    name,
  );
  return response;
}

// conference-twiml.js: the TwiML a leg fetches to join the conference.
function conferenceTwiml(ctx, event, callback) {
  callback(null, conference(new twilio.twiml.VoiceResponse(), event.ConferenceName));
}

// dial-recipient.protected.js: the agent pressed a key; dial the recipient into the conference
// and put the agent there too.
async function dialRecipient(ctx, event, callback) {
  try {
    const twimlUrl = `https://${ctx.DOMAIN_NAME}/phone-to-phone/conference-twiml?ConferenceName=${encodeURIComponent(event.ConferenceName)}`;
    await ctx.getTwilioClient().calls.create({
      to: event.RecipientNumber,
      from: ctx.CALLER_ID,
      url: twimlUrl,
      statusCallback: `https://${ctx.DOMAIN_NAME}/phone-to-phone/status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    });
    callback(null, conference(new twilio.twiml.VoiceResponse(), event.ConferenceName));
  } catch (error) {
    callback(error);
  }
}

// status.protected.js: status callbacks are only looked at, never stored.
function status(ctx, event, callback) {
  callback(null, { received: event.CallStatus || event.StatusCallbackEvent || null });
}

const app = express();
app.disable('x-powered-by');
app.use(express.urlencoded({ extended: false }));
app.use(express.json());
app.get('/healthz', (req, res) => res.send('ok'));
app.all('/phone-to-phone/conference-twiml', asFunction(conferenceTwiml, { isProtected: false }));
app.post('/phone-to-phone/dial-recipient', asFunction(dialRecipient, { isProtected: true }));
app.post('/phone-to-phone/status', asFunction(status, { isProtected: true }));
app.listen(Number(env.PORT), '127.0.0.1', () => console.log(`listening on ${env.PORT}`));
