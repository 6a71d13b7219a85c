// The JSON API as the pages call it: the session cookie authenticates, and every change sends
// the page's CSRF token, which only our own pages can read.
const app = document.getElementById('app');
const csrf = app ? app.dataset.csrf : '';

export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = { status: 'error', message: `callbridge answered ${response.status}` };
  }
  return { status: response.status, ok: response.ok, answer };
}
