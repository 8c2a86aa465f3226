// Acts as the user in the provider's own interaction pages, over HTTP: follows redirects, keeps cookies, and
// submits each page's form (filling login and password on the login page), until the flow leaves the provider
// (the client's loopback redirect, which it then visits) or ends on a page without a form.
// Usage: node act-as-user.js URL [login]   (exit 0 when the flow completed)
const [url, login = 'alice'] = process.argv.slice(2);
const issuerOrigin = new URL(url).origin;
const jar = new Map();

function remember(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1));
  }
}

function cookieHeader() {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

function parseForm(html, base) {
  const form = html.match(/<form[^>]*>/i);
  if (!form) return null;
  const attr = (tag, name) => (tag.match(new RegExp(`${name}="([^"]*)"`, 'i')) || [])[1];
  const action = new URL(attr(form[0], 'action') || base, base).toString();
  const method = (attr(form[0], 'method') || 'get').toUpperCase();
  const fields = new URLSearchParams();
  for (const input of html.matchAll(/<input[^>]*>/gi)) {
    const name = attr(input[0], 'name');
    if (!name) continue;
    let value = attr(input[0], 'value') || '';
    if (name === 'login') value = login;
    if (name === 'password') value = 'any-password';
    fields.append(name, value);
  }
  return { action, method, fields };
}

let next = { url, method: 'GET', body: undefined };
for (let step = 0; step < 30; step += 1) {
  if (new URL(next.url).origin !== issuerOrigin) {
    const done = await fetch(next.url);
    console.log(`callback ${done.status}`);
    process.exit(done.ok ? 0 : 1);
  }
  const response = await fetch(next.url, {
    method: next.method,
    body: next.body,
    redirect: 'manual',
    headers: { cookie: cookieHeader(), ...(next.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
  });
  remember(response);
  if (response.status >= 300 && response.status < 400) {
    next = { url: new URL(response.headers.get('location'), next.url).toString(), method: 'GET' };
    continue;
  }
  const html = await response.text();
  const form = parseForm(html, next.url);
  if (!form) {
    const title = (html.match(/<title>([^<]*)<\/title>/i) || [])[1] || '';
    console.log(`done ${response.status} ${title}`);
    process.exit(response.ok ? 0 : 1);
  }
  next = form.method === 'POST'
    ? { url: form.action, method: 'POST', body: form.fields.toString() }
    : { url: `${form.action}?${form.fields}`, method: 'GET' };
}
console.error('too many steps');
process.exit(1);
