// A real OpenID provider for tests/test_oidc.py: panva's oidc-provider (OpenID Certified),
// its development login page (any login, any password: the login is the account id).
// Usage: node provider.mjs PORT CONFIG.json
//   CONFIG: {"clients": [{client_id, client_secret, redirect_uris}], "accounts": {login: claims}}
// Prints "ready" on stdout once it listens on 127.0.0.1:PORT.
import fs from 'node:fs';
import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
const CLAIMS = ['email', 'email_verified', 'name', 'range_role', 'range_team'];

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: config.clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    range: ['range_role', 'range_team'],
  },
  scopes: ['openid', 'email', 'profile', 'range'],
  cookies: { keys: ['range-control-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => false },
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  // No consent screen: the range is a first-party client of the organisers' provider.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile range');
    grant.addOIDCClaims(CLAIMS);
    await grant.save();
    return grant;
  },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
