// A real OpenID provider (oidc-provider, certified) on 127.0.0.1 for tokenfob's OAuth 2.0 tests.
// Prints its issuer URL on the first line of stdout, then serves until killed.
// GET /test/counts answers {"token": <successful token requests>, "errors": ..., "revocations": <grants revoked>}.
import http from 'node:http';
import Provider from 'oidc-provider';

const counts = { token: 0, errors: 0, revocations: 0 };
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    { client_id: 'machine', client_secret: 'machine-secret-7d1e', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'api:read' },
    { client_id: 'machine-post', client_secret: 'machine-post-secret-22c9', token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'api:read' },
    {
      client_id: 'device', client_secret: 'device-secret-91b0',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      redirect_uris: [], response_types: [],
    },
    {
      client_id: 'cli', token_endpoint_auth_method: 'none', application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'api:read'],
  rotateRefreshToken: true,
  // Refresh tokens for every client that may use them, without the offline_access consent dance.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, name: `User ${id}` }) }),
  loadExistingGrant: async (ctx) => {
    // Consent is granted on first use, so the interaction is login only; tokenfob's tests still drive it.
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(issuer, 'api:read');
    await grant.save();
    return grant;
  },
  ttl: { AccessToken: 3600, IdToken: 3600, DeviceCode: 600, RefreshToken: 86400, ClientCredentials: 3600 },
});
provider.on('grant.success', () => { counts.token += 1; });
provider.on('grant.error', () => { counts.errors += 1; });
provider.on('grant.revoked', () => { counts.revocations += 1; });
provider.on('server_error', (ctx, err) => { console.error('server_error', err); });

const handle = provider.callback();
server.on('request', (req, res) => {
  if (req.url === '/test/counts') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(counts));
    return;
  }
  handle(req, res);
});
console.log(issuer);
// Only the issuer goes to stdout: the test may stop reading it, and a write to a closed pipe would end the server.
process.stdout.on('error', () => {});
console.log = (...args) => console.error(...args);
